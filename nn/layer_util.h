// Checks and shape arithmetic shared by the layers (internal to nn/).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/tensor.h"

namespace nabla::nn::detail {

inline void check_float_dtype(const std::string& who, DType dtype) {
  if (!is_floating(dtype)) {
    throw error("{}: dtype must be float32 or float64, got {}", who, dtype_name(dtype));
  }
}

// Layers do not promote silently: a float64 input to float32 weights is a mistake worth naming.
inline void check_input_dtype(const std::string& who, const Tensor& input, DType expected) {
  if (input.dtype() != expected) {
    throw error("{}: input of shape {} has dtype {}, but the layer's weights are {}", who,
                shape_str(input.shape()), dtype_name(input.dtype()), dtype_name(expected));
  }
}

// Padding before and after one spatial extent, TensorFlow's "same" rule: the output has
// ceil(in / stride) positions and the total padding is split with the odd one at the end.
inline std::array<int64_t, 2> same_padding(std::string_view who, int64_t in, int64_t kernel,
                                           int64_t stride, int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t span = checked_add(who, "the dilated window",
                                   checked_mul(who, "the dilated window", kernel - 1, dilation), 1);
  int64_t total =
      checked_add(who, "the padding", checked_mul(who, "the padding", out - 1, stride), span) - in;
  if (total < 0) total = 0;
  return {total / 2, total - total / 2};
}

// Positions of a window sweep over a padded extent (0 when the window does not fit).
inline int64_t window_positions(std::string_view who, int64_t in, int64_t pad_before,
                                int64_t pad_after, int64_t kernel, int64_t stride,
                                int64_t dilation) {
  const int64_t span = checked_add(who, "the dilated window",
                                   checked_mul(who, "the dilated window", kernel - 1, dilation), 1);
  const int64_t padded = checked_add(
      who, "the padded input", checked_add(who, "the padded input", in, pad_before), pad_after);
  if (padded < span) return 0;
  return (padded - span) / stride + 1;
}

}  // namespace nabla::nn::detail
