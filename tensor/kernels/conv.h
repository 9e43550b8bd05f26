// 2-D convolution kernels on NCHW tensors (forward, input gradient, weight gradient), built on
// the GEMM kernels (implicit GEMMs over padded images, im2col/col2im where those do not pay). Any
// layout in; float32/float64; contiguous out.
#pragma once

#include <utility>

#include "tensor/kernels/window.h"
#include "tensor/tensor.h"

namespace nabla::kernels {

// output[n,oc,oh,ow] = bias[oc] + sum_{c,kh,kw} weight[oc,c,kh,kw] * input[n,c,ih,iw].
// input [N,C,H,W], weight [OC,C,KH,KW], bias [OC] or undefined -> [N,OC,OH,OW], in the promoted
// dtype of input and weight. With relu, unary(Relu) of that, applied in the same output pass.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options, bool relu = false);

// The backward of relu after a convolution, in one pass: (masked, bias_grad) with masked =
// grad where output > 0 else 0 (output: the relu'd result, [N,C,H,W], grad's shape and dtype)
// and, if bias_grad, its sum over N, H, W ([C]; undefined otherwise). Bit-identical for any
// OMP_NUM_THREADS.
std::pair<Tensor, Tensor> conv2d_relu_grad(const Tensor& grad, const Tensor& output,
                                           bool bias_grad);

// (weight_grad, bias_grad) of relu(conv2d(input, weight, bias)) given grad and that output,
// without storing the masked gradient: each image's is formed in scratch just before the
// weight-gradient GEMM reads it. Equal to conv2d_weight_grad(first(conv2d_relu_grad(...)), ...)
// and its bias gradient, bit for bit.
std::pair<Tensor, Tensor> conv2d_relu_weight_grad(const Tensor& grad, const Tensor& output,
                                                  const Tensor& input, const Shape& weight_shape,
                                                  const Conv2dOptions& options, bool bias_grad);

// d(loss)/d(input) [N,C,H,W] (input_shape) given grad [N,OC,OH,OW], in grad's dtype. Input
// elements no window reads get exactly 0.
Tensor conv2d_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                         const Conv2dOptions& options);

// d(loss)/d(weight) [OC,C,KH,KW] (weight_shape): the batch sum of grad * input windows, in grad's
// dtype. Summed in a fixed order: bit-identical for any OMP_NUM_THREADS.
Tensor conv2d_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                          const Conv2dOptions& options);

}  // namespace nabla::kernels
