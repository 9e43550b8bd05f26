// Convolution, pooling, padding and upsampling layers with Keras's names and options on NCHW
// tensors (NCW for Conv1D).
// NOTE: Keras defaults to NHWC (channels_last); nabla follows PyTorch's NCHW, so an image batch is
// [N, C, H, W], a Conv2D weight is [filters, C, KH, KW] and summaries print (None, C, H, W).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "nn/module.h"

namespace nabla::nn {

using Size2 = std::array<int64_t, 2>;  // {height, width}

struct Conv2DOptions {
  Size2 strides{1, 1};
  // "valid" (no padding) or "same" (TensorFlow's rule: ceil(in / stride) outputs, total padding
  // max((ceil(in / stride) - 1) * stride + (k - 1) * dilation + 1 - in, 0), the odd one at the
  // bottom/right).
  std::string padding = "valid";
  Size2 dilation_rate{1, 1};
  std::string activation = "linear";
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  // Input channels; when absent they are taken from the first input (build).
  std::optional<int64_t> input_channels = std::nullopt;
  // Keras's input_shape in NCHW order without the batch dim: {channels, height, width}. It gives
  // the input channels and declares the model's input (summary() then needs no argument).
  std::optional<Shape> input_shape = std::nullopt;
  // Seeds the initializers; absent means nabla::default_generator().
  std::optional<uint64_t> seed = std::nullopt;
  DType dtype = kFloat32;
};

// y = activation(conv2d(x, kernel) + bias): x [N, C, H, W] -> [N, filters, OH, OW];
// kernel [filters, C, KH, KW], bias [filters].
class Conv2D : public Module {
 public:
  Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options = {});
  Conv2D(int64_t filters, int64_t kernel_size, Conv2DOptions options = {})
      : Conv2D(filters, Size2{kernel_size, kernel_size}, std::move(options)) {}
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Conv2D"; }

  [[nodiscard]] int64_t filters() const { return filters_; }
  [[nodiscard]] const Size2& kernel_size() const { return kernel_size_; }
  [[nodiscard]] const Tensor& kernel() const { return kernel_; }
  [[nodiscard]] const Tensor& bias() const { return bias_; }  // undefined without use_bias
  [[nodiscard]] const Conv2DOptions& options() const { return options_; }
  // The conv2d options (explicit padding) for inputs of this shape.
  [[nodiscard]] Conv2dOptions conv_options(const Shape& input_shape) const;

 private:
  void create_parameters(int64_t channels);
  void check_input_shape(const Shape& shape) const;

  int64_t filters_;
  Size2 kernel_size_;
  Conv2DOptions options_;
  std::optional<int64_t> channels_ = std::nullopt;
  Tensor kernel_;
  Tensor bias_;
};

struct Pooling2DOptions {
  std::optional<Size2> strides = std::nullopt;  // absent: the pool size, as in Keras
  std::string padding = "valid";  // "valid" or "same" (padding is never picked nor counted)
};

// The shared window geometry of MaxPooling2D and AveragePooling2D.
class Pooling2D : public Module {
 public:
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] const Size2& pool_size() const { return pool_size_; }
  [[nodiscard]] const Size2& strides() const { return strides_; }
  [[nodiscard]] const std::string& padding() const { return padding_; }
  [[nodiscard]] Pool2dOptions pool_options(const Shape& input_shape) const;

 protected:
  Pooling2D(const std::string& type, Size2 pool_size, Pooling2DOptions options);
  // Validates `input` and returns the options for it (type_name() names the layer in errors).
  [[nodiscard]] Pool2dOptions checked_options(const Tensor& input) const;

 private:
  void check_input_shape(const Shape& shape) const;

  Size2 pool_size_;
  Size2 strides_;
  std::string padding_;
};

// The maximum of each window: [N, C, H, W] -> [N, C, OH, OW].
class MaxPooling2D : public Pooling2D {
 public:
  explicit MaxPooling2D(Size2 pool_size = {2, 2}, Pooling2DOptions options = {});
  explicit MaxPooling2D(int64_t pool_size, Pooling2DOptions options = {})
      : MaxPooling2D(Size2{pool_size, pool_size}, std::move(options)) {}
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "MaxPooling2D"; }
};

// The mean of each window's in-bounds elements: [N, C, H, W] -> [N, C, OH, OW].
class AveragePooling2D : public Pooling2D {
 public:
  explicit AveragePooling2D(Size2 pool_size = {2, 2}, Pooling2DOptions options = {});
  explicit AveragePooling2D(int64_t pool_size, Pooling2DOptions options = {})
      : AveragePooling2D(Size2{pool_size, pool_size}, std::move(options)) {}
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "AveragePooling2D"; }
};

struct Conv1DOptions {
  int64_t strides = 1;
  // "valid", "same" (TensorFlow's rule, as Conv2D) or "causal" (dilation * (k - 1) zeros before the
  // sequence, none after: output t sees inputs up to t only).
  std::string padding = "valid";
  int64_t dilation_rate = 1;
  std::string activation = "linear";
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  std::optional<int64_t> input_channels = std::nullopt;
  std::optional<uint64_t> seed = std::nullopt;
  DType dtype = kFloat32;
  // "channels_first": x [N, C, L] -> [N, filters, OL], PyTorch's Conv1d layout and nabla's NCHW
  // convention; "channels_last": x [N, L, C] -> [N, OL, filters], Keras's default and the layout
  // Embedding and the recurrent layers produce, so they chain without a transpose.
  std::string data_format = "channels_first";
};

// y = activation(conv1d(x, kernel) + bias) over x [N, C, L] -> [N, filters, OL] (or [N, L, C] ->
// [N, OL, filters] with data_format "channels_last"); kernel [filters, C, K], bias [filters]. Runs
// as conv2d on [N, C, 1, L].
class Conv1D : public Module {
 public:
  Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions options = {});
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Conv1D"; }

  [[nodiscard]] int64_t filters() const { return filters_; }
  [[nodiscard]] int64_t kernel_size() const { return kernel_size_; }
  [[nodiscard]] const Tensor& kernel() const { return kernel_; }
  [[nodiscard]] const Tensor& bias() const { return bias_; }
  [[nodiscard]] const Conv1DOptions& options() const { return options_; }

 private:
  void create_parameters(int64_t channels);
  void check_input_shape(const Shape& shape) const;
  [[nodiscard]] bool channels_last() const { return options_.data_format == "channels_last"; }
  // The conv2d options for an input of length `length`.
  [[nodiscard]] Conv2dOptions conv_options(int64_t length) const;

  int64_t filters_;
  int64_t kernel_size_;
  Conv1DOptions options_;
  std::optional<int64_t> channels_ = std::nullopt;
  Tensor kernel_;
  Tensor bias_;
};

struct Conv2DTransposeOptions {
  Size2 strides{1, 1};
  std::string padding = "valid";  // "valid" or "same"
  // Extra rows/columns at the bottom/right, each < its stride; absent follows Keras: the output is
  // in * stride ("same") or in * stride + max(k - stride, 0) ("valid", k the dilated kernel).
  std::optional<Size2> output_padding = std::nullopt;
  Size2 dilation_rate{1, 1};
  std::string activation = "linear";
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  std::optional<int64_t> input_channels = std::nullopt;
  std::optional<uint64_t> seed = std::nullopt;
  DType dtype = kFloat32;
};

// The transposed convolution (conv_transpose2d): x [N, C, H, W] -> [N, filters, OH, OW], the
// gradient of a Conv2D with these options w.r.t. its input. kernel [C, filters, KH, KW]
// (PyTorch's ConvTranspose2d layout; Keras's is [KH, KW, filters, C]), bias [filters].
class Conv2DTranspose : public Module {
 public:
  Conv2DTranspose(int64_t filters, Size2 kernel_size, Conv2DTransposeOptions options = {});
  Conv2DTranspose(int64_t filters, int64_t kernel_size, Conv2DTransposeOptions options = {})
      : Conv2DTranspose(filters, Size2{kernel_size, kernel_size}, std::move(options)) {}
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Conv2DTranspose"; }

  [[nodiscard]] int64_t filters() const { return filters_; }
  [[nodiscard]] const Tensor& kernel() const { return kernel_; }
  [[nodiscard]] const Tensor& bias() const { return bias_; }
  [[nodiscard]] const Conv2DTransposeOptions& options() const { return options_; }

 private:
  void create_parameters(int64_t channels);
  void check_input_shape(const Shape& shape) const;
  // conv2d padding and output_padding of the transposed op for this input shape.
  [[nodiscard]] std::pair<Conv2dOptions, Size2> transpose_options(const Shape& input_shape) const;
  [[nodiscard]] Shape output_shape(const Shape& input_shape) const;

  int64_t filters_;
  Size2 kernel_size_;
  Conv2DTransposeOptions options_;
  std::optional<int64_t> channels_ = std::nullopt;
  Tensor kernel_;
  Tensor bias_;
};

// The mean over H and W: [N, C, H, W] -> [N, C] ([N, C, 1, 1] with keepdims).
class GlobalAveragePooling2D : public Module {
 public:
  explicit GlobalAveragePooling2D(bool keepdims = false);
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "GlobalAveragePooling2D"; }

 private:
  bool keepdims_;
};

// The maximum over H and W: [N, C, H, W] -> [N, C] ([N, C, 1, 1] with keepdims); the gradient is
// split equally among tied maxima (amax).
class GlobalMaxPooling2D : public Module {
 public:
  explicit GlobalMaxPooling2D(bool keepdims = false);
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "GlobalMaxPooling2D"; }

 private:
  bool keepdims_;
};

// Zero rows and columns around each image: [N, C, H, W] -> [N, C, top + H + bottom,
// left + W + right]. ZeroPadding2D(p) pads p everywhere, ZeroPadding2D({h, w}) h above and below
// and w left and right, ZeroPadding2D({top, bottom}, {left, right}) as Keras's ((t, b), (l, r)).
class ZeroPadding2D : public Module {
 public:
  explicit ZeroPadding2D(int64_t padding = 1) : ZeroPadding2D(Size2{padding, padding}) {}
  explicit ZeroPadding2D(Size2 symmetric)
      : ZeroPadding2D(Size2{symmetric[0], symmetric[0]}, Size2{symmetric[1], symmetric[1]}) {}
  ZeroPadding2D(Size2 top_bottom, Size2 left_right);
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "ZeroPadding2D"; }
  // {top, bottom, left, right}
  [[nodiscard]] const std::array<int64_t, 4>& padding() const { return padding_; }

 private:
  std::array<int64_t, 4> padding_;
};

// Nearest-neighbour upsampling: each pixel repeated size[0] times down and size[1] times across,
// [N, C, H, W] -> [N, C, H * size[0], W * size[1]]. Only "nearest" interpolation.
class UpSampling2D : public Module {
 public:
  explicit UpSampling2D(Size2 size = {2, 2}, const std::string& interpolation = "nearest");
  explicit UpSampling2D(int64_t size) : UpSampling2D(Size2{size, size}) {}
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "UpSampling2D"; }
  [[nodiscard]] const Size2& size() const { return size_; }

 private:
  Size2 size_;
};

}  // namespace nabla::nn
