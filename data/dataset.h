// Datasets: a sample-indexed source of (x, y) batches, the in-memory TensorDataset, and the
// Keras-style validation split.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace nabla::data {

// A batch of inputs and targets with the samples along dim 0; y is undefined for a dataset
// without targets.
struct Batch {
  Tensor x;
  Tensor y;
};

class Dataset {
 public:
  Dataset() = default;
  virtual ~Dataset() = default;
  Dataset(const Dataset&) = default;
  Dataset& operator=(const Dataset&) = default;
  Dataset(Dataset&&) = default;
  Dataset& operator=(Dataset&&) = default;

  // Number of samples.
  [[nodiscard]] virtual int64_t size() const = 0;
  // The samples at `indices` (each in [0, size())), in that order, as contiguous tensors.
  [[nodiscard]] virtual Batch get(const std::vector<int64_t>& indices) const = 0;
};

// Samples are the rows (dim 0) of x and y. Holds the tensors by handle: no copy is made.
class TensorDataset : public Dataset {
 public:
  // Throws unless x has at least one dim and y, when defined, has the same extent along dim 0.
  explicit TensorDataset(Tensor x, Tensor y = Tensor());

  [[nodiscard]] int64_t size() const override;
  [[nodiscard]] Batch get(const std::vector<int64_t>& indices) const override;

  [[nodiscard]] const Tensor& x() const { return x_; }
  [[nodiscard]] const Tensor& y() const { return y_; }

 private:
  Tensor x_;
  Tensor y_;
};

// Rows [begin, end) of x and y (y may be undefined). The result shares storage with the
// inputs when they are contiguous (a view along dim 0), and is contiguous either way.
[[nodiscard]] Batch take(const Tensor& x, const Tensor& y, int64_t begin, int64_t end);

// Keras' validation_split: the LAST fraction of the samples, taken before any shuffling, becomes
// the validation set; the first floor(n * (1 - fraction)) samples are the training set. Throws
// unless 0 < fraction < 1 and both parts are non-empty. The parts are views of the inputs.
[[nodiscard]] std::pair<TensorDataset, TensorDataset> split(const TensorDataset& dataset,
                                                            double validation_fraction);
[[nodiscard]] std::pair<TensorDataset, TensorDataset> split(const Tensor& x, const Tensor& y,
                                                            double validation_fraction);

}  // namespace nabla::data
