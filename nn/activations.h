// Activations by Keras name (for the `activation` option of Dense and Conv2D) and as layers:
// Activation("relu"), ReLU, Sigmoid, Tanh, Softmax, LeakyReLU, GELU.
#pragma once

#include <string>
#include <vector>

#include "nn/module.h"

namespace nabla::nn {

// Keras's default slopes: 0.3 for the LeakyReLU layer, 0.2 for the activation "leaky_relu" by name
// (keras.activations.leaky_relu). The op nabla::leaky_relu follows PyTorch: 0.01.
constexpr double kLeakyReluDefaultAlpha = 0.3;
constexpr double kLeakyReluActivationSlope = 0.2;

// Applies the activation Keras calls `name`: "linear" (or "", the identity), "relu", "sigmoid",
// "tanh", "softmax" and "log_softmax" (over the last axis, as Keras does), "gelu" (exact),
// "leaky_relu" (slope 0.2), "elu", "selu", "softplus", "softsign", "swish"/"silu", "exponential".
// Throws nabla::Error listing the known names for anything else.
Tensor apply_activation(const std::string& name, const Tensor& x);
[[nodiscard]] bool is_known_activation(const std::string& name);
[[nodiscard]] std::vector<std::string> known_activation_names();
// Throws unless `name` is known; `who` names the caller ("Dense", "Conv2D", ...).
void check_activation(const std::string& who, const std::string& name);

// A layer applying a named activation elementwise; no parameters, shape-preserving.
class Activation : public Module {
 public:
  explicit Activation(std::string activation);
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "Activation"; }
  [[nodiscard]] const std::string& activation() const { return activation_; }

 private:
  std::string activation_;
};

class ReLU : public Module {
 public:
  ReLU();
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "ReLU"; }
};

class Sigmoid : public Module {
 public:
  Sigmoid();
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tanh();
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "Tanh"; }
};

// Softmax over `axis` (default the last one, as in Keras; pass 1 for the channels of NCHW).
class Softmax : public Module {
 public:
  explicit Softmax(int64_t axis = -1);
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "Softmax"; }
  [[nodiscard]] int64_t axis() const { return axis_; }

 private:
  int64_t axis_;
};

// x for x > 0, alpha * x otherwise.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double alpha = kLeakyReluDefaultAlpha);
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "LeakyReLU"; }
  [[nodiscard]] double alpha() const { return alpha_; }

 private:
  double alpha_;
};

// The exact GELU, x * Phi(x), or with `approximate` its tanh form (Keras's
// gelu(approximate=True)).
class GELU : public Module {
 public:
  explicit GELU(bool approximate = false);
  Tensor forward(const Tensor& input) override;
  [[nodiscard]] std::string type_name() const override { return "GELU"; }
  [[nodiscard]] bool approximate() const { return approximate_; }

 private:
  bool approximate_;
};

}  // namespace nabla::nn
