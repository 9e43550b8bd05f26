// Conv2D, Conv1D, Conv2DTranspose, the pooling, padding and upsampling layers: Keras options turned
// into the conv2d/pool2d ops' and into compositions of public ops.
#include "nn/conv_layers.h"

#include <algorithm>

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
  kernel_ = register_parameter(
      "kernel", init::initialized(options_.kernel_initializer,
                                  {filters_, channels, kernel_size_[0], kernel_size_[1]},
                                  options_.dtype, generator));
  if (options_.use_bias) {
    bias_ = register_parameter("bias", init::initialized(options_.bias_initializer, {filters_},
                                                         options_.dtype, generator));
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
  if (options_.activation == "relu") {
    return conv2d_relu(input, kernel_, bias_, conv_options(input.shape()));
  }
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
  detail::check_floating_input(type_name(), input);
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

// ---- Conv1D ----

Conv1D::Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions options)
    : filters_(filters), kernel_size_(kernel_size), options_(std::move(options)) {
  if (filters_ < 1) throw error("Conv1D: filters must be positive, got {}", filters_);
  for (const auto& [what, value] : {std::pair<const char*, int64_t>{"kernel_size", kernel_size_},
                                    {"strides", options_.strides},
                                    {"dilation_rate", options_.dilation_rate}}) {
    if (value < 1) throw error("Conv1D: {} must be positive, got {}", what, value);
  }
  if (options_.padding != "valid" && options_.padding != "same" && options_.padding != "causal") {
    throw error(R"(Conv1D: padding must be "valid", "same" or "causal", got "{}")",
                options_.padding);
  }
  if (options_.data_format != "channels_first" && options_.data_format != "channels_last") {
    throw error(R"(Conv1D: data_format must be "channels_first" or "channels_last", got "{}")",
                options_.data_format);
  }
  check_activation("Conv1D", options_.activation);
  init::check_known("Conv1D: kernel_initializer", options_.kernel_initializer);
  init::check_known("Conv1D: bias_initializer", options_.bias_initializer);
  detail::check_float_dtype("Conv1D", options_.dtype);
  set_name(unique_layer_name("Conv1D"));
  if (options_.input_channels) {
    if (*options_.input_channels < 1) {
      throw error("Conv1D: input_channels must be positive, got {}", *options_.input_channels);
    }
    create_parameters(*options_.input_channels);
  }
}

void Conv1D::create_parameters(int64_t channels) {
  Generator seeded(options_.seed.value_or(0));
  Generator* generator = options_.seed ? &seeded : nullptr;
  kernel_ = register_parameter(
      "kernel", init::initialized(options_.kernel_initializer, {filters_, channels, kernel_size_},
                                  options_.dtype, generator));
  if (options_.use_bias) {
    bias_ = register_parameter("bias", init::initialized(options_.bias_initializer, {filters_},
                                                         options_.dtype, generator));
  }
  channels_ = channels;
  mark_built();
}

void Conv1D::check_input_shape(const Shape& shape) const {
  if (shape.size() != 3) {
    throw error("Conv1D: expected an {} input {}, got shape {}", channels_last() ? "NWC" : "NCW",
                channels_last() ? "[N, L, C]" : "[N, C, L]", shape_str(shape));
  }
  const int64_t channels = shape[channels_last() ? 2 : 1];
  if (channels_ && channels != *channels_) {
    throw error("Conv1D: input of shape {} has {} channels, expected {}", shape_str(shape),
                channels, *channels_);
  }
}

Conv2dOptions Conv1D::conv_options(int64_t length) const {
  Conv2dOptions o;
  o.stride = {1, options_.strides};
  o.dilation = {1, options_.dilation_rate};
  if (options_.padding == "same") {
    const auto w = kernels::same_padding("Conv1D", length, kernel_size_, options_.strides,
                                         options_.dilation_rate);
    o.padding = {0, 0, w[0], w[1]};
  } else if (options_.padding == "causal") {
    o.padding = {0, 0, options_.dilation_rate * (kernel_size_ - 1), 0};
  }
  return o;
}

Shape Conv1D::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  const int64_t channels = input_shape[channels_last() ? 2 : 1];
  const int64_t length = input_shape[channels_last() ? 1 : 2];
  const Conv2dOptions o = conv_options(length);
  const Shape as_image = {input_shape[0], channels, 1, length};
  const int64_t out_l =
      output_extent("Conv1D", as_image, 3, o.padding, kernel_size_, o.stride[1], o.dilation[1]);
  if (!channels_) {
    if (channels < 1) {
      throw error("Conv1D: input of shape {} has no channels", shape_str(input_shape));
    }
    create_parameters(channels);
  }
  if (channels_last()) return {input_shape[0], out_l, filters_};
  return {input_shape[0], filters_, out_l};
}

Tensor Conv1D::forward(const Tensor& input) {
  build(input.shape());
  detail::check_input_dtype("Conv1D", input, options_.dtype);
  const Tensor ncl = channels_last() ? transpose(input, 1, 2) : input;
  const Tensor y =
      conv2d(unsqueeze(ncl, 2), unsqueeze(kernel_, 2), bias_, conv_options(ncl.shape()[2]));
  const Tensor out = squeeze(y, 2);
  return apply_activation(options_.activation, channels_last() ? transpose(out, 1, 2) : out);
}

// ---- Conv2DTranspose ----

Conv2DTranspose::Conv2DTranspose(int64_t filters, Size2 kernel_size, Conv2DTransposeOptions options)
    : filters_(filters), kernel_size_(kernel_size), options_(std::move(options)) {
  if (filters_ < 1) throw error("Conv2DTranspose: filters must be positive, got {}", filters_);
  check_positive("Conv2DTranspose", "kernel_size", kernel_size_);
  check_positive("Conv2DTranspose", "strides", options_.strides);
  check_positive("Conv2DTranspose", "dilation_rate", options_.dilation_rate);
  check_padding_mode("Conv2DTranspose", options_.padding);
  if (options_.output_padding) {
    for (size_t d = 0; d < 2; ++d) {
      const int64_t p = (*options_.output_padding)[d];
      if (p < 0 || p >= options_.strides[d]) {
        throw error("Conv2DTranspose: output_padding ({}, {}) must be >= 0 and < strides ({}, {})",
                    (*options_.output_padding)[0], (*options_.output_padding)[1],
                    options_.strides[0], options_.strides[1]);
      }
    }
  }
  check_activation("Conv2DTranspose", options_.activation);
  init::check_known("Conv2DTranspose: kernel_initializer", options_.kernel_initializer);
  init::check_known("Conv2DTranspose: bias_initializer", options_.bias_initializer);
  detail::check_float_dtype("Conv2DTranspose", options_.dtype);
  set_name(unique_layer_name("Conv2DTranspose"));
  if (options_.input_channels) {
    if (*options_.input_channels < 1) {
      throw error("Conv2DTranspose: input_channels must be positive, got {}",
                  *options_.input_channels);
    }
    create_parameters(*options_.input_channels);
  }
}

void Conv2DTranspose::create_parameters(int64_t channels) {
  Generator seeded(options_.seed.value_or(0));
  Generator* generator = options_.seed ? &seeded : nullptr;
  kernel_ = register_parameter(
      "kernel", init::initialized(options_.kernel_initializer,
                                  {channels, filters_, kernel_size_[0], kernel_size_[1]},
                                  options_.dtype, generator));
  if (options_.use_bias) {
    bias_ = register_parameter("bias", init::initialized(options_.bias_initializer, {filters_},
                                                         options_.dtype, generator));
  }
  channels_ = channels;
  mark_built();
}

void Conv2DTranspose::check_input_shape(const Shape& shape) const {
  check_image_rank("Conv2DTranspose", shape);
  if (shape[2] < 1 || shape[3] < 1) {
    throw error("Conv2DTranspose: input of shape {} has an empty image", shape_str(shape));
  }
  if (channels_ && shape[1] != *channels_) {
    throw error("Conv2DTranspose: input of shape {} has {} channels, expected {}", shape_str(shape),
                shape[1], *channels_);
  }
}

// The output length is Keras's deconv_output_length: without output_padding, in * stride ("same")
// or in * stride + max(k_eff - stride, 0) ("valid"); with it, (in - 1) * stride + k_eff - 2 * pad
// + output_padding, pad = k_eff / 2 ("same") or 0. Keras then runs TensorFlow's conv2d_transpose,
// the input gradient of a conv2d over that output with its own padding: none ("valid") or
// TensorFlow's "same" padding for the output length (the odd row at the bottom). What the windows
// of that conv2d do not reach at the end is the op's output_padding.
std::pair<Conv2dOptions, Size2> Conv2DTranspose::transpose_options(const Shape& input_shape) const {
  Conv2dOptions o;
  o.stride = options_.strides;
  o.dilation = options_.dilation_rate;
  Size2 output_padding{0, 0};
  for (size_t d = 0; d < 2; ++d) {
    const int64_t in = input_shape[d + 2];
    const int64_t stride = options_.strides[d];
    const int64_t k_eff = options_.dilation_rate[d] * (kernel_size_[d] - 1) + 1;
    const bool same = options_.padding == "same";
    int64_t out = 0;
    if (options_.output_padding) {
      out = (in - 1) * stride + k_eff - 2 * (same ? k_eff / 2 : 0) + (*options_.output_padding)[d];
    } else {
      out = same ? in * stride : in * stride + std::max<int64_t>(k_eff - stride, 0);
    }
    if (same) {
      // A "same" conv2d maps ceil(out / stride) positions back: they must be the input's.
      if (out < 1 || (out + stride - 1) / stride != in) {
        throw error(
            "Conv2DTranspose: input of shape {} gives an output extent {} that a \"same\" Conv2D "
            "with stride {} does not map back to {} (TensorFlow refuses it too; change "
            "output_padding)",
            shape_str(input_shape), out, stride, in);
      }
      const auto p = kernels::same_padding("Conv2DTranspose", out, kernel_size_[d], stride,
                                           options_.dilation_rate[d]);
      o.padding[2 * d] = p[0];
      o.padding[2 * d + 1] = p[1];
    }
    output_padding[d] = out - ((in - 1) * stride + k_eff - o.padding[2 * d] - o.padding[2 * d + 1]);
  }
  return {o, output_padding};
}

Shape Conv2DTranspose::output_shape(const Shape& input_shape) const {
  const auto [o, output_padding] = transpose_options(input_shape);
  Shape out = {input_shape[0], filters_, 0, 0};
  for (size_t d = 0; d < 2; ++d) {
    out[d + 2] = (input_shape[d + 2] - 1) * o.stride[d] - o.padding[2 * d] - o.padding[2 * d + 1] +
                 o.dilation[d] * (kernel_size_[d] - 1) + 1 + output_padding[d];
    if (out[d + 2] < 1) {
      throw error("Conv2DTranspose: input of shape {} gives an empty output",
                  shape_str(input_shape));
    }
  }
  return out;
}

Shape Conv2DTranspose::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  Shape out = output_shape(input_shape);
  if (!channels_) {
    if (input_shape[1] < 1) {
      throw error("Conv2DTranspose: input of shape {} has no channels", shape_str(input_shape));
    }
    create_parameters(input_shape[1]);
  }
  return out;
}

Tensor Conv2DTranspose::forward(const Tensor& input) {
  build(input.shape());
  detail::check_input_dtype("Conv2DTranspose", input, options_.dtype);
  const auto [o, output_padding] = transpose_options(input.shape());
  return apply_activation(options_.activation,
                          conv_transpose2d(input, kernel_, bias_, o, output_padding));
}

// ---- global pooling ----

namespace {

Shape global_pool_shape(const std::string& who, const Shape& input_shape, bool keepdims) {
  check_image_rank(who, input_shape);
  if (input_shape[2] < 1 || input_shape[3] < 1) {
    throw error("{}: input of shape {} has an empty image", who, shape_str(input_shape));
  }
  if (keepdims) return {input_shape[0], input_shape[1], 1, 1};
  return {input_shape[0], input_shape[1]};
}

}  // namespace

GlobalAveragePooling2D::GlobalAveragePooling2D(bool keepdims) : keepdims_(keepdims) {
  set_name(unique_layer_name("GlobalAveragePooling2D"));
}

Shape GlobalAveragePooling2D::build(const Shape& input_shape) {
  mark_built();
  return global_pool_shape("GlobalAveragePooling2D", input_shape, keepdims_);
}

Tensor GlobalAveragePooling2D::forward(const Tensor& input) {
  build(input.shape());
  detail::check_floating_input("GlobalAveragePooling2D", input);
  return mean(input, {2, 3}, keepdims_);
}

GlobalMaxPooling2D::GlobalMaxPooling2D(bool keepdims) : keepdims_(keepdims) {
  set_name(unique_layer_name("GlobalMaxPooling2D"));
}

Shape GlobalMaxPooling2D::build(const Shape& input_shape) {
  mark_built();
  return global_pool_shape("GlobalMaxPooling2D", input_shape, keepdims_);
}

Tensor GlobalMaxPooling2D::forward(const Tensor& input) {
  build(input.shape());
  detail::check_floating_input("GlobalMaxPooling2D", input);
  return amax(input, {2, 3}, keepdims_);
}

// ---- ZeroPadding2D ----

ZeroPadding2D::ZeroPadding2D(Size2 top_bottom, Size2 left_right)
    : padding_{top_bottom[0], top_bottom[1], left_right[0], left_right[1]} {
  for (const int64_t p : padding_) {
    if (p < 0) {
      throw error("ZeroPadding2D: padding must be non-negative, got (({}, {}), ({}, {}))",
                  padding_[0], padding_[1], padding_[2], padding_[3]);
    }
  }
  set_name(unique_layer_name("ZeroPadding2D"));
}

Shape ZeroPadding2D::build(const Shape& input_shape) {
  check_image_rank("ZeroPadding2D", input_shape);
  mark_built();
  return {input_shape[0], input_shape[1], input_shape[2] + padding_[0] + padding_[1],
          input_shape[3] + padding_[2] + padding_[3]};
}

// Padding is the adjoint of cropping: slice_backward places the input inside zeros, and its
// derivative slices the gradient back out.
Tensor ZeroPadding2D::forward(const Tensor& input) {
  const Shape out = build(input.shape());
  Shape rows = input.shape();
  rows[2] = out[2];
  const Tensor tall =
      slice_backward(input, rows, 2, padding_[0], padding_[0] + input.shape()[2], 1);
  return slice_backward(tall, out, 3, padding_[2], padding_[2] + input.shape()[3], 1);
}

// ---- UpSampling2D ----

UpSampling2D::UpSampling2D(Size2 size, const std::string& interpolation) : size_(size) {
  check_positive("UpSampling2D", "size", size_);
  if (interpolation != "nearest") {
    throw error(R"(UpSampling2D: only "nearest" interpolation is implemented, got "{}")",
                interpolation);
  }
  set_name(unique_layer_name("UpSampling2D"));
}

Shape UpSampling2D::build(const Shape& input_shape) {
  check_image_rank("UpSampling2D", input_shape);
  mark_built();
  return {input_shape[0], input_shape[1], input_shape[2] * size_[0], input_shape[3] * size_[1]};
}

// [N, C, H, 1, W, 1] broadcast to [N, C, H, sh, W, sw]: expand's derivative sums each block back.
Tensor UpSampling2D::forward(const Tensor& input) {
  const Shape out = build(input.shape());
  const Shape& in = input.shape();
  const Tensor blocks = reshape(input, {in[0], in[1], in[2], 1, in[3], 1});
  return reshape(expand(blocks, {in[0], in[1], in[2], size_[0], in[3], size_[1]}), out);
}

}  // namespace nabla::nn
