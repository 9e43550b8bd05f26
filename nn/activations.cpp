// The activation registry and the activation layers.
#include "nn/activations.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <functional>
#include <map>

namespace nabla::nn {
namespace {

using ActivationFn = std::function<Tensor(const Tensor&)>;

// SELU's constants from Klambauer et al. (the values Keras and PyTorch use).
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

const std::map<std::string, ActivationFn>& registry() {
  static const std::map<std::string, ActivationFn> kActivations = {
      {"linear", [](const Tensor& x) { return x; }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"softmax", [](const Tensor& x) { return softmax(x, -1); }},
      {"log_softmax", [](const Tensor& x) { return log_softmax(x, -1); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, kLeakyReluActivationSlope); }},
      {"elu", [](const Tensor& x) { return elu(x, 1.0); }},
      {"selu", [](const Tensor& x) { return elu(x, kSeluAlpha) * kSeluScale; }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"softsign", [](const Tensor& x) { return x / (abs(x) + 1.0); }},
      {"swish", [](const Tensor& x) { return x * sigmoid(x); }},
      {"silu", [](const Tensor& x) { return x * sigmoid(x); }},
      {"exponential", [](const Tensor& x) { return exp(x); }},
  };
  return kActivations;
}

// Softmax needs a dim; a 0-d input has none, and the op's own error would not name the layer.
void check_rank_for_axis(const std::string& who, const Tensor& x, int64_t axis) {
  if (axis < -x.dim() || axis >= x.dim()) {
    throw error("{}: axis {} is out of range for input of shape {}", who, axis,
                shape_str(x.shape()));
  }
}

}  // namespace

bool is_known_activation(const std::string& name) {
  return name.empty() || registry().contains(name);
}

std::vector<std::string> known_activation_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry()) names.push_back(name);
  return names;
}

void check_activation(const std::string& who, const std::string& name) {
  if (!is_known_activation(name)) {
    throw error("{}: unknown activation '{}' (known: {})", who, name,
                fmt::join(known_activation_names(), ", "));
  }
}

Tensor apply_activation(const std::string& name, const Tensor& x) {
  if (name.empty()) return x;
  const auto found = registry().find(name);
  if (found == registry().end()) check_activation("apply_activation", name);
  if (name == "softmax" || name == "log_softmax") check_rank_for_axis(name, x, -1);
  return found->second(x);
}

Activation::Activation(std::string activation) : activation_(std::move(activation)) {
  check_activation("Activation", activation_);
  set_name(unique_layer_name("Activation"));
}

Tensor Activation::forward(const Tensor& input) { return apply_activation(activation_, input); }

ReLU::ReLU() { set_name(unique_layer_name("ReLU")); }
Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Sigmoid::Sigmoid() { set_name(unique_layer_name("Sigmoid")); }
Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

Tanh::Tanh() { set_name(unique_layer_name("Tanh")); }
Tensor Tanh::forward(const Tensor& input) { return tanh(input); }

Softmax::Softmax(int64_t axis) : axis_(axis) { set_name(unique_layer_name("Softmax")); }
Tensor Softmax::forward(const Tensor& input) {
  check_rank_for_axis("Softmax", input, axis_);
  return softmax(input, axis_);
}

LeakyReLU::LeakyReLU(double alpha) : alpha_(alpha) {
  if (!std::isfinite(alpha)) throw error("LeakyReLU: alpha must be finite, got {}", alpha);
  set_name(unique_layer_name("LeakyReLU"));
}
Tensor LeakyReLU::forward(const Tensor& input) { return leaky_relu(input, alpha_); }

GELU::GELU(bool approximate) : approximate_(approximate) { set_name(unique_layer_name("GELU")); }
Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate_ ? "tanh" : "none"); }

}  // namespace nabla::nn
