// Inputs for the kernel tests (tensor/ only): vectors as tensors of their element type, and a
// poisoned allocator block, so that a kernel reading its output before writing it shows up.
#pragma once

#include <type_traits>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/tensor.h"

namespace nabla::testing {

template <typename T>
Tensor as_tensor(const std::vector<T>& values, const Shape& shape) {
  if constexpr (std::is_same_v<T, double>) {
    return nabla::tensor(values, shape, kFloat64);
  } else {
    return nabla::tensor(values, shape);
  }
}

// The caching allocator hands a freed block to the next request of its size: filling one with
// `value` and dropping it makes a kernel's output start as `value`.
template <typename T>
void poison_next_allocation(const Shape& shape, T value) {
  static_cast<void>(nabla::full(shape, static_cast<double>(value), dtype_of<T>()));
}

}  // namespace nabla::testing
