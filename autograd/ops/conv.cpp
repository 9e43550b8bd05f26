// Convolution and pooling ops on NCHW tensors. Each backward is itself a recorded op built on the
// raw kernels (input-gradient and weight-gradient convolutions, pooling adjoints), so gradients
// of any order are available.
#include "tensor/kernels/conv.h"

#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/pool.h"

namespace nabla {

using autograd::Grads;
using autograd::record;

namespace {

void check_floating_4d(std::string_view op, std::string_view what, const Tensor& t) {
  if (t.dim() != 4) {
    throw error("{}: {} must be 4-D (N, C, H, W), got shape {}", op, what, shape_str(t.shape()));
  }
  if (!t.is_floating_point()) {
    throw error("{}: {} must be float32 or float64, got {}", op, what, dtype_name(t.dtype()));
  }
}

// Output extent of a window sweep, or an error naming the op when nothing fits.
int64_t window_count(std::string_view op, int64_t extent, int64_t pad_before, int64_t pad_after,
                     int64_t kernel, int64_t stride, int64_t dilation) {
  if (kernel < 1) {
    throw error("{}: the window must not be empty, got a kernel extent of {}", op, kernel);
  }
  const int64_t span = checked_add(op, "the dilated window",
                                   checked_mul(op, "the dilated window", dilation, kernel - 1), 1);
  const int64_t padded = checked_add(
      op, "the padded input", checked_add(op, "the padded input", extent, pad_before), pad_after);
  if (padded < span) {
    throw error("{}: window of extent {} does not fit input extent {} with padding {}+{}", op, span,
                extent, pad_before, pad_after);
  }
  return (padded - span) / stride + 1;
}

void check_positive(std::string_view op, std::string_view what, const std::array<int64_t, 2>& v) {
  if (v[0] < 1 || v[1] < 1) {
    throw error("{}: {} must be positive, got [{}, {}]", op, what, v[0], v[1]);
  }
}

void check_padding(std::string_view op, const std::array<int64_t, 4>& p) {
  for (const int64_t v : p) {
    if (v < 0) {
      throw error("{}: padding must be non-negative, got [{}, {}, {}, {}]", op, p[0], p[1], p[2],
                  p[3]);
    }
  }
}

kernels::Conv2dGeometry conv_geometry(const Shape& input, const Shape& weight,
                                      const Conv2dOptions& o) {
  kernels::Conv2dGeometry g{};
  g.batch = input[0];
  g.in_channels = input[1];
  g.in_h = input[2];
  g.in_w = input[3];
  g.out_channels = weight[0];
  g.kernel_h = weight[2];
  g.kernel_w = weight[3];
  g.stride_h = o.stride[0];
  g.stride_w = o.stride[1];
  g.pad_top = o.padding[0];
  g.pad_left = o.padding[2];
  g.dilation_h = o.dilation[0];
  g.dilation_w = o.dilation[1];
  g.out_h = window_count("conv2d", g.in_h, o.padding[0], o.padding[1], g.kernel_h, g.stride_h,
                         g.dilation_h);
  g.out_w = window_count("conv2d", g.in_w, o.padding[2], o.padding[3], g.kernel_w, g.stride_w,
                         g.dilation_w);
  return g;
}

// <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(g, x)>: the three ops are each
// other's derivatives.
Tensor conv_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                       const Conv2dOptions& options);
Tensor conv_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                        const Conv2dOptions& options);

Tensor conv_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                       const Conv2dOptions& options) {
  const auto g = conv_geometry(input_shape, weight.shape(), options);
  const Tensor grad_c = kernels::contiguous(grad);
  const Tensor weight_c = kernels::contiguous(kernels::to_dtype(weight, grad.dtype()));
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::conv2d_backward_input(g, grad_c.data_ptr<T>(), weight_c.data_ptr<T>(),
                                   out.data_ptr<T>());
  });
  return record("conv2d_input_grad", out, {grad, weight},
                [weight, grad, options, input_shape](const Tensor& h) -> Grads {
                  return {conv2d(h, weight, Tensor(), options),
                          conv_weight_grad(grad, h, weight.shape(), options)};
                },
                {grad, weight});
}

Tensor conv_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                        const Conv2dOptions& options) {
  const auto g = conv_geometry(input.shape(), weight_shape, options);
  const Tensor grad_c = kernels::contiguous(grad);
  const Tensor input_c = kernels::contiguous(kernels::to_dtype(input, grad.dtype()));
  Tensor out = Tensor::empty(weight_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::conv2d_backward_weight(g, grad_c.data_ptr<T>(), input_c.data_ptr<T>(),
                                    out.data_ptr<T>());
  });
  return record("conv2d_weight_grad", out, {grad, input},
                [grad, input, options](const Tensor& h) -> Grads {
                  return {conv2d(input, h, Tensor(), options),
                          conv_input_grad(grad, h, input.shape(), options)};
                },
                {grad, input});
}

kernels::Pool2dGeometry pool_geometry(std::string_view op, const Shape& input,
                                      const Pool2dOptions& o) {
  check_positive(op, "kernel size", o.kernel);
  check_positive(op, "stride", o.stride);
  check_padding(op, o.padding);
  if (o.padding[0] >= o.kernel[0] || o.padding[1] >= o.kernel[0] || o.padding[2] >= o.kernel[1] ||
      o.padding[3] >= o.kernel[1]) {
    throw error("{}: padding [{}, {}, {}, {}] must be smaller than the window [{}, {}]", op,
                o.padding[0], o.padding[1], o.padding[2], o.padding[3], o.kernel[0], o.kernel[1]);
  }
  // With padding smaller than the window, only an empty input has windows wholly in padding
  // (max would be -inf, the average 0/0): refused, as PyTorch does.
  if (input[2] == 0 || input[3] == 0) {
    throw error("{}: input of shape {} has an empty spatial dim; every window would lie in padding",
                op, shape_str(input));
  }
  kernels::Pool2dGeometry g{};
  g.batch = input[0];
  g.channels = input[1];
  g.in_h = input[2];
  g.in_w = input[3];
  g.kernel_h = o.kernel[0];
  g.kernel_w = o.kernel[1];
  g.stride_h = o.stride[0];
  g.stride_w = o.stride[1];
  g.pad_top = o.padding[0];
  g.pad_left = o.padding[2];
  g.out_h = window_count(op, g.in_h, o.padding[0], o.padding[1], g.kernel_h, g.stride_h, 1);
  g.out_w = window_count(op, g.in_w, o.padding[2], o.padding[3], g.kernel_w, g.stride_w, 1);
  return g;
}

Tensor avg_pool_adjoint(const Tensor& grad, const Shape& input_shape,
                        const Pool2dOptions& options) {
  const auto g = pool_geometry("avg_pool2d", input_shape, options);
  const Tensor grad_c = kernels::contiguous(grad);
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::avg_pool2d_backward(g, grad_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return record("avg_pool2d_backward", out, {grad},
                [options](const Tensor& h) -> Grads { return {avg_pool2d(h, options)}; });
}

// Scatters each window's gradient to its argmax; its own derivative gathers at the argmax.
Tensor max_pool_adjoint(const Tensor& grad, const Tensor& argmax, const Shape& input_shape,
                        const kernels::Pool2dGeometry& g) {
  const Tensor grad_c = kernels::contiguous(grad);
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::max_pool2d_backward(g, grad_c.data_ptr<T>(), argmax.data_ptr<int64_t>(),
                                 out.data_ptr<T>());
  });
  return record(
      "max_pool2d_backward", out, {grad}, [argmax, g, input_shape](const Tensor& h) -> Grads {
        const Tensor planes = reshape(h, {g.batch * g.channels, g.in_h * g.in_w});
        const Tensor index = kernels::reshape(argmax, {g.batch * g.channels, g.out_h * g.out_w});
        return {reshape(gather(planes, 1, index), {g.batch, g.channels, g.out_h, g.out_w})};
      });
}

}  // namespace

// d conv2d = (input_grad(g, w), weight_grad(g, x), sum of g over N, H, W)
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  check_floating_4d("conv2d", "input", input);
  check_floating_4d("conv2d", "weight", weight);
  check_positive("conv2d", "stride", options.stride);
  check_positive("conv2d", "dilation", options.dilation);
  check_padding("conv2d", options.padding);
  if (input.size(1) != weight.size(1)) {
    throw error("conv2d: input of shape {} has {} channels, weight of shape {} expects {}",
                shape_str(input.shape()), input.size(1), shape_str(weight.shape()), weight.size(1));
  }
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    throw error("conv2d: bias of shape {} does not match {} output channels",
                shape_str(bias.shape()), weight.size(0));
  }
  const DType dtype = promote_types(input.dtype(), weight.dtype());
  const auto g = conv_geometry(input.shape(), weight.shape(), options);
  const Tensor input_c = kernels::contiguous(kernels::to_dtype(input, dtype));
  const Tensor weight_c = kernels::contiguous(kernels::to_dtype(weight, dtype));
  const Tensor bias_c =
      bias.defined() ? kernels::contiguous(kernels::to_dtype(bias, dtype)) : Tensor();
  Tensor out = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, dtype);
  visit_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    kernels::conv2d_forward(g, input_c.data_ptr<T>(), weight_c.data_ptr<T>(),
                            bias_c.defined() ? bias_c.data_ptr<T>() : nullptr, out.data_ptr<T>());
  });
  return record("conv2d", out, {input, weight, bias},
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

Tensor max_pool2d(const Tensor& input, const Pool2dOptions& options) {
  check_floating_4d("max_pool2d", "input", input);
  const auto g = pool_geometry("max_pool2d", input.shape(), options);
  const Tensor input_c = kernels::contiguous(input);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, input.dtype());
  Tensor argmax = Tensor::empty(out.shape(), kInt64);
  visit_floating(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::max_pool2d_forward(g, input_c.data_ptr<T>(), out.data_ptr<T>(),
                                argmax.data_ptr<int64_t>());
  });
  return record("max_pool2d", out, {input},
                [argmax, g, shape = input.shape()](const Tensor& grad) -> Grads {
                  return {max_pool_adjoint(grad, argmax, shape, g)};
                });
}

Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options) {
  check_floating_4d("avg_pool2d", "input", input);
  const auto g = pool_geometry("avg_pool2d", input.shape(), options);
  const Tensor input_c = kernels::contiguous(input);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, input.dtype());
  visit_floating(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::avg_pool2d_forward(g, input_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return record("avg_pool2d", out, {input},
                [options, shape = input.shape()](const Tensor& grad) -> Grads {
                  return {avg_pool_adjoint(grad, shape, options)};
                });
}

}  // namespace nabla
