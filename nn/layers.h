// Core Keras layers: Dense, Flatten, Dropout, BatchNormalization and LayerNormalization. Image
// tensors are NCHW (PyTorch's layout; Keras defaults to NHWC), so BatchNormalization normalizes
// axis 1 by default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nn/module.h"
#include "tensor/random.h"

namespace nabla::nn {

struct DenseOptions {
  std::string activation = "linear";  // any name apply_activation knows
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  // The number of input features; when absent it is taken from the first input (build).
  std::optional<int64_t> input_dim = std::nullopt;
  // Keras's input_shape: the input without the batch dim, e.g. {784}; its last extent is the
  // input_dim (both may be given if they agree). Either one declares the model's input, so a
  // Sequential starting with this layer can summary() without an argument.
  std::optional<Shape> input_shape = std::nullopt;
  // Seeds the initializers; absent means nabla::default_generator().
  std::optional<uint64_t> seed = std::nullopt;
  DType dtype = kFloat32;  // of the parameters (float64 for gradient checks)
};

// y = activation(x @ kernel + bias) over the last axis of x [N, ..., in]; kernel is [in, units]
// (Keras's layout, the transpose of PyTorch's Linear.weight) and bias is [units].
class Dense : public Module {
 public:
  explicit Dense(int64_t units, DenseOptions options = {});
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Dense"; }

  [[nodiscard]] int64_t units() const { return units_; }
  // Input features once known (given or built), else nullopt.
  [[nodiscard]] std::optional<int64_t> input_dim() const { return input_dim_; }
  [[nodiscard]] const Tensor& kernel() const { return kernel_; }
  [[nodiscard]] const Tensor& bias() const { return bias_; }  // undefined without use_bias
  [[nodiscard]] const DenseOptions& options() const { return options_; }

 private:
  void create_parameters(int64_t input_dim);
  void check_input_shape(const Shape& shape) const;

  int64_t units_;
  DenseOptions options_;
  std::optional<int64_t> input_dim_ = std::nullopt;
  Tensor kernel_;
  Tensor bias_;
};

// [N, d1, d2, ...] -> [N, d1 * d2 * ...]; the batch dim is kept ([N] becomes [N, 1], as Keras).
class Flatten : public Module {
 public:
  // `input_shape` (without the batch dim, as Keras's) declares the model's input.
  explicit Flatten(std::optional<Shape> input_shape = std::nullopt);
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Flatten"; }
};

// Inverted dropout: in training mode each element is zeroed with probability `rate` and the
// survivors are scaled by 1 / (1 - rate), so eval mode (the identity) needs no rescaling. The
// layer draws from its own Generator: a given seed reproduces the same masks.
class Dropout : public Module {
 public:
  // `seed` absent draws the layer's seed from nabla::default_generator().
  explicit Dropout(double rate, std::optional<uint64_t> seed = std::nullopt);
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "Dropout"; }
  [[nodiscard]] double rate() const { return rate_; }
  Generator& generator() { return generator_; }
  [[nodiscard]] Generator* random_generator() override { return &generator_; }

 private:
  double rate_;
  Generator generator_;
};

struct BatchNormalizationOptions {
  int64_t axis = 1;  // the feature axis: channels of NCHW, features of [N, F]
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;  // learn beta
  bool scale = true;   // learn gamma
  std::string beta_initializer = "zeros";
  std::string gamma_initializer = "ones";
  std::string moving_mean_initializer = "zeros";
  std::string moving_variance_initializer = "ones";
  // The size of `axis`; when absent it is taken from the first input (build).
  std::optional<int64_t> num_features = std::nullopt;
  DType dtype = kFloat32;
};

// Keras's BatchNormalization: y = gamma * (x - mean) / sqrt(var + epsilon) + beta per feature of
// `axis`. Training mode normalizes with the batch mean and biased batch variance (over every axis
// but `axis`) and updates moving = momentum * moving + (1 - momentum) * batch, without recording
// gradients. Eval mode normalizes with the moving statistics.
// NOTE: like Keras (and unlike PyTorch, which uses the unbiased estimate) the moving variance
// averages the biased batch variance.
// gamma and beta are parameters; moving_mean and moving_variance are buffers (non-trainable).
class BatchNormalization : public Module {
 public:
  explicit BatchNormalization(BatchNormalizationOptions options = {});
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "BatchNormalization"; }

  [[nodiscard]] const Tensor& gamma() const { return gamma_; }  // undefined without scale
  [[nodiscard]] const Tensor& beta() const { return beta_; }    // undefined without center
  [[nodiscard]] const Tensor& moving_mean() const { return moving_mean_; }
  [[nodiscard]] const Tensor& moving_variance() const { return moving_variance_; }
  [[nodiscard]] const BatchNormalizationOptions& options() const { return options_; }

 private:
  void create_state(int64_t features);
  // The input's feature axis in [0, rank), checked along with its extent.
  int64_t check_input_shape(const Shape& shape) const;

  BatchNormalizationOptions options_;
  std::optional<int64_t> features_ = std::nullopt;
  Tensor gamma_;
  Tensor beta_;
  Tensor moving_mean_;
  Tensor moving_variance_;
};

struct LayerNormalizationOptions {
  std::vector<int64_t> axis = {-1};  // the axes normalized together (never the batch axis)
  double epsilon = 1e-3;
  bool center = true;  // learn beta
  bool scale = true;   // learn gamma
  std::string beta_initializer = "zeros";
  std::string gamma_initializer = "ones";
  DType dtype = kFloat32;
};

// Keras's LayerNormalization: each sample is normalized over `axis` with its own mean and biased
// variance, y = gamma * (x - mean) / sqrt(var + epsilon) + beta; gamma and beta have the extents of
// the axes (in increasing axis order) and are created at the first input. Same in training and
// eval; no moving statistics.
class LayerNormalization : public Module {
 public:
  explicit LayerNormalization(LayerNormalizationOptions options = {});
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "LayerNormalization"; }

  [[nodiscard]] const Tensor& gamma() const { return gamma_; }  // undefined without scale
  [[nodiscard]] const Tensor& beta() const { return beta_; }    // undefined without center
  [[nodiscard]] const LayerNormalizationOptions& options() const { return options_; }

 private:
  // The axes in [1, rank), sorted, checked against the input (and the built extents).
  [[nodiscard]] std::vector<int64_t> resolve_axes(const Shape& shape) const;

  LayerNormalizationOptions options_;
  std::optional<Shape> param_shape_ = std::nullopt;
  Tensor gamma_;
  Tensor beta_;
};

}  // namespace nabla::nn
