// One-hot encoding, normalization and image reshapes over the raw kernels (no autograd: data
// preprocessing never needs gradients).
#include "data/transforms.h"

#include <cmath>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/kernels/kernels.h"
#include "tensor/shape.h"

namespace nabla::data {
namespace {

// "[2, 5]" for the element at flat row-major position `flat` of a tensor of `shape`.
std::string multi_index(int64_t flat, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(index);
}

}  // namespace

Tensor to_categorical(const Tensor& labels, int64_t num_classes, DType dtype) {
  if (!labels.defined()) throw error("to_categorical: labels is an undefined tensor");
  if (labels.dtype() != kInt64) {
    throw error("to_categorical: labels must be int64 class indices, got {} of shape {}",
                dtype_name(labels.dtype()), shape_str(labels.shape()));
  }
  if (num_classes <= 0) {
    throw error("to_categorical: num_classes must be positive, got {}", num_classes);
  }
  const Tensor flat = kernels::contiguous(labels);
  const int64_t* values = flat.data_ptr<int64_t>();
  for (int64_t i = 0; i < flat.numel(); ++i) {
    if (values[i] < 0 || values[i] >= num_classes) {
      throw error(
          "to_categorical: label {} at index {} of labels of shape {} is out of range [0, {})",
          values[i], multi_index(i, labels.shape()), shape_str(labels.shape()), num_classes);
    }
  }
  // As in Keras, a trailing dim of 1 ([N, 1] column labels) is replaced, not kept: [N, classes].
  Tensor indices = flat;
  if (labels.dim() > 1 && labels.shape().back() == 1) indices = kernels::squeeze(flat, -1);
  return kernels::one_hot(indices, num_classes, dtype);
}

Tensor normalize(const Tensor& x, double mean, double stddev) {
  if (!x.defined()) throw error("normalize: x is an undefined tensor");
  if (!x.is_floating_point()) {
    throw error("normalize: x must be float32 or float64, got {} of shape {}",
                dtype_name(x.dtype()), shape_str(x.shape()));
  }
  if (!(stddev > 0.0) || !std::isfinite(stddev) || !std::isfinite(mean)) {
    throw error(
        "normalize: mean must be finite and stddev positive and finite, got mean {} stddev {}",
        mean, stddev);
  }
  const Tensor centered = kernels::binary(kernels::BinaryOp::Sub, x, kernels::scalar_like(x, mean));
  return kernels::binary(kernels::BinaryOp::Div, centered, kernels::scalar_like(x, stddev));
}

std::pair<double, double> mean_std(const Tensor& x) {
  if (!x.defined()) throw error("mean_std: x is an undefined tensor");
  if (x.numel() == 0) {
    throw error("mean_std: x of shape {} has no elements", shape_str(x.shape()));
  }
  const Tensor flat = kernels::contiguous(x);
  const int64_t n = flat.numel();
  // Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - E[x]^2.
  return visit_dtype(flat.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* values = flat.data_ptr<T>();
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(values[i]);
    const double mean = sum / static_cast<double>(n);
    double squares = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double deviation = static_cast<double>(values[i]) - mean;
      squares += deviation * deviation;
    }
    return std::pair<double, double>(mean, std::sqrt(squares / static_cast<double>(n)));
  });
}

Tensor flatten_images(const Tensor& images) {
  if (!images.defined()) throw error("flatten_images: images is an undefined tensor");
  if (images.dim() < 2) {
    throw error("flatten_images: expected [N, ...] with at least 2 dims, got shape {}",
                shape_str(images.shape()));
  }
  const Shape& shape = images.shape();
  int64_t features = 1;
  for (size_t d = 1; d < shape.size(); ++d) features *= shape[d];
  // NOTE: explicit extents, not -1: with N == 0 the -1 could not be inferred.
  return kernels::reshape(images, {shape[0], features});
}

Tensor add_channel_dim(const Tensor& images) {
  if (!images.defined()) throw error("add_channel_dim: images is an undefined tensor");
  if (images.dim() != 3) {
    throw error("add_channel_dim: expected images of shape [N, H, W], got shape {}",
                shape_str(images.shape()));
  }
  return kernels::unsqueeze(images, 1);
}

}  // namespace nabla::data
