// The options users write for convolution and pooling windows (`{.stride = {2, 2}, ...}`); the
// geometry that validates them lives with the kernels in tensor/kernels/window.h.
#pragma once

#include <array>
#include <cstdint>

namespace nabla {

// Tensors are NCHW. Users write `{.stride = {2, 2}, .padding = {1, 1, 1, 1}}`.
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 4> padding{0, 0, 0, 0};  // top, bottom, left, right (zeros)
  std::array<int64_t, 2> dilation{1, 1};
};

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{2, 2};
  std::array<int64_t, 4> padding{0, 0, 0, 0};  // top, bottom, left, right (never picked / counted)
};

}  // namespace nabla
