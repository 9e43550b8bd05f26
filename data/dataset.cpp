// TensorDataset, take and the Keras-style validation split, built on the raw kernels only.
#include "data/dataset.h"

#include <cmath>

#include "tensor/error.h"
#include "tensor/kernels/kernels.h"
#include "tensor/shape.h"

namespace nabla::data {
namespace {

// Dim 0 of a sample tensor; "what" names the argument in the error.
void check_samples(const char* op, const char* what, const Tensor& t) {
  if (!t.defined()) throw error("{}: {} is an undefined tensor", op, what);
  if (t.dim() == 0) throw error("{}: {} is a 0-d tensor; samples are along dim 0", op, what);
}

void check_pair(const char* op, const Tensor& x, const Tensor& y) {
  check_samples(op, "x", x);
  if (!y.defined()) return;
  check_samples(op, "y", y);
  if (x.size(0) != y.size(0)) {
    throw error("{}: x of shape {} and y of shape {} differ in the number of samples (dim 0)", op,
                shape_str(x.shape()), shape_str(y.shape()));
  }
}

Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  if (!t.defined()) return t;
  return kernels::contiguous(kernels::slice(t, 0, begin, end, 1));
}

}  // namespace

TensorDataset::TensorDataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {
  check_pair("TensorDataset", x_, y_);
}

int64_t TensorDataset::size() const { return x_.size(0); }

Batch TensorDataset::get(const std::vector<int64_t>& indices) const {
  const int64_t n = size();
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= n) {
      throw error("TensorDataset::get: index {} at position {} is out of range for {} samples",
                  indices[i], i, n);
    }
  }
  const Tensor index = tensor(indices, {static_cast<int64_t>(indices.size())});
  Batch batch;
  batch.x = kernels::index_select(x_, 0, index);
  if (y_.defined()) batch.y = kernels::index_select(y_, 0, index);
  return batch;
}

Batch take(const Tensor& x, const Tensor& y, int64_t begin, int64_t end) {
  check_pair("take", x, y);
  const int64_t n = x.size(0);
  if (begin < 0 || begin > end || end > n) {
    throw error("take: rows [{}, {}) are not a range within the {} samples of x of shape {}", begin,
                end, n, shape_str(x.shape()));
  }
  return {rows(x, begin, end), rows(y, begin, end)};
}

std::pair<TensorDataset, TensorDataset> split(const Tensor& x, const Tensor& y,
                                              double validation_fraction) {
  check_pair("split", x, y);
  if (!(validation_fraction > 0.0 && validation_fraction < 1.0)) {
    throw error("split: validation_fraction must be in (0, 1), got {}", validation_fraction);
  }
  const int64_t n = x.size(0);
  // NOTE: the very expression Keras uses (floor(n * (1 - fraction))), so both frameworks put
  // the same samples on each side even where the product is not exact.
  const auto split_at =
      static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - validation_fraction)));
  if (split_at <= 0 || split_at >= n) {
    throw error(
        "split: {} samples cannot be split with validation_fraction {}: the {} set would be empty",
        n, validation_fraction, split_at <= 0 ? "training" : "validation");
  }
  Batch train = take(x, y, 0, split_at);
  Batch validation = take(x, y, split_at, n);
  return {TensorDataset(std::move(train.x), std::move(train.y)),
          TensorDataset(std::move(validation.x), std::move(validation.y))};
}

std::pair<TensorDataset, TensorDataset> split(const TensorDataset& dataset,
                                              double validation_fraction) {
  return split(dataset.x(), dataset.y(), validation_fraction);
}

}  // namespace nabla::data
