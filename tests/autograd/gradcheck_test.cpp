// gradcheck itself: it passes correct derivatives, and at the suite's tolerances it catches
// deliberately wrong ones; its report names the worst entry; numerical_gradient works as taught.
#include <gtest/gtest.h>

#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::leaf;
using testing::tight_options;

// x * y with a backward the test can break in a chosen way.
Tensor broken_mul(const Tensor& x, const Tensor& y,
                  const std::function<Tensor(const Tensor&)>& corrupt_dx,
                  const std::function<Tensor(const Tensor&)>& corrupt_dy) {
  return autograd::apply_function(
      "broken_mul", {x, y},
      [](autograd::FunctionContext&, const std::vector<Tensor>& in) { return in[0] * in[1]; },
      [corrupt_dx, corrupt_dy](const autograd::FunctionContext& ctx, const Tensor& g) {
        return std::vector<Tensor>{corrupt_dx(g * ctx.inputs[1]), corrupt_dy(g * ctx.inputs[0])};
      });
}

Tensor identity(const Tensor& t) { return t; }

TEST(Gradcheck, PassesACorrectCustomFunction) {
  const Tensor x = leaf({2, 3}, 1);
  const Tensor y = leaf({2, 3}, 2);
  const auto report = gradcheck(
      [](const std::vector<Tensor>& in) { return broken_mul(in[0], in[1], identity, identity); },
      {x, y}, tight_options());
  EXPECT_TRUE(report.passed) << report.message;
  EXPECT_FALSE(report.vacuous);
  EXPECT_EQ(report.checked_entries, 2 * 6 * 6);
}

TEST(Gradcheck, CatchesGradientScaledBy1Point0001) {
  const Tensor x = leaf({2, 3}, 3);
  const Tensor y = leaf({2, 3}, 4);
  const auto report = gradcheck(
      [](const std::vector<Tensor>& in) {
        return broken_mul(
            in[0], in[1], [](const Tensor& g) { return g * 1.0001; }, identity);
      },
      {x, y}, tight_options());
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.input_index, 0);
  EXPECT_NE(report.message.find("input 0"), std::string::npos) << report.message;
  EXPECT_NEAR(report.analytic / report.numerical, 1.0001, 1e-6);
}

TEST(Gradcheck, CatchesSignFlipInOneElement) {
  const Tensor x = leaf({2, 3}, 5, 0.5, 1.0);
  const Tensor y = leaf({2, 3}, 6, 0.5, 1.0);
  const auto flip_element_4 = [](const Tensor& g) {
    Tensor sign = ones({2, 3}, kFloat64);
    kernels::fill_(kernels::select(kernels::select(sign, 0, 1), 0, 1), -1.0);
    return g * sign;
  };
  const auto report = gradcheck(
      [&](const std::vector<Tensor>& in) {
        return broken_mul(in[0], in[1], identity, flip_element_4);
      },
      {x, y}, tight_options());
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.input_index, 1);
  EXPECT_EQ(report.input_element, 4);
  EXPECT_EQ(report.output_element, 4);
  EXPECT_NEAR(report.analytic, -report.numerical, 1e-6);
}

TEST(Gradcheck, CatchesMissingBroadcastReduction) {
  const Tensor x = leaf({3, 4}, 7);
  const Tensor y = leaf({4}, 8);
  // y is broadcast over 3 rows; a backward that keeps only the first row forgot to sum them.
  const auto report = gradcheck(
      [](const std::vector<Tensor>& in) {
        return broken_mul(in[0], in[1], identity,
                          [](const Tensor& g) { return kernels::select(g, 0, 0); });
      },
      {x, y}, tight_options());
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.input_index, 1);
}

TEST(Gradcheck, FlagsVacuousCheck) {
  const Tensor x = leaf({3}, 9, -2.0, -1.0);
  const auto report =
      gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x}, tight_options());
  EXPECT_TRUE(report.vacuous);
  EXPECT_FALSE(report.passed);
  EXPECT_NE(report.message.find("vacuous"), std::string::npos) << report.message;
  GradcheckOptions lenient = tight_options();
  lenient.allow_vacuous = true;
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x}, lenient));
}

TEST(Gradcheck, CatchesWrongSecondDerivative) {
  // First derivative right, second wrong: the backward is computed without the graph of y.
  const Tensor x = leaf({3}, 10);
  const auto fn = [](const std::vector<Tensor>& in) {
    return autograd::apply_function(
        "cube_detached_backward", {in[0]},
        [](autograd::FunctionContext&, const std::vector<Tensor>& v) { return v[0] * v[0] * v[0]; },
        [](const autograd::FunctionContext& ctx, const Tensor& g) {
          return std::vector<Tensor>{g * 3.0 * ctx.inputs[0].detach() * ctx.inputs[0].detach()};
        });
  };
  EXPECT_TRUE(gradcheck(fn, {x}, tight_options()));
  EXPECT_FALSE(gradgradcheck(fn, {x}, tight_options()));
}

TEST(Gradcheck, PublicDefaultsMatchPyTorch) {
  const GradcheckOptions defaults;
  EXPECT_EQ(defaults.eps, 1e-6);
  EXPECT_EQ(defaults.atol, 1e-5);
  EXPECT_EQ(defaults.rtol, 1e-3);
}

TEST(Gradcheck, RejectsOverlappingInputs) {
  Tensor base = tensor({1.0}, kFloat64);
  Tensor expanded = kernels::expand(base, {3});
  expanded.requires_grad_();
  EXPECT_THROW(
      (void)gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {expanded}),
      Error);
}

TEST(NumericalGradient, MatchesAnalyticGradientOfAQuadratic) {
  const Tensor x = tensor({3.0, 4.0}, kFloat64);
  const auto f = [](const Tensor& t) { return sum(t * t).item(); };
  const Tensor g = numerical_gradient(f, x);
  EXPECT_NEAR(g.to_vector<double>()[0], 6.0, 1e-6);
  EXPECT_NEAR(g.to_vector<double>()[1], 8.0, 1e-6);
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{3.0, 4.0}));  // restored
}

}  // namespace
}  // namespace nabla
