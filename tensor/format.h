// fmt support for tensors, shapes and dtypes: `fmt::print("{}", t)` prints like PyTorch.
#pragma once

#include <fmt/format.h>

#include "tensor/tensor.h"

template <>
struct fmt::formatter<nabla::Tensor> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const nabla::Tensor& t, FormatContext& ctx) const {
    const std::string text = t.to_string();
    return fmt::formatter<std::string_view>::format(text, ctx);
  }
};

template <>
struct fmt::formatter<nabla::DType> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(nabla::DType dtype, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(nabla::dtype_name(dtype), ctx);
  }
};
