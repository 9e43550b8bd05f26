// Sliding-window geometry shared by convolution and pooling: the options users write, the one
// place that validates them against the input (checked int64 arithmetic) and the window formula.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

#include "tensor/shape.h"
#include "tensor/tensor.h"
#include "tensor/window_options.h"

namespace nabla::kernels {

// Everything the convolution loops need to know. Output element (oh, ow) reads input row
// oh * stride_h - pad_top + kh * dilation_h (and likewise for columns); windows reaching past the
// bottom/right edge read zeros, so the padding after the input is implied by out_h/out_w.
struct Conv2dGeometry {
  int64_t batch, in_channels, in_h, in_w;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left;
  int64_t dilation_h, dilation_w;
  int64_t out_h, out_w;
};

// Window (oh, ow) covers input rows [oh * stride_h - pad_top, + kernel_h) and the matching
// columns; out-of-bounds positions (padding, including the padding after the input implied by
// out_h/out_w) are ignored.
struct Pool2dGeometry {
  int64_t batch, channels, in_h, in_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w;
  int64_t pad_top, pad_left;
  int64_t out_h, out_w;
};

// The validated geometry of conv2d over an input [N,C,H,W] with a weight [OC,C,KH,KW], or an
// error naming conv2d (ranks, positive stride and dilation, non-negative padding, matching
// channels, a non-empty window that fits, no int64 overflow).
Conv2dGeometry conv2d_geometry(const Shape& input, const Shape& weight,
                               const Conv2dOptions& options);
// The validated geometry of a pooling op (named by `op`) over an input [N,C,H,W]: also refuses
// padding as large as the window and an empty spatial extent (windows of padding only).
Pool2dGeometry pool2d_geometry(std::string_view op, const Shape& input,
                               const Pool2dOptions& options);

// Positions of a window sweep over a padded extent, 0 when the window does not fit; overflow
// throws naming `op`. Expects kernel, stride and dilation >= 1.
int64_t window_positions(std::string_view op, int64_t in, int64_t pad_before, int64_t pad_after,
                         int64_t kernel, int64_t stride, int64_t dilation);

// Padding before and after one spatial extent, TensorFlow's "same" rule: the output has
// ceil(in / stride) positions and the total padding is split with the odd one at the end.
std::array<int64_t, 2> same_padding(std::string_view op, int64_t in, int64_t kernel, int64_t stride,
                                    int64_t dilation);

namespace detail {

// Refuses anything but a float32/float64 tensor of rank 4, naming the op and the argument.
void check_floating_4d(std::string_view op, std::string_view what, const Tensor& t);
// Refuses a gradient that is not a float32/float64 tensor of the op's output shape (the loops
// read it as a contiguous buffer of that shape).
void check_output_grad(std::string_view op, const Tensor& grad, const Shape& output_shape);

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

}  // namespace detail
}  // namespace nabla::kernels
