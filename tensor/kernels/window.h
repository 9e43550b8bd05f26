// Window arithmetic shared by the convolution and pooling kernels.
#pragma once

#include <algorithm>
#include <cstdint>

namespace nabla::kernels::detail {

// ceil(a / b) for a >= 0, b > 0.
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Range [lo, hi) of the outputs o in [0, out) whose input position o * stride + offset lies in
// [0, in): a window tap at `offset` from each output's origin reads the input only there, and
// reads padding everywhere else.
struct ValidRange {
  int64_t lo, hi;
};
inline ValidRange valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  const int64_t lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
  const int64_t hi = offset >= in ? 0 : ceil_div(in - offset, stride);
  const int64_t hi_clamped = std::min(hi, out);
  return {std::min(lo, hi_clamped), hi_clamped};
}

}  // namespace nabla::kernels::detail
