// Convolution and pooling ops on NCHW tensors. Each backward is itself a recorded op built on the
// raw kernels (input-gradient and weight-gradient convolutions, pooling adjoints), so gradients
// of any order are available.
#include "tensor/kernels/conv.h"

#include <algorithm>
#include <tuple>

#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/pool.h"

namespace nabla {

using autograd::Grads;
using autograd::record;

namespace {

// <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(g, x)>: the three ops are each
// other's derivatives.
Tensor conv_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                       const Conv2dOptions& options);
Tensor conv_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                        const Conv2dOptions& options);

Tensor conv_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                       const Conv2dOptions& options) {
  return record("conv2d_input_grad", kernels::conv2d_input_grad(grad, weight, input_shape, options),
                {grad, weight},
                [weight, grad, options](const Tensor& h) -> Grads {
                  return {conv2d(h, weight, Tensor(), options),
                          conv_weight_grad(grad, h, weight.shape(), options)};
                },
                {grad, weight});
}

Tensor conv_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                        const Conv2dOptions& options) {
  return record("conv2d_weight_grad",
                kernels::conv2d_weight_grad(grad, input, weight_shape, options), {grad, input},
                [grad, input, options](const Tensor& h) -> Grads {
                  return {conv2d(input, h, Tensor(), options),
                          conv_input_grad(grad, h, input.shape(), options)};
                },
                {grad, input});
}

// The average's adjoint is linear; its own derivative is the average again.
Tensor avg_pool_adjoint(const Tensor& grad, const Shape& input_shape,
                        const Pool2dOptions& options) {
  return record("avg_pool2d_backward", kernels::avg_pool2d_backward(grad, input_shape, options),
                {grad}, [options](const Tensor& h) -> Grads { return {avg_pool2d(h, options)}; });
}

// Scatters each window's gradient to its argmax; its own derivative gathers at the argmax.
Tensor max_pool_adjoint(const Tensor& grad, const Tensor& argmax, const Shape& input_shape,
                        const Pool2dOptions& options) {
  return record(
      "max_pool2d_backward", kernels::max_pool2d_backward(grad, argmax, input_shape, options),
      {grad}, [argmax, input_shape](const Tensor& h) -> Grads {
        const Shape& out = argmax.shape();
        const Tensor planes =
            reshape(h, {input_shape[0] * input_shape[1], input_shape[2] * input_shape[3]});
        const Tensor index = kernels::reshape(argmax, {out[0] * out[1], out[2] * out[3]});
        return {reshape(gather(planes, 1, index), out)};
      });
}

}  // namespace

// d conv2d = (input_grad(g, w), weight_grad(g, x), sum of g over N, H, W)
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  return record("conv2d", kernels::conv2d(input, weight, bias, options), {input, weight, bias},
                [input, weight, has_bias = bias.defined(), options](
                    const Tensor& grad, const autograd::NeedsGrad& needs) -> Grads {
                  // The first layer's input needs no gradient: skip its col2im GEMM.
                  return {
                      needs[0] ? conv_input_grad(grad, weight, input.shape(), options) : Tensor(),
                      needs[1] ? conv_weight_grad(grad, input, weight.shape(), options) : Tensor(),
                      has_bias ? sum(grad, {0, 2, 3}) : Tensor()};
                },
                {input, weight});
}

// relu(conv2d(input, weight, bias)) with the relu applied in the convolution's output pass.
// d = conv2d's adjoints of m = g * (out > 0) (out > 0 exactly where the pre-activation is), m and
// the bias gradient from one pass of kernels::conv2d_relu_grad in a plain backward; with
// create_graph m is a recorded product, so higher derivatives follow.
Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Conv2dOptions& options) {
  Tensor out = kernels::conv2d(input, weight, bias, options, /*relu=*/true);
  const Tensor saved = autograd::alias_without_graph(out);
  return record(
      "conv2d_relu", out, {input, weight, bias},
      [input, weight, saved, has_bias = bias.defined(), options](
          const Tensor& grad, const autograd::NeedsGrad& needs) -> Grads {
        Tensor masked;
        Tensor bias_grad;
        const bool plain = !autograd::is_grad_enabled() && grad.dtype() == saved.dtype();
        if (plain && !needs[0] && needs[1]) {
          // A first layer: the masked gradient only feeds the weight gradient, image by image.
          Tensor weight_grad;
          std::tie(weight_grad, bias_grad) = kernels::conv2d_relu_weight_grad(
              grad, saved, input, weight.shape(), options, has_bias);
          return {Tensor(), weight_grad, bias_grad};
        }
        if (plain) {
          std::tie(masked, bias_grad) = kernels::conv2d_relu_grad(grad, saved, has_bias);
        } else {
          masked = grad *
                   kernels::binary(kernels::BinaryOp::Gt, saved, kernels::scalar_like(saved, 0.0));
          if (has_bias) bias_grad = sum(masked, {0, 2, 3});
        }
        return {needs[0] ? conv_input_grad(masked, weight, input.shape(), options) : Tensor(),
                needs[1] ? conv_weight_grad(masked, input, weight.shape(), options) : Tensor(),
                bias_grad};
      },
      {input, weight, saved});
}

// The adjoint of conv2d(., weight) is conv_input_grad, already a recorded op differentiable in both
// arguments; the bias adds per output channel.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Conv2dOptions& options, std::array<int64_t, 2> output_padding) {
  if (input.dim() != 4 || weight.dim() != 4) {
    throw error("conv_transpose2d: expected input [N,C,H,W] and weight [C,OC,KH,KW], got {} and {}",
                shape_str(input.shape()), shape_str(weight.shape()));
  }
  if (input.shape()[1] != weight.shape()[0]) {
    throw error(
        "conv_transpose2d: input of shape {} has {} channels but weight of shape {} expects {}",
        shape_str(input.shape()), input.shape()[1], shape_str(weight.shape()), weight.shape()[0]);
  }
  Shape out = {input.shape()[0], weight.shape()[1], 0, 0};
  for (size_t d = 0; d < 2; ++d) {
    const int64_t stride = options.stride[d];
    const int64_t dilation = options.dilation[d];
    if (stride < 1 || dilation < 1) {
      throw error("conv_transpose2d: stride ({}, {}) and dilation ({}, {}) must be positive",
                  options.stride[0], options.stride[1], options.dilation[0], options.dilation[1]);
    }
    if (output_padding[d] < 0 || output_padding[d] >= std::max(stride, dilation)) {
      throw error(
          "conv_transpose2d: output_padding ({}, {}) must be non-negative and smaller than the "
          "stride or the dilation",
          output_padding[0], output_padding[1]);
    }
    const int64_t extent = (input.shape()[d + 2] - 1) * stride - options.padding[2 * d] -
                           options.padding[2 * d + 1] + dilation * (weight.shape()[d + 2] - 1) + 1 +
                           output_padding[d];
    if (extent < 1) {
      throw error("conv_transpose2d: input of shape {} with weight {} gives an empty output",
                  shape_str(input.shape()), shape_str(weight.shape()));
    }
    out[d + 2] = extent;
  }
  Tensor y = conv_input_grad(input, weight, out, options);
  if (bias.defined()) y = y + reshape(bias, {1, out[1], 1, 1});
  return y;
}

// d max_pool2d = the gradient scattered to each window's first maximum
Tensor max_pool2d(const Tensor& input, const Pool2dOptions& options) {
  std::pair<Tensor, Tensor> pooled = kernels::max_pool2d_with_argmax(input, options);
  return record(
      "max_pool2d", pooled.first, {input},
      [argmax = pooled.second, options, shape = input.shape()](const Tensor& grad) -> Grads {
        return {max_pool_adjoint(grad, argmax, shape, options)};
      });
}

// d avg_pool2d = the gradient spread evenly over each window's in-bounds elements
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options) {
  return record("avg_pool2d", kernels::avg_pool2d(input, options), {input},
                [options, shape = input.shape()](const Tensor& grad) -> Grads {
                  return {avg_pool_adjoint(grad, shape, options)};
                });
}

}  // namespace nabla
