// 2-D convolution kernels (forward, input gradient, weight gradient) on raw contiguous NCHW
// buffers, built on im2col/col2im and the GEMM kernel.
#pragma once

#include <cstdint>

namespace nabla::kernels {

// Everything the kernels need to know about one convolution. The caller computes out_h/out_w;
// windows reaching past the bottom/right edge read zeros, so padding after the input is implied
// (as TF 'same' with stride 2 needs). Output element (oh, ow) reads input row
// oh * stride_h - pad_top + kh * dilation_h (and likewise for columns).
struct Conv2dGeometry {
  int64_t batch, in_channels, in_h, in_w;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left;
  int64_t dilation_h, dilation_w;
  int64_t out_h, out_w;
};

// output[n,oc,oh,ow] = bias[oc] + sum_{c,kh,kw} weight[oc,c,kh,kw] * input[n,c,ih,iw].
// input [N,C,H,W], weight [OC,C,KH,KW], bias [OC] or nullptr, output [N,OC,OH,OW].
void conv2d_forward(const Conv2dGeometry& g, const float* input, const float* weight,
                    const float* bias, float* output);
void conv2d_forward(const Conv2dGeometry& g, const double* input, const double* weight,
                    const double* bias, double* output);

// grad_input = d(loss)/d(input) given grad_output [N,OC,OH,OW]; overwrites grad_input [N,C,H,W].
// Input elements no window reads get exactly 0.
void conv2d_backward_input(const Conv2dGeometry& g, const float* grad_output, const float* weight,
                           float* grad_input);
void conv2d_backward_input(const Conv2dGeometry& g, const double* grad_output, const double* weight,
                           double* grad_input);

// grad_weight = sum over the batch of grad_output * input windows; overwrites grad_weight
// [OC,C,KH,KW]. Summed over the batch in a fixed order: bit-identical for any OMP_NUM_THREADS.
void conv2d_backward_weight(const Conv2dGeometry& g, const float* grad_output, const float* input,
                            float* grad_weight);
void conv2d_backward_weight(const Conv2dGeometry& g, const double* grad_output, const double* input,
                            double* grad_weight);

}  // namespace nabla::kernels
