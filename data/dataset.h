// Datasets: a sample-indexed source of (x, y) batches, the in-memory TensorDataset (one or several
// input and target tensors), and the Keras-style validation split.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace nabla::data {

// A batch of inputs and targets with the samples along dim 0; y is undefined for a dataset
// without targets. A dataset of several inputs or targets (Keras's fit(x=[a, b], y=[c, d])) also
// fills xs and ys with all of them, in order (x is xs[0], y is ys[0]); TensorDataset fills them
// for a single x and y too. inputs() and targets() read either form.
struct Batch {
  Tensor x;
  Tensor y;
  std::vector<Tensor> xs = {};
  std::vector<Tensor> ys = {};

  // xs, or {x} when only x is set.
  [[nodiscard]] std::vector<Tensor> inputs() const;
  // ys, or {y} when only y is set, or {} without targets.
  [[nodiscard]] std::vector<Tensor> targets() const;
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

// Samples are the rows (dim 0) of x and y, or of every tensor of xs and ys. Holds the tensors by
// handle: no copy is made.
class TensorDataset : public Dataset {
 public:
  // Throws unless x has at least one dim and y, when defined, has the same extent along dim 0.
  explicit TensorDataset(Tensor x, Tensor y = Tensor());
  // Several inputs and targets: throws unless xs is not empty and every tensor is defined, has a
  // dim 0 and has as many samples as xs[0] (the error names the tensor, as x[i] or y[i], and
  // both shapes). ys may be empty (no targets).
  explicit TensorDataset(std::vector<Tensor> xs, std::vector<Tensor> ys = {});

  [[nodiscard]] int64_t size() const override;
  // Fills x, y and xs, ys (see Batch).
  [[nodiscard]] Batch get(const std::vector<int64_t>& indices) const override;

  // The first input and target (y undefined without targets).
  [[nodiscard]] const Tensor& x() const { return xs_.front(); }
  [[nodiscard]] const Tensor& y() const;
  [[nodiscard]] const std::vector<Tensor>& xs() const { return xs_; }
  [[nodiscard]] const std::vector<Tensor>& ys() const { return ys_; }

 private:
  std::vector<Tensor> xs_;
  std::vector<Tensor> ys_;
};

// Rows [begin, end) of x and y (y may be undefined). The result shares storage with the
// inputs when they are contiguous (a view along dim 0), and is contiguous either way.
[[nodiscard]] Batch take(const Tensor& x, const Tensor& y, int64_t begin, int64_t end);
// Rows [begin, end) of every tensor of xs and ys (as TensorDataset checks them), filling x, y,
// xs and ys.
[[nodiscard]] Batch take(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                         int64_t begin, int64_t end);

// Keras' validation_split: the LAST fraction of the samples, taken before any shuffling, becomes
// the validation set; the first floor(n * (1 - fraction)) samples are the training set. Throws
// unless 0 < fraction < 1 and both parts are non-empty. The parts are views of the inputs. A
// dataset of several tensors is split at the same row in every one of them.
[[nodiscard]] std::pair<TensorDataset, TensorDataset> split(const TensorDataset& dataset,
                                                            double validation_fraction);
[[nodiscard]] std::pair<TensorDataset, TensorDataset> split(const Tensor& x, const Tensor& y,
                                                            double validation_fraction);

}  // namespace nabla::data
