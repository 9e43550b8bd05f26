// Arithmetic ops (autograd/ops/arithmetic.cpp): gradient table, forward values, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::BinaryCase;
using testing::GradTable;
using testing::UnaryCase;

INSTANTIATE_TEST_SUITE_P(
    Arithmetic, GradTable,
    ::testing::ValuesIn(testing::on_every_layout(std::vector<UnaryCase>{
        UnaryCase{"neg", [](const Tensor& a) { return -a; }},
        UnaryCase{"abs", [](const Tensor& a) { return abs(a); }, 0.1, 1.0},
        UnaryCase{"abs_negative", [](const Tensor& a) { return abs(a); }, -1.0, -0.1},
        UnaryCase{"exp", [](const Tensor& a) { return exp(a); }},
        UnaryCase{"log", [](const Tensor& a) { return log(a); }, 0.2, 2.0},
        UnaryCase{"log1p", [](const Tensor& a) { return log1p(a); }, -0.5, 2.0},
        UnaryCase{"sqrt", [](const Tensor& a) { return sqrt(a); }, 0.2, 2.0},
        UnaryCase{"square", [](const Tensor& a) { return square(a); }},
        UnaryCase{"sin", [](const Tensor& a) { return sin(a); }},
        UnaryCase{"cos", [](const Tensor& a) { return cos(a); }},
        UnaryCase{"erf", [](const Tensor& a) { return erf(a); }},
        UnaryCase{"pow_scalar", [](const Tensor& a) { return pow(a, 3.0); }},
        UnaryCase{"pow_fractional", [](const Tensor& a) { return pow(a, 1.5); }, 0.2, 2.0},
        UnaryCase{"clamp_inside", [](const Tensor& a) { return clamp(a, -2.0, 2.0); }},
        UnaryCase{"clamp_mixed", [](const Tensor& a) { return clamp(a, -0.3, 0.4) * a; }},
        UnaryCase{"scalar_ops", [](const Tensor& a) { return (2.0 - a) * 3.0 / (a + 4.0) - 1.0; }},
        UnaryCase{"scalar_div", [](const Tensor& a) { return 1.5 / a; }, 0.5, 2.0},
        UnaryCase{"where", [](const Tensor& a) { return where(a > 0.0, a * a, -a); }}})),
    testing::grad_case_name);

INSTANTIATE_TEST_SUITE_P(
    ArithmeticBinary, GradTable,
    ::testing::ValuesIn(testing::on_every_layout(std::vector<BinaryCase>{
        BinaryCase{"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
        BinaryCase{"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
        BinaryCase{"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
        BinaryCase{"div", [](const Tensor& a, const Tensor& b) { return a / b; }, 0.5, 2.0},
        BinaryCase{"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, 0.5, 2.0},
        BinaryCase{"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
        BinaryCase{"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
        BinaryCase{"where_pair",
                   [](const Tensor& a, const Tensor& b) { return where(a > b, a * b, a - b); }}})),
    testing::grad_case_name);

TEST(ArithmeticForward, MatchesHandComputedValues) {
  const Tensor a = tensor({{1, 2}, {3, 4}});
  const Tensor b = tensor({10, 20});
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{11, 22, 13, 24}));
  EXPECT_EQ((a - b).to_vector<float>(), (std::vector<float>{-9, -18, -7, -16}));
  EXPECT_EQ((a * b).to_vector<float>(), (std::vector<float>{10, 40, 30, 80}));
  EXPECT_EQ((b / a).to_vector<float>(), (std::vector<float>{10, 10, 10.0F / 3.0F, 5}));
  EXPECT_EQ(pow(a, 2.0).to_vector<float>(), (std::vector<float>{1, 4, 9, 16}));
  EXPECT_EQ(maximum(a, tensor({2.5})).to_vector<float>(), (std::vector<float>{2.5, 2.5, 3, 4}));
  EXPECT_EQ(relu(tensor({-1, 0, 2})).to_vector<float>(), (std::vector<float>{0, 0, 2}));
  EXPECT_NEAR(sigmoid(tensor({0.0})).item(), 0.5, 1e-7);
  EXPECT_NEAR(gelu(tensor({1.0}, kFloat64)).item(), 0.8413447460685429, 1e-12);
  EXPECT_NEAR(softplus(tensor({2.0}, kFloat64)).item(), 2.1269280110429727, 1e-12);
  EXPECT_EQ(clamp(tensor({-5, 0.5, 5}), -1.0, 1.0).to_vector<float>(),
            (std::vector<float>{-1, 0.5, 1}));
}

TEST(ArithmeticGrad, TensorPowAtZeroBaseAndZeroExponentHasZeroGradient) {
  const Tensor base = tensor({0.0, 0.0, 2.0}, kFloat64).requires_grad_();
  const Tensor exponent = tensor({0.0, 2.0, 0.0}, kFloat64).requires_grad_();
  pow(base, exponent).sum().backward();
  EXPECT_EQ(base.grad().to_vector<double>(), (std::vector<double>{0.0, 0.0, 0.0}));
  const std::vector<double> d_exponent = exponent.grad().to_vector<double>();
  EXPECT_EQ(d_exponent[0], 0.0);
  EXPECT_EQ(d_exponent[1], 0.0);
  EXPECT_DOUBLE_EQ(d_exponent[2], std::log(2.0));
}

TEST(ArithmeticGrad, MaximumTieSplitsGradientEqually) {
  Tensor a = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  Tensor b = tensor({1.0, 3.0}, kFloat64).requires_grad_();
  sum(maximum(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, 0.0}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.5, 1.0}));
}

TEST(ArithmeticErrors, NameOpAndShapes) {
  const Tensor a = zeros({3, 4});
  const Tensor b = zeros({5});
  try {
    (void)add(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "add: shapes [3, 4] and [5] cannot be broadcast");
  }
  EXPECT_THROW((void)mul(a, zeros({2, 4})), Error);
  EXPECT_THROW((void)where(zeros({2}), a, a), Error);
  EXPECT_THROW((void)clamp(a, 1.0, -1.0), Error);
}

}  // namespace
}  // namespace nabla
