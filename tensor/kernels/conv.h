// 2-D convolution kernels on NCHW tensors (forward, input gradient, weight gradient), built on
// the GEMM kernels (implicit GEMMs over padded images, im2col/col2im where those do not pay). Any
// layout in; float32/float64; contiguous out.
#pragma once

#include "tensor/kernels/window.h"
#include "tensor/tensor.h"

namespace nabla::kernels {

// output[n,oc,oh,ow] = bias[oc] + sum_{c,kh,kw} weight[oc,c,kh,kw] * input[n,c,ih,iw].
// input [N,C,H,W], weight [OC,C,KH,KW], bias [OC] or undefined -> [N,OC,OH,OW], in the promoted
// dtype of input and weight.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options);

// d(loss)/d(input) [N,C,H,W] (input_shape) given grad [N,OC,OH,OW], in grad's dtype. Input
// elements no window reads get exactly 0.
Tensor conv2d_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                         const Conv2dOptions& options);

// d(loss)/d(weight) [OC,C,KH,KW] (weight_shape): the batch sum of grad * input windows, in grad's
// dtype. Summed in a fixed order: bit-identical for any OMP_NUM_THREADS.
Tensor conv2d_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                          const Conv2dOptions& options);

}  // namespace nabla::kernels
