// 2-D max and average pooling kernels (forward and backward) on NCHW tensors. Any layout in;
// float32/float64; contiguous out.
#pragma once

#include <utility>

#include "tensor/kernels/window.h"
#include "tensor/tensor.h"

namespace nabla::kernels {

// input [N,C,H,W] -> (output [N,C,OH,OW], argmax [N,C,OH,OW] int64 holding h * W + w of the
// maximum within its input plane). Ties go to the first maximum in row-major window order; a NaN
// wins (the output is NaN, argmax the first NaN).
std::pair<Tensor, Tensor> max_pool2d_with_argmax(const Tensor& input, const Pool2dOptions& options);

// grad_input [N,C,H,W] (input_shape): zero, then grad [N,C,OH,OW] scattered to argmax.
Tensor max_pool2d_backward(const Tensor& grad, const Tensor& argmax, const Shape& input_shape,
                           const Pool2dOptions& options);

// Mean over the in-bounds elements of each window (padding is not counted, as Keras 'same' and
// PyTorch count_include_pad=false).
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options);

// grad_input [N,C,H,W] (input_shape): each window spreads grad / count over its in-bounds
// elements.
Tensor avg_pool2d_backward(const Tensor& grad, const Shape& input_shape,
                           const Pool2dOptions& options);

}  // namespace nabla::kernels
