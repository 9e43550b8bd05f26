// Named activations and the activation layers.
#include "nn/activations.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/nn/golden_support.h"
#include "tests/nn/layer_goldens.h"
#include "tests/support/gradcheck_support.h"

namespace nabla::nn {
namespace {

using testing::expect_gradcheck;
using testing::leaf;

const std::vector<double> kInputs = {-2.0, -0.5, 0.25, 1.5};

std::vector<double> apply(const std::string& name) {
  return apply_activation(name, tensor(kInputs, {4}, kFloat64)).to_vector<double>();
}

TEST(Activation, NamedActivationsMatchTheirFormulas) {
  const auto check = [](const std::string& name, double (*f)(double)) {
    const std::vector<double> got = apply(name);
    for (size_t i = 0; i < kInputs.size(); ++i) {
      EXPECT_NEAR(got[i], f(kInputs[i]), 1e-12) << name << " at " << kInputs[i];
    }
  };
  check("linear", [](double x) { return x; });
  check("", [](double x) { return x; });
  check("relu", [](double x) { return x > 0 ? x : 0.0; });
  check("sigmoid", [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
  check("tanh", [](double x) { return std::tanh(x); });
  check("leaky_relu", [](double x) { return x > 0 ? x : 0.2 * x; });  // keras.activations
  check("gelu", [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); });
  check("elu", [](double x) { return x > 0 ? x : std::exp(x) - 1.0; });
  check("selu", [](double x) {
    return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (std::exp(x) - 1.0));
  });
  check("softplus", [](double x) { return std::log1p(std::exp(x)); });
  check("softsign", [](double x) { return x / (1.0 + std::abs(x)); });
  check("swish", [](double x) { return x / (1.0 + std::exp(-x)); });
  check("exponential", [](double x) { return std::exp(x); });
}

TEST(Activation, SoftmaxIsOverTheLastAxis) {
  const Tensor x = tensor({{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}}, kFloat64);
  const std::vector<double> p = apply_activation("softmax", x).to_vector<double>();
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-12);
  EXPECT_NEAR(p[3], 1.0 / 3.0, 1e-12);
  const double denom = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(p[2], std::exp(3.0) / denom, 1e-12);
}

TEST(Activation, UnknownNameIsAClearError) {
  try {
    (void)apply_activation("rleu", ones({2}));
    FAIL() << "expected nabla::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown activation 'rleu'"), std::string::npos) << message;
    EXPECT_NE(message.find("relu"), std::string::npos) << message;
  }
  EXPECT_THROW(Activation("nope"), Error);
  EXPECT_FALSE(is_known_activation("nope"));
  EXPECT_TRUE(is_known_activation("gelu"));
}

TEST(Activation, LayersApplyTheirFunction) {
  const Tensor x = tensor(kInputs, {2, 2}, kFloat64);
  EXPECT_EQ(Activation("tanh")(x).to_vector<double>(), tanh(x).to_vector<double>());
  EXPECT_EQ(ReLU()(x).to_vector<double>(), relu(x).to_vector<double>());
  EXPECT_EQ(Sigmoid()(x).to_vector<double>(), sigmoid(x).to_vector<double>());
  EXPECT_EQ(Tanh()(x).to_vector<double>(), tanh(x).to_vector<double>());
  EXPECT_EQ(GELU()(x).to_vector<double>(), gelu(x).to_vector<double>());
  EXPECT_EQ(GELU(true)(x).to_vector<double>(), gelu(x, "tanh").to_vector<double>());
  EXPECT_TRUE(GELU(true).approximate());
  EXPECT_EQ(Softmax(0)(x).to_vector<double>(), softmax(x, 0).to_vector<double>());
  EXPECT_EQ(Softmax()(x).to_vector<double>(), softmax(x, 1).to_vector<double>());
  // Keras's LeakyReLU default slope is 0.3 (PyTorch's is 0.01).
  EXPECT_NEAR(LeakyReLU()(x).to_vector<double>()[0], -0.6, 1e-15);
  EXPECT_NEAR(LeakyReLU(0.1)(x).to_vector<double>()[0], -0.2, 1e-15);
  EXPECT_EQ(LeakyReLU().type_name(), "LeakyReLU");
  EXPECT_THROW(Softmax(2)(x), Error);
}

TEST(Activation, CompositeActivationsPassGradcheck) {
  for (const std::string name : {"selu", "softsign", "swish", "elu", "gelu", "softmax"}) {
    expect_gradcheck(
        [&name](const std::vector<Tensor>& in) { return apply_activation(name, in[0]); },
        {leaf({3, 4}, 7, 0.1, 1.0)}, name + " on positives");
    expect_gradcheck(
        [&name](const std::vector<Tensor>& in) { return apply_activation(name, in[0]); },
        {leaf({3, 4}, 8, -1.0, -0.1)}, name + " on negatives");
  }
}

TEST(Activation, GeluTanhMatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  const Tensor x = pattern_leaf({2, 5}, 96, 30.0);
  const Tensor y = GELU(true)(x);
  (y * pattern_tensor({2, 5}, 97, 100.0)).sum().backward();
  expect_close(y, kGeluTanhOutput, "gelu tanh");
  expect_close(x.grad(), kGeluTanhGrad, "gelu tanh grad");
}

}  // namespace
}  // namespace nabla::nn
