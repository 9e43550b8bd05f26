// Tensor-in, tensor-out preprocessing for image classification: one-hot targets, normalization
// and the reshapes between [N, H, W] images and what Dense / Conv2D layers take.
#pragma once

#include <cstdint>
#include <utility>

#include "tensor/tensor.h"

namespace nabla::data {

// Keras' to_categorical: int64 labels of shape S (or S + [1]) in [0, num_classes) become
// one-hot rows of shape S + [num_classes]. Throws naming the position of a label out of range.
[[nodiscard]] Tensor to_categorical(const Tensor& labels, int64_t num_classes,
                                    DType dtype = kFloat32);

// (x - mean) / stddev elementwise, in x's floating dtype; stddev must be positive and finite.
[[nodiscard]] Tensor normalize(const Tensor& x, double mean, double stddev);

// Mean and population standard deviation (NumPy's x.mean(), x.std()) over every element,
// accumulated in double.
[[nodiscard]] std::pair<double, double> mean_std(const Tensor& x);

// [N, d1, d2, ...] -> [N, d1 * d2 * ...], e.g. [N, 28, 28] images -> [N, 784] for Dense layers.
// A view when x is contiguous.
[[nodiscard]] Tensor flatten_images(const Tensor& images);

// [N, H, W] -> [N, 1, H, W]: a single channel for NCHW Conv2D. Always a view.
[[nodiscard]] Tensor add_channel_dim(const Tensor& images);

}  // namespace nabla::data
