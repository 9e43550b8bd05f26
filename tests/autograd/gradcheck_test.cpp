// gradcheck itself: it passes correct derivatives and returns their Jacobians; at the suite's
// tolerances it catches deliberately wrong ones and lists every wrong entry worst first; it catches
// nondeterministic backwards, gradients from zero output gradients and gradients of the wrong
// shape or dtype; fast mode agrees; numerical_gradient works as taught.
#include <gtest/gtest.h>

#include <memory>

#include "tensor/kernels/kernels.h"
#include "tests/support/expect_error.h"
#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::leaf;
using testing::tight_options;
using testing::transposed_leaf;

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

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The Jacobian tensor's entries, row-major [numel(output), numel(input)].
std::vector<double> entries(const Tensor& jacobian) { return jacobian.to_vector<double>(); }

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
  EXPECT_EQ(defaults.nondet_tol, 0.0);
  EXPECT_FALSE(defaults.fast_mode);
}

TEST(Gradcheck, RejectsOverlappingInputs) {
  Tensor base = tensor({1.0}, kFloat64);
  Tensor expanded = kernels::expand(base, {3});
  expanded.requires_grad_();
  EXPECT_THROW(
      (void)gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {expanded}),
      Error);
}

TEST(Gradcheck, ReturnsMatmulJacobiansEqualToTheFormula) {
  // out[i][j] = sum_p a[i][p] b[p][j]: d out[i][j] / d a[p][q] = (i == p) b[q][j] and
  // d out[i][j] / d b[p][q] = a[i][p] (q == j). b is a transposed (non-contiguous) view.
  const Tensor a = leaf({2, 3}, 31);
  const Tensor b = transposed_leaf({3, 4}, 32);
  const auto report = gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                                {a, b}, tight_options());
  ASSERT_TRUE(report.passed) << report.message;
  ASSERT_EQ(report.jacobians.size(), 2U);
  const std::vector<double> av = a.to_vector<double>();  // row-major [2, 3]
  const std::vector<double> bv = b.to_vector<double>();  // row-major [3, 4]
  const GradcheckJacobian* ja = report.jacobian(0);
  const GradcheckJacobian* jb = report.jacobian(1);
  ASSERT_NE(ja, nullptr);
  ASSERT_NE(jb, nullptr);
  EXPECT_EQ(ja->analytic.shape(), (Shape{8, 6}));
  EXPECT_EQ(ja->numerical.shape(), (Shape{8, 6}));
  EXPECT_EQ(jb->analytic.shape(), (Shape{8, 12}));
  EXPECT_EQ(ja->analytic.dtype(), kFloat64);
  const std::vector<double> ja_analytic = entries(ja->analytic);
  const std::vector<double> ja_numerical = entries(ja->numerical);
  const std::vector<double> jb_analytic = entries(jb->analytic);
  const std::vector<double> jb_numerical = entries(jb->numerical);
  for (size_t i = 0; i < 2; ++i) {
    for (size_t j = 0; j < 4; ++j) {
      const size_t row = i * 4 + j;
      for (size_t p = 0; p < 2; ++p) {
        for (size_t q = 0; q < 3; ++q) {
          const double expected = i == p ? bv[q * 4 + j] : 0.0;
          EXPECT_NEAR(ja_analytic[row * 6 + p * 3 + q], expected, 1e-15);
          EXPECT_NEAR(ja_numerical[row * 6 + p * 3 + q], expected, 1e-8);
        }
      }
      for (size_t p = 0; p < 3; ++p) {
        for (size_t q = 0; q < 4; ++q) {
          const double expected = q == j ? av[i * 3 + p] : 0.0;
          EXPECT_NEAR(jb_analytic[row * 12 + p * 4 + q], expected, 1e-15);
          EXPECT_NEAR(jb_numerical[row * 12 + p * 4 + q], expected, 1e-8);
        }
      }
    }
  }
  EXPECT_TRUE(report.mismatches.empty());
  EXPECT_TRUE(report.failures.empty());
  EXPECT_TRUE(report.warnings.empty());
}

TEST(Gradcheck, ListsEveryWrongEntryWorstFirstWithMultiIndices) {
  // d(x*y)/dx is diagonal with entries y = 1; the backward scales four of them by 1.1, 1.3, 1.2
  // and 1.05, so the wrong entries, worst first, are elements 2, 3, 1, 5.
  const Tensor x = leaf({2, 3}, 33);
  const Tensor y = ones({2, 3}, kFloat64);
  const Tensor factors = tensor({1.0, 1.1, 1.3, 1.2, 1.0, 1.05}, {2, 3}, kFloat64);
  const auto report = gradcheck(
      [&](const std::vector<Tensor>& in) {
        return broken_mul(
            in[0], in[1], [&](const Tensor& g) { return g * factors; }, identity);
      },
      {x, y}, tight_options());
  EXPECT_FALSE(report.passed);
  ASSERT_EQ(report.mismatches.size(), 4U) << report.message;
  const std::vector<int64_t> order = {2, 3, 1, 5};
  const std::vector<std::vector<int64_t>> positions = {{0, 2}, {1, 0}, {0, 1}, {1, 2}};
  const std::vector<double> errors = {0.3, 0.2, 0.1, 0.05};
  for (size_t i = 0; i < order.size(); ++i) {
    const GradcheckMismatch& m = report.mismatches[i];
    EXPECT_EQ(m.input_index, 0);
    EXPECT_EQ(m.input_element, order[i]);
    EXPECT_EQ(m.input_position, positions[i]);
    EXPECT_EQ(m.output_index, 0);
    EXPECT_EQ(m.output_element, order[i]);
    EXPECT_EQ(m.output_position, positions[i]);
    EXPECT_NEAR(m.numerical, 1.0, 1e-8);
    EXPECT_NEAR(m.analytic, 1.0 + errors[i], 1e-12);
    EXPECT_NEAR(m.abs_error, errors[i], 1e-8);
    EXPECT_NEAR(m.rel_error, errors[i], 1e-8);
  }
  // The worst entry is also the report's headline, and the message lists them in order.
  EXPECT_EQ(report.input_element, 2);
  const size_t first = report.message.find("element 2 [0, 2]");
  const size_t second = report.message.find("element 3 [1, 0]");
  const size_t third = report.message.find("element 1 [0, 1]");
  const size_t fourth = report.message.find("element 5 [1, 2]");
  ASSERT_NE(fourth, std::string::npos) << report.message;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_LT(third, fourth);
  EXPECT_TRUE(contains(report.message, "4 of 36 Jacobian entries")) << report.message;
}

TEST(Gradcheck, CapsTheListInTheMessage) {
  const Tensor x = leaf({4, 5}, 34, 0.5, 1.0);
  const Tensor y = leaf({4, 5}, 35, 0.5, 1.0);
  GradcheckOptions options = tight_options();
  const auto fn = [](const std::vector<Tensor>& in) {
    return broken_mul(
        in[0], in[1], [](const Tensor& g) { return -g; }, identity);
  };
  const auto report = gradcheck(fn, {x, y}, options);
  EXPECT_EQ(report.mismatches.size(), 20U);  // every diagonal entry of d out / d x
  EXPECT_TRUE(contains(report.message, "... and 10 more")) << report.message;
  options.max_listed = 3;
  EXPECT_TRUE(contains(gradcheck(fn, {x, y}, options).message, "... and 17 more"));
}

TEST(Gradcheck, CatchesNondeterministicBackward) {
  // Each backward scales by a different 1 + 1e-13 * n: far inside tolerance, not reproducible.
  const Tensor x = leaf({2, 3}, 36);
  const Tensor y = leaf({2, 3}, 37);
  auto calls = std::make_shared<int>(0);
  const auto fn = [calls](const std::vector<Tensor>& in) {
    return broken_mul(
        in[0], in[1],
        [calls](const Tensor& g) { return g * (1.0 + 1e-13 * static_cast<double>(++*calls)); },
        identity);
  };
  const auto report = gradcheck(fn, {x, y}, tight_options());
  EXPECT_FALSE(report.passed);
  EXPECT_TRUE(report.mismatches.empty()) << report.message;
  ASSERT_EQ(report.failures.size(), 1U) << report.message;
  EXPECT_TRUE(contains(report.message, "nondeterministic backward")) << report.message;
  EXPECT_TRUE(contains(report.failures[0], "input 0")) << report.failures[0];
  // A tolerance for legitimately nondeterministic backwards, as PyTorch's nondet_tol.
  GradcheckOptions tolerant = tight_options();
  tolerant.nondet_tol = 1e-9;
  EXPECT_TRUE(gradcheck(fn, {x, y}, tolerant).passed);
}

TEST(Gradcheck, CatchesGradientThatIgnoresTheOutputGradient) {
  // sum(x * y) whose backward returns y for x without multiplying by the output gradient: for a
  // scalar output the Jacobian is right, but a zero output gradient still gives a gradient.
  const Tensor x = leaf({2, 3}, 38);
  const Tensor y = leaf({2, 3}, 39);
  const auto fn = [](const std::vector<Tensor>& in) {
    return autograd::apply_function(
        "dot_ignoring_grad", {in[0], in[1]},
        [](autograd::FunctionContext&, const std::vector<Tensor>& v) { return sum(v[0] * v[1]); },
        [](const autograd::FunctionContext& ctx, const Tensor& g) {
          return std::vector<Tensor>{ctx.inputs[1].detach(), g * ctx.inputs[0]};
        });
  };
  const auto report = gradcheck(fn, {x, y}, tight_options());
  EXPECT_FALSE(report.passed);
  EXPECT_TRUE(report.mismatches.empty()) << report.message;
  ASSERT_EQ(report.failures.size(), 1U) << report.message;
  EXPECT_TRUE(contains(report.failures[0], "zero output gradient")) << report.message;
  EXPECT_TRUE(contains(report.failures[0], "input 0")) << report.message;
}

TEST(Gradcheck, EngineRejectsBackwardOfImpossibleShapeWithAClearError) {
  // A [3] gradient for a [2, 3] input cannot be summed down to it: the engine refuses, and
  // gradcheck says which output and seed it was running.
  const Tensor x = leaf({2, 3}, 40);
  const Tensor y = leaf({2, 3}, 41);
  const auto fn = [](const std::vector<Tensor>& in) {
    return broken_mul(in[0], in[1], identity,
                      [](const Tensor& g) { return kernels::select(g, 0, 0); });
  };
  try {
    (void)gradcheck(fn, {x, y}, tight_options());
    FAIL() << "expected nabla::Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "gradcheck: backward of output 0")) << what;
    EXPECT_TRUE(contains(what,
                         "broken_mul returned a gradient of shape [3] for an input of "
                         "shape [2, 3]"))
        << what;
  }
}

TEST(Gradcheck, GradientOfWrongShapeOrDtypeFromAHookIsNamed) {
  // The engine refuses a hook result of another shape or dtype; gradcheck says where it ran.
  const auto fn = [](const std::vector<Tensor>& in) { return tanh(in[0]); };
  const Tensor x = leaf({2, 3}, 42);
  x.register_hook([](const Tensor& g) { return reshape(g, {6}); });
  testing::expect_error_containing(
      [&] { (void)gradcheck(fn, {x}, tight_options()); },
      "gradcheck: backward of output 0 seeded with a one at element 0 [0, 0] failed: "
      "register_hook: hook 0 of the leaf tensor of shape [2, 3] returned a gradient of shape [6]");
  const Tensor z = leaf({2, 3}, 43);
  z.register_hook([](const Tensor& g) { return g.to(kFloat32); });
  testing::expect_error_containing([&] { (void)gradcheck(fn, {z}, tight_options()); },
                                   "returned a gradient of shape [2, 3] and dtype float32");
}

TEST(Gradcheck, FastModePassesCorrectOpsWithOneDifferencePerInput) {
  const Tensor a = leaf({6, 7}, 44);
  const Tensor b = transposed_leaf({7, 5}, 45);
  const Tensor c = leaf({5}, 46);
  int calls = 0;
  const auto fn = [&calls](const std::vector<Tensor>& in) {
    ++calls;
    return log_softmax(tanh(matmul(in[0], in[1]) + in[2]), 1);
  };
  GradcheckOptions options = tight_options();
  options.fast_mode = true;
  const auto report = gradcheck(fn, {a, b, c}, options);
  EXPECT_TRUE(report.passed) << report.message;
  EXPECT_TRUE(report.fast_mode);
  EXPECT_TRUE(report.fast_mode_passed);
  EXPECT_EQ(report.checked_entries, 3);  // one projection per (input, output) pair
  EXPECT_TRUE(report.jacobians.empty());
  EXPECT_TRUE(contains(report.message, "fast mode")) << report.message;
  EXPECT_EQ(calls, 1 + 2 * 3);  // the forward, then one central difference per input
  calls = 0;
  EXPECT_TRUE(gradcheck(fn, {a, b, c}, tight_options()).passed);
  EXPECT_EQ(calls, 1 + 2 * (42 + 35 + 5));
}

TEST(Gradcheck, FastModeCatchesAWrongElementAndNamesItByTheFullCheck) {
  const Tensor x = leaf({2, 3}, 5, 0.5, 1.0);
  const Tensor y = leaf({2, 3}, 6, 0.5, 1.0);
  const auto flip_element_4 = [](const Tensor& g) {
    Tensor sign = ones({2, 3}, kFloat64);
    kernels::fill_(kernels::select(kernels::select(sign, 0, 1), 0, 1), -1.0);
    return g * sign;
  };
  GradcheckOptions options = tight_options();
  options.fast_mode = true;
  const auto report = gradcheck(
      [&](const std::vector<Tensor>& in) {
        return broken_mul(in[0], in[1], identity, flip_element_4);
      },
      {x, y}, options);
  EXPECT_FALSE(report.passed);
  EXPECT_TRUE(report.fast_mode);
  EXPECT_FALSE(report.fast_mode_passed);
  ASSERT_EQ(report.mismatches.size(), 1U) << report.message;
  EXPECT_EQ(report.mismatches[0].input_index, 1);
  EXPECT_EQ(report.mismatches[0].input_element, 4);
  EXPECT_EQ(report.mismatches[0].input_position, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(report.mismatches[0].output_element, 4);
  EXPECT_EQ(report.jacobians.size(), 2U);  // the full check formed them
  EXPECT_TRUE(contains(report.message, "fast mode: v^T J u of input 1")) << report.message;
}

TEST(Gradcheck, Float32InputDrawsTheFloat64Explanation) {
  Tensor x = uniform({3}, 0.5, 1.0, kFloat32);
  x.requires_grad_();
  const auto fn = [](const std::vector<Tensor>& in) { return in[0] * in[0]; };
  GradcheckOptions loose;
  loose.eps = 1e-2;  // a float32 check can pass only with a large step and loose tolerances
  loose.atol = 1e-2;
  loose.rtol = 1e-2;
  const auto report = gradcheck(fn, {x}, loose);
  EXPECT_TRUE(report.passed) << report.message;  // PyTorch's choice: warn, not fail
  ASSERT_FALSE(report.warnings.empty());
  EXPECT_TRUE(contains(report.message, "warning: input 0 is float32")) << report.message;
  EXPECT_TRUE(contains(report.message, "rounding error")) << report.message;
  EXPECT_TRUE(contains(report.message, "float64")) << report.message;

  loose.require_float64 = true;
  const auto strict = gradcheck(fn, {x}, loose);
  EXPECT_FALSE(strict.passed);
  ASSERT_EQ(strict.failures.size(), 1U);
  EXPECT_TRUE(contains(strict.failures[0], "needs float64")) << strict.message;
}

TEST(Gradcheck, SkipsIntegerInputsThatDoNotRequireGrad) {
  const Tensor x = leaf({4, 3}, 47);
  const Tensor index = tensor(std::vector<int64_t>{2, 0, 2}, {3});
  const auto report =
      gradcheck([](const std::vector<Tensor>& in) { return index_select(in[0], 0, in[1]); },
                {x, index}, tight_options());
  EXPECT_TRUE(report.passed) << report.message;
  EXPECT_EQ(report.checked_entries, 9 * 12);
  ASSERT_EQ(report.jacobians.size(), 1U);
  EXPECT_EQ(report.jacobians[0].input_index, 0);
  EXPECT_EQ(index.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 2}));  // untouched
}

TEST(Gradcheck, ChecksEveryOutputOfAMultiOutputFunction) {
  const Tensor x = leaf({2, 3}, 48);
  const Tensor y = leaf({2, 3}, 49);
  const GradcheckMultiFn right = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * in[1], sum(in[0])};
  };
  const auto report = gradcheck(right, {x, y}, tight_options());
  EXPECT_TRUE(report.passed) << report.message;
  ASSERT_EQ(report.jacobians.size(), 4U);
  const GradcheckJacobian* sum_x = report.jacobian(0, 1);
  const GradcheckJacobian* sum_y = report.jacobian(1, 1);
  ASSERT_NE(sum_x, nullptr);
  ASSERT_NE(sum_y, nullptr);
  EXPECT_EQ(sum_x->analytic.shape(), (Shape{1, 6}));
  EXPECT_EQ(entries(sum_x->analytic), std::vector<double>(6, 1.0));
  EXPECT_EQ(entries(sum_y->analytic), std::vector<double>(6, 0.0));
  EXPECT_EQ(report.checked_entries, 2 * (6 * 6 + 1 * 6));

  // The second output's backward doubles the gradient: only output 1's entries are named.
  const GradcheckMultiFn wrong = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{
        in[0] * in[1],
        autograd::apply_function(
            "double_counted_sum", {in[0]},
            [](autograd::FunctionContext&, const std::vector<Tensor>& v) { return sum(v[0]); },
            [](const autograd::FunctionContext& ctx, const Tensor& g) {
              return std::vector<Tensor>{g * 2.0 * ones_like(ctx.inputs[0])};
            })};
  };
  const auto caught = gradcheck(wrong, {x, y}, tight_options());
  EXPECT_FALSE(caught.passed);
  ASSERT_EQ(caught.mismatches.size(), 6U) << caught.message;
  for (const GradcheckMismatch& m : caught.mismatches) {
    EXPECT_EQ(m.output_index, 1);
    EXPECT_EQ(m.input_index, 0);
    EXPECT_NEAR(m.analytic, 2.0, 1e-12);
  }
  EXPECT_TRUE(contains(caught.message, "output 1 element 0")) << caught.message;
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
