// 2-D max and average pooling kernels (forward and backward) on raw contiguous NCHW buffers.
#pragma once

#include <cstdint>

namespace nabla::kernels {

// Window (oh, ow) covers input rows [oh * stride_h - pad_top, + kernel_h) and the matching
// columns; out-of-bounds positions (padding, including the padding after the input implied by
// out_h/out_w) are ignored.
struct Pool2dGeometry {
  int64_t batch, channels, in_h, in_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w;
  int64_t pad_top, pad_left;
  int64_t out_h, out_w;
};

// input [N,C,H,W] -> output [N,C,OH,OW]; argmax [N,C,OH,OW] holds h * in_w + w of the maximum
// within its input plane. Ties go to the first maximum in row-major window order; a NaN wins
// (the output is NaN, argmax the first NaN). A window lying entirely in padding gives -inf and
// argmax -1.
void max_pool2d_forward(const Pool2dGeometry& g, const float* input, float* output,
                        int64_t* argmax);
void max_pool2d_forward(const Pool2dGeometry& g, const double* input, double* output,
                        int64_t* argmax);

// Overwrites grad_input [N,C,H,W]: zero, then grad_output scattered to argmax (-1 is skipped).
void max_pool2d_backward(const Pool2dGeometry& g, const float* grad_output, const int64_t* argmax,
                         float* grad_input);
void max_pool2d_backward(const Pool2dGeometry& g, const double* grad_output, const int64_t* argmax,
                         double* grad_input);

// Mean over the in-bounds elements of each window (padding is not counted, as Keras 'same' and
// PyTorch count_include_pad=false). A window entirely in padding gives 0.
void avg_pool2d_forward(const Pool2dGeometry& g, const float* input, float* output);
void avg_pool2d_forward(const Pool2dGeometry& g, const double* input, double* output);

// Overwrites grad_input [N,C,H,W]: each window spreads grad / count over its in-bounds elements.
void avg_pool2d_backward(const Pool2dGeometry& g, const float* grad_output, float* grad_input);
void avg_pool2d_backward(const Pool2dGeometry& g, const double* grad_output, double* grad_input);

}  // namespace nabla::kernels
