// Checks and summary-table helpers shared by the layers and models (internal to nn/); window
// arithmetic is in tensor/kernels/window.h.
#pragma once

#include <string>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace nabla::nn::detail {

inline void check_float_dtype(const std::string& who, DType dtype) {
  if (!is_floating(dtype)) {
    throw error("{}: dtype must be float32 or float64, got {}", who, dtype_name(dtype));
  }
}

// For the layers without weights, which take either floating dtype.
inline void check_floating_input(const std::string& who, const Tensor& input) {
  if (!input.is_floating_point()) {
    throw error("{}: input must be float32 or float64, got {}", who, dtype_name(input.dtype()));
  }
}

// Layers do not promote silently: a float64 input to float32 weights is a mistake worth naming.
inline void check_input_dtype(const std::string& who, const Tensor& input, DType expected) {
  if (input.dtype() != expected) {
    throw error("{}: input of shape {} has dtype {}, but the layer's weights are {}", who,
                shape_str(input.shape()), dtype_name(input.dtype()), dtype_name(expected));
  }
}

// "(None, 32, 148, 148)": Keras's spelling of a shape whose batch dim is free.
inline std::string keras_shape(const Shape& shape) {
  if (shape.empty()) return "()";
  std::string out = "(None";
  for (size_t d = 1; d < shape.size(); ++d) out += ", " + std::to_string(shape[d]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

inline std::string pad_right(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

// The last lines of a summary: total, trainable and non-trainable counts, then the closing rule.
std::string summary_totals(const Module& model, size_t line_length);

}  // namespace nabla::nn::detail
