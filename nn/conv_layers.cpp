// Conv2D, MaxPooling2D and AveragePooling2D: Keras options turned into the conv2d/pool2d ops'.
#include "nn/conv_layers.h"

#include "nn/activations.h"
#include "nn/init.h"
#include "nn/layer_util.h"
#include "tensor/kernels/window.h"

namespace nabla::nn {
namespace {

void check_padding_mode(const std::string& who, const std::string& padding) {
  if (padding != "valid" && padding != "same") {
    throw error(R"({}: padding must be "valid" or "same", got "{}")", who, padding);
  }
}

void check_positive(const std::string& who, const std::string& what, const Size2& v) {
  if (v[0] < 1 || v[1] < 1) {
    throw error("{}: {} must be positive, got ({}, {})", who, what, v[0], v[1]);
  }
}

void check_image_rank(const std::string& who, const Shape& shape) {
  if (shape.size() != 4) {
    throw error("{}: expected an NCHW input [N, C, H, W], got shape {}", who, shape_str(shape));
  }
}

// {top, bottom, left, right} for a "valid" or "same" sweep over the input's H and W.
std::array<int64_t, 4> padding_for(const std::string& who, const std::string& mode,
                                   const Shape& input_shape, const Size2& kernel,
                                   const Size2& strides, const Size2& dilation) {
  if (mode == "valid") return {0, 0, 0, 0};
  const auto h = kernels::same_padding(who, input_shape[2], kernel[0], strides[0], dilation[0]);
  const auto w = kernels::same_padding(who, input_shape[3], kernel[1], strides[1], dilation[1]);
  return {h[0], h[1], w[0], w[1]};
}

// The output extent, or an error naming the layer when the window does not fit.
int64_t output_extent(const std::string& who, const Shape& input_shape, int64_t dim,
                      const std::array<int64_t, 4>& padding, int64_t kernel, int64_t stride,
                      int64_t dilation) {
  const size_t i = dim == 2 ? 0 : 2;
  const int64_t positions =
      kernels::window_positions(who, input_shape[static_cast<size_t>(dim)], padding[i],
                                padding[i + 1], kernel, stride, dilation);
  if (positions < 1) {
    throw error("{}: input of shape {} is too small for a {} window of extent {} (dilation {})",
                who, shape_str(input_shape), dim == 2 ? "height" : "width", kernel, dilation);
  }
  return positions;
}

}  // namespace

// ---- Conv2D ----

Conv2D::Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options)
    : filters_(filters), kernel_size_(kernel_size), options_(std::move(options)) {
  if (filters_ < 1) throw error("Conv2D: filters must be positive, got {}", filters_);
  check_positive("Conv2D", "kernel_size", kernel_size_);
  check_positive("Conv2D", "strides", options_.strides);
  check_positive("Conv2D", "dilation_rate", options_.dilation_rate);
  check_padding_mode("Conv2D", options_.padding);
  check_activation("Conv2D", options_.activation);
  init::check_known("Conv2D: kernel_initializer", options_.kernel_initializer);
  init::check_known("Conv2D: bias_initializer", options_.bias_initializer);
  detail::check_float_dtype("Conv2D", options_.dtype);
  set_name(unique_layer_name("Conv2D"));
  if (options_.input_shape) {
    const Shape& shape = *options_.input_shape;
    bool positive = shape.size() == 3;
    for (const int64_t extent : shape) positive = positive && extent >= 1;
    if (!positive) {
      throw error(
          "Conv2D: input_shape must be {{channels, height, width}} with positive extents, got {}",
          shape_str(shape));
    }
    if (options_.input_channels && *options_.input_channels != shape[0]) {
      throw error("Conv2D: input_channels {} disagrees with input_shape {} (NCHW: {} channels)",
                  *options_.input_channels, shape_str(shape), shape[0]);
    }
    options_.input_channels = shape[0];
    declare_input_shape(shape);
  }
  if (options_.input_channels) {
    if (*options_.input_channels < 1) {
      throw error("Conv2D: input_channels must be positive, got {}", *options_.input_channels);
    }
    create_parameters(*options_.input_channels);
  }
}

void Conv2D::create_parameters(int64_t channels) {
  Generator seeded(options_.seed.value_or(0));
  Generator* generator = options_.seed ? &seeded : nullptr;
  Tensor kernel =
      Tensor::empty({filters_, channels, kernel_size_[0], kernel_size_[1]}, options_.dtype);
  init::initialize(options_.kernel_initializer, kernel, generator);
  kernel_ = register_parameter("kernel", kernel);
  if (options_.use_bias) {
    Tensor bias = Tensor::empty({filters_}, options_.dtype);
    init::initialize(options_.bias_initializer, bias, generator);
    bias_ = register_parameter("bias", bias);
  }
  channels_ = channels;
  mark_built();
}

void Conv2D::check_input_shape(const Shape& shape) const {
  check_image_rank("Conv2D", shape);
  if (channels_ && shape[1] != *channels_) {
    throw error("Conv2D: input of shape {} has {} channels, expected {}", shape_str(shape),
                shape[1], *channels_);
  }
}

Conv2dOptions Conv2D::conv_options(const Shape& input_shape) const {
  Conv2dOptions o;
  o.stride = options_.strides;
  o.dilation = options_.dilation_rate;
  o.padding = padding_for("Conv2D", options_.padding, input_shape, kernel_size_, options_.strides,
                          options_.dilation_rate);
  return o;
}

Shape Conv2D::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  const Conv2dOptions o = conv_options(input_shape);
  const int64_t out_h = output_extent("Conv2D", input_shape, 2, o.padding, kernel_size_[0],
                                      o.stride[0], o.dilation[0]);
  const int64_t out_w = output_extent("Conv2D", input_shape, 3, o.padding, kernel_size_[1],
                                      o.stride[1], o.dilation[1]);
  if (!channels_) {
    if (input_shape[1] < 1) {
      throw error("Conv2D: input of shape {} has no channels", shape_str(input_shape));
    }
    create_parameters(input_shape[1]);
  }
  return {input_shape[0], filters_, out_h, out_w};
}

Tensor Conv2D::forward(const Tensor& input) {
  build(input.shape());
  detail::check_input_dtype("Conv2D", input, options_.dtype);
  return apply_activation(options_.activation,
                          conv2d(input, kernel_, bias_, conv_options(input.shape())));
}

// ---- pooling ----

Pooling2D::Pooling2D(const std::string& type, Size2 pool_size, Pooling2DOptions options)
    : pool_size_(pool_size),
      strides_(options.strides.value_or(pool_size)),
      padding_(std::move(options.padding)) {
  check_positive(type, "pool_size", pool_size_);
  check_positive(type, "strides", strides_);
  check_padding_mode(type, padding_);
  set_name(unique_layer_name(type));
}

Pool2dOptions Pooling2D::pool_options(const Shape& input_shape) const {
  Pool2dOptions o;
  o.kernel = pool_size_;
  o.stride = strides_;
  o.padding = padding_for(type_name(), padding_, input_shape, pool_size_, strides_, {1, 1});
  return o;
}

void Pooling2D::check_input_shape(const Shape& shape) const {
  check_image_rank(type_name(), shape);
}

Shape Pooling2D::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  const Pool2dOptions o = pool_options(input_shape);
  const int64_t out_h =
      output_extent(type_name(), input_shape, 2, o.padding, pool_size_[0], strides_[0], 1);
  const int64_t out_w =
      output_extent(type_name(), input_shape, 3, o.padding, pool_size_[1], strides_[1], 1);
  mark_built();
  return {input_shape[0], input_shape[1], out_h, out_w};
}

Pool2dOptions Pooling2D::checked_options(const Tensor& input) const {
  check_input_shape(input.shape());
  const Pool2dOptions o = pool_options(input.shape());
  output_extent(type_name(), input.shape(), 2, o.padding, pool_size_[0], strides_[0], 1);
  output_extent(type_name(), input.shape(), 3, o.padding, pool_size_[1], strides_[1], 1);
  if (!input.is_floating_point()) {
    throw error("{}: input must be float32 or float64, got {}", type_name(),
                dtype_name(input.dtype()));
  }
  return o;
}

MaxPooling2D::MaxPooling2D(Size2 pool_size, Pooling2DOptions options)
    : Pooling2D("MaxPooling2D", pool_size, std::move(options)) {}

Tensor MaxPooling2D::forward(const Tensor& input) {
  return max_pool2d(input, checked_options(input));
}

AveragePooling2D::AveragePooling2D(Size2 pool_size, Pooling2DOptions options)
    : Pooling2D("AveragePooling2D", pool_size, std::move(options)) {}

Tensor AveragePooling2D::forward(const Tensor& input) {
  return avg_pool2d(input, checked_options(input));
}

}  // namespace nabla::nn
