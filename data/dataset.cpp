// TensorDataset, take and the Keras-style validation split, built on the raw kernels only.
#include "data/dataset.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

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

// Every tensor of xs and ys against xs[0]; names them "x[i]" and "y[i]".
void check_all(const char* op, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  if (xs.empty()) throw error("{}: no input tensors (xs is empty)", op);
  const auto check = [&](const char* group, size_t i, const Tensor& t) {
    const std::string what = fmt::format("{}[{}]", group, i);
    check_samples(op, what.c_str(), t);
    if (t.size(0) != xs.front().size(0)) {
      throw error(
          "{}: {} of shape {} and x[0] of shape {} differ in the number of samples (dim 0: {} vs "
          "{})",
          op, what, shape_str(t.shape()), shape_str(xs.front().shape()), t.size(0),
          xs.front().size(0));
    }
  };
  for (size_t i = 0; i < xs.size(); ++i) check("x", i, xs[i]);
  for (size_t i = 0; i < ys.size(); ++i) check("y", i, ys[i]);
}

Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  if (!t.defined()) return t;
  return kernels::contiguous(kernels::slice(t, 0, begin, end, 1));
}

// x and y beside xs and ys.
Batch batch_of(std::vector<Tensor> xs, std::vector<Tensor> ys) {
  Batch batch;
  batch.x = xs.front();
  if (!ys.empty()) batch.y = ys.front();
  batch.xs = std::move(xs);
  batch.ys = std::move(ys);
  return batch;
}

// The first validation row of n samples.
int64_t split_point(int64_t n, double validation_fraction) {
  if (!(validation_fraction > 0.0 && validation_fraction < 1.0)) {
    throw error("split: validation_fraction must be in (0, 1), got {}", validation_fraction);
  }
  // NOTE: the very expression Keras uses (floor(n * (1 - fraction))), so both frameworks put
  // the same samples on each side even where the product is not exact.
  const auto split_at =
      static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - validation_fraction)));
  if (split_at <= 0 || split_at >= n) {
    throw error(
        "split: {} samples cannot be split with validation_fraction {}: the {} set would be empty",
        n, validation_fraction, split_at <= 0 ? "training" : "validation");
  }
  return split_at;
}

}  // namespace

std::vector<Tensor> Batch::inputs() const { return xs.empty() ? std::vector<Tensor>{x} : xs; }

std::vector<Tensor> Batch::targets() const {
  if (!ys.empty()) return ys;
  return y.defined() ? std::vector<Tensor>{y} : std::vector<Tensor>{};
}

TensorDataset::TensorDataset(Tensor x, Tensor y) {
  check_pair("TensorDataset", x, y);
  xs_.push_back(std::move(x));
  if (y.defined()) ys_.push_back(std::move(y));
}

TensorDataset::TensorDataset(std::vector<Tensor> xs, std::vector<Tensor> ys)
    : xs_(std::move(xs)), ys_(std::move(ys)) {
  check_all("TensorDataset", xs_, ys_);
}

const Tensor& TensorDataset::y() const {
  static const Tensor kNone;
  return ys_.empty() ? kNone : ys_.front();
}

int64_t TensorDataset::size() const { return xs_.front().size(0); }

Batch TensorDataset::get(const std::vector<int64_t>& indices) const {
  const int64_t n = size();
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= n) {
      throw error("TensorDataset::get: index {} at position {} is out of range for {} samples",
                  indices[i], i, n);
    }
  }
  const Tensor index = tensor(indices, {static_cast<int64_t>(indices.size())});
  std::vector<Tensor> xs;
  std::vector<Tensor> ys;
  xs.reserve(xs_.size());
  ys.reserve(ys_.size());
  for (const Tensor& t : xs_) xs.push_back(kernels::index_select(t, 0, index));
  for (const Tensor& t : ys_) ys.push_back(kernels::index_select(t, 0, index));
  return batch_of(std::move(xs), std::move(ys));
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

Batch take(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys, int64_t begin,
           int64_t end) {
  check_all("take", xs, ys);
  const int64_t n = xs.front().size(0);
  if (begin < 0 || begin > end || end > n) {
    throw error("take: rows [{}, {}) are not a range within the {} samples of x[0] of shape {}",
                begin, end, n, shape_str(xs.front().shape()));
  }
  std::vector<Tensor> x_rows;
  std::vector<Tensor> y_rows;
  x_rows.reserve(xs.size());
  y_rows.reserve(ys.size());
  for (const Tensor& t : xs) x_rows.push_back(rows(t, begin, end));
  for (const Tensor& t : ys) y_rows.push_back(rows(t, begin, end));
  return batch_of(std::move(x_rows), std::move(y_rows));
}

std::pair<TensorDataset, TensorDataset> split(const Tensor& x, const Tensor& y,
                                              double validation_fraction) {
  check_pair("split", x, y);
  const int64_t n = x.size(0);
  const int64_t split_at = split_point(n, validation_fraction);
  Batch train = take(x, y, 0, split_at);
  Batch validation = take(x, y, split_at, n);
  return {TensorDataset(std::move(train.x), std::move(train.y)),
          TensorDataset(std::move(validation.x), std::move(validation.y))};
}

std::pair<TensorDataset, TensorDataset> split(const TensorDataset& dataset,
                                              double validation_fraction) {
  if (dataset.xs().size() == 1 && dataset.ys().size() <= 1) {
    return split(dataset.x(), dataset.y(), validation_fraction);
  }
  const int64_t n = dataset.size();
  const int64_t split_at = split_point(n, validation_fraction);
  Batch train = take(dataset.xs(), dataset.ys(), 0, split_at);
  Batch validation = take(dataset.xs(), dataset.ys(), split_at, n);
  return {TensorDataset(std::move(train.xs), std::move(train.ys)),
          TensorDataset(std::move(validation.xs), std::move(validation.ys))};
}

}  // namespace nabla::data
