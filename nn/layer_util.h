// Checks shared by the layers (internal to nn/); window arithmetic is in tensor/kernels/window.h.
#pragma once

#include <string>

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

}  // namespace nabla::nn::detail
