// Activations (autograd/ops/activation.cpp): gradient table and stability at extreme inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::GradTable;
using testing::UnaryCase;

INSTANTIATE_TEST_SUITE_P(
    Activation, GradTable,
    ::testing::ValuesIn(testing::on_every_layout(std::vector<UnaryCase>{
        UnaryCase{"relu", [](const Tensor& a) { return relu(a) - relu(-a) * 0.5; }},
        UnaryCase{"leaky_relu", [](const Tensor& a) { return leaky_relu(a, 0.1); }},
        UnaryCase{"sigmoid", [](const Tensor& a) { return sigmoid(a); }, -3.0, 3.0},
        UnaryCase{"tanh", [](const Tensor& a) { return tanh(a); }, -2.0, 2.0},
        UnaryCase{"gelu", [](const Tensor& a) { return gelu(a); }, -2.0, 2.0},
        UnaryCase{"gelu_tanh", [](const Tensor& a) { return gelu(a, "tanh"); }, -2.0, 2.0},
        UnaryCase{"softplus", [](const Tensor& a) { return softplus(a); }, -3.0, 3.0},
        UnaryCase{"elu", [](const Tensor& a) { return elu(a, 0.7); }}})),
    testing::grad_case_name);

TEST(ActivationForward, GeluTanhApproximationMatchesItsFormula) {
  const std::vector<double> xs = {-5.0, -1.5, -0.1, 0.0, 0.3, 1.0, 2.5, 30.0};
  const std::vector<double> got = gelu(tensor(xs, {8}, kFloat64), "tanh").to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    const double expected =
        0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(got[i], expected, 1e-15) << x;
    // Within 1e-3 of the exact form.
    EXPECT_NEAR(got[i], 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))), 1e-3) << x;
  }
  EXPECT_THROW((void)gelu(tensor({1.0}, kFloat64), "erf"), Error);
}

TEST(ActivationBackward, GeluTanhHasFiniteGradientsAtHugeInputs) {
  // x^3 overflows float32 beyond 7e12 and x^2 beyond 1.8e19; the result and the gradient must
  // stay those of the saturated tanh: x and 1 for large positive x, 0 and 0 for large negative.
  const Tensor x = tensor({-3e38F, -1e20F, -1e13F, 1e13F, 1e20F, 3e38F}).requires_grad_();
  const Tensor y = gelu(x, "tanh");
  sum(y).backward();
  const std::vector<float> values = y.to_vector<float>();
  const std::vector<float> grads = x.grad().to_vector<float>();
  const std::vector<float> inputs = x.to_vector<float>();
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(values[i], inputs[i] > 0 ? inputs[i] : 0.0F) << inputs[i];
    EXPECT_EQ(grads[i], inputs[i] > 0 ? 1.0F : 0.0F) << inputs[i];
  }
}

TEST(ActivationForward, StableAtExtremeValues) {
  const Tensor big = tensor({-1000.0, 1000.0}, kFloat64);
  EXPECT_EQ(sigmoid(big).to_vector<double>(), (std::vector<double>{0.0, 1.0}));
  EXPECT_EQ(softplus(big).to_vector<double>(), (std::vector<double>{0.0, 1000.0}));
  EXPECT_EQ(elu(big).to_vector<double>(), (std::vector<double>{-1.0, 1000.0}));
}

// Regression: d(a^b)/da was 0 * 0^-1 = NaN at a == 0, b == 0. PyTorch (and nabla's scalar-exponent
// pow) give 0 there; d(a^b)/db at a == 0 is 0 too, and log(a) * a^b elsewhere.
}  // namespace
}  // namespace nabla
