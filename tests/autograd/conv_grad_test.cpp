// conv2d, max_pool2d and avg_pool2d: gradients over kernel/stride/padding/dilation combinations,
// exact zeros for uncovered input, first-maximum ties, forward values and errors.
#include <gtest/gtest.h>

#include "tests/support/expect_error.h"
#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::expect_gradcheck;
using testing::expect_gradgradcheck;
using testing::leaf;

struct ConvCase {
  std::string name;
  Shape input;
  Shape weight;
  Conv2dOptions options;
  bool bias = true;
};
void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class ConvGrad : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGrad, MatchesNumericalForInputWeightAndBias) {
  const auto& c = GetParam();
  std::vector<Tensor> inputs = {leaf(c.input, 1), leaf(c.weight, 2)};
  if (c.bias) inputs.push_back(leaf({c.weight[0]}, 3));
  const Conv2dOptions options = c.options;
  const GradcheckFn fn = [options](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), options);
  };
  expect_gradcheck(fn, inputs, c.name);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, ConvGrad,
    ::testing::Values(ConvCase{"k3_s1_p0", {2, 2, 5, 5}, {3, 2, 3, 3}, {}},
                      ConvCase{"k1", {1, 3, 3, 4}, {2, 3, 1, 1}, {}, false},
                      ConvCase{"k2x3_s2", {1, 2, 6, 7}, {2, 2, 2, 3}, {.stride = {2, 2}}},
                      ConvCase{"s3_uncovered", {1, 1, 7, 7}, {1, 1, 2, 2}, {.stride = {3, 3}}},
                      ConvCase{"pad1", {1, 2, 4, 4}, {2, 2, 3, 3}, {.padding = {1, 1, 1, 1}}},
                      ConvCase{"same_s2_asym",
                               {1, 1, 6, 6},
                               {2, 1, 3, 3},
                               {.stride = {2, 2}, .padding = {0, 1, 0, 1}}},
                      ConvCase{"dilation2", {1, 1, 7, 6}, {1, 1, 3, 2}, {.dilation = {2, 2}}},
                      ConvCase{"everything",
                               {2, 2, 8, 7},
                               {3, 2, 3, 2},
                               {.stride = {2, 1}, .padding = {1, 2, 0, 1}, .dilation = {1, 2}}}),
    [](const auto& case_info) { return case_info.param.name; });

TEST(ConvGrad, SecondDerivativesMatchNumerical) {
  const Conv2dOptions options{.stride = {2, 1}, .padding = {1, 0, 1, 1}};
  const GradcheckFn fn = [options](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], in[2], options);
  };
  expect_gradgradcheck(fn, {leaf({1, 2, 4, 4}, 4), leaf({2, 2, 2, 2}, 5), leaf({2}, 6)}, "conv2d");
}

TEST(ConvGrad, UncoveredInputGetsExactlyZero) {
  Tensor x = ones({1, 1, 5, 5}, kFloat64).requires_grad_();
  const Tensor w = ones({1, 1, 2, 2}, kFloat64);
  sum(conv2d(x, w, Tensor(), {.stride = {2, 2}})).backward();
  const auto g = x.grad().to_vector<double>();
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(g[static_cast<size_t>(4 * 5 + i)], 0.0);  // last row
    EXPECT_EQ(g[static_cast<size_t>(i * 5 + 4)], 0.0);  // last column
  }
  EXPECT_EQ(g[0], 1.0);
}

TEST(ConvForward, MatchesHandComputedValues) {
  const Tensor x = arange(0, 9, 1, kFloat32).reshape({1, 1, 3, 3});
  const Tensor w = ones({1, 1, 2, 2});
  const Tensor b = tensor({0.5});
  EXPECT_EQ(conv2d(x, w, b).to_vector<float>(), (std::vector<float>{8.5, 12.5, 20.5, 24.5}));
  const Tensor padded = conv2d(x, w, Tensor(), {.padding = {1, 0, 1, 0}});
  EXPECT_EQ(padded.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(padded.to_vector<float>()[0], 0.0F);
  EXPECT_EQ(padded.to_vector<float>()[4], 8.0F);
}

struct PoolCase {
  std::string name;
  Shape input;
  Pool2dOptions options;
};
void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

class PoolGrad : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolGrad, MaxAndAverageMatchNumerical) {
  const auto& c = GetParam();
  const Pool2dOptions options = c.options;
  expect_gradcheck([options](const std::vector<Tensor>& in) { return max_pool2d(in[0], options); },
                   {leaf(c.input, 7)}, "max " + c.name);
  expect_gradcheck([options](const std::vector<Tensor>& in) { return avg_pool2d(in[0], options); },
                   {leaf(c.input, 8)}, "avg " + c.name);
  expect_gradgradcheck(
      [options](const std::vector<Tensor>& in) { return avg_pool2d(in[0], options) * in[0].sum(); },
      {leaf(c.input, 9)}, "avg2 " + c.name);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, PoolGrad,
    ::testing::Values(PoolCase{"k2_s2", {2, 2, 4, 4}, {}},
                      PoolCase{"k2_s2_odd_uncovered", {1, 2, 5, 5}, {}},
                      PoolCase{"k3_s1", {1, 1, 5, 4}, {.kernel = {3, 3}, .stride = {1, 1}}},
                      PoolCase{"k3_s2_pad",
                               {1, 1, 6, 6},
                               {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}},
                      PoolCase{"k2x3_asym",
                               {1, 1, 5, 7},
                               {.kernel = {2, 3}, .stride = {2, 2}, .padding = {0, 1, 0, 1}}}),
    [](const auto& case_info) { return case_info.param.name; });

TEST(PoolGrad, MaxTiesSendGradientToFirstMaximum) {
  Tensor x = ones({1, 1, 2, 2}, kFloat64).requires_grad_();
  sum(max_pool2d(x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 0, 0, 0}));
}

TEST(PoolGrad, MaxPoolSecondDerivativeGathersAtArgmax) {
  const GradcheckFn fn = [](const std::vector<Tensor>& in) {
    return max_pool2d(in[0]) * max_pool2d(in[0]);
  };
  expect_gradgradcheck(fn, {leaf({1, 1, 4, 4}, 10)}, "max_pool2d squared");
}

TEST(PoolForward, MatchesHandComputedValues) {
  const Tensor x = arange(0, 16, 1, kFloat32).reshape({1, 1, 4, 4});
  EXPECT_EQ(max_pool2d(x).to_vector<float>(), (std::vector<float>{5, 7, 13, 15}));
  EXPECT_EQ(avg_pool2d(x).to_vector<float>(), (std::vector<float>{2.5, 4.5, 10.5, 12.5}));
  // 'same'-style padding: the padded cells are not counted in the average.
  const Tensor avg = avg_pool2d(x, {.kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1, 1, 1}});
  EXPECT_EQ(avg.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(avg.to_vector<float>()[0], 0.0F);
  EXPECT_EQ(avg.to_vector<float>()[1], 1.5F);
}

TEST(ConvErrors, NameOpAndShapes) {
  try {
    (void)conv2d(zeros({1, 3, 5, 5}), zeros({2, 2, 3, 3}), Tensor());
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "conv2d: input of shape [1, 3, 5, 5] has 3 channels, weight of shape [2, 2, 3, 3] "
                 "expects 2");
  }
  EXPECT_THROW((void)conv2d(zeros({3, 5, 5}), zeros({2, 3, 3, 3}), Tensor()), Error);
  EXPECT_THROW((void)conv2d(zeros({1, 1, 2, 2}), zeros({1, 1, 3, 3}), Tensor()), Error);
  EXPECT_THROW((void)conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 3, 3}), zeros({2})), Error);
  EXPECT_THROW((void)conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 3, 3}), Tensor(), {.stride = {0, 1}}),
               Error);
  EXPECT_THROW((void)max_pool2d(zeros({1, 1, 1, 1})), Error);
  EXPECT_THROW((void)max_pool2d(zeros({1, 1, 4, 4}),
                                {.kernel = {2, 2}, .stride = {2, 2}, .padding = {2, 0, 0, 0}}),
               Error);
  EXPECT_THROW((void)avg_pool2d(zeros({4, 4})), Error);
}

// Regression: a 0-size kernel gave an output larger than the input; huge dilation or padding
// overflowed int64 (undefined behaviour) instead of failing.
TEST(ConvErrors, EmptyWindowsAndOverflowingGeometryAreRefused) {
  constexpr int64_t kHuge = int64_t{1} << 62;
  testing::expect_error_containing(
      [] {
        (void)conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 0, 3}), Tensor());
      },
      "conv2d: the window must not be empty, got a kernel extent of 0");
  testing::expect_error_containing(
      [] {
        (void)conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 3, 3}), Tensor(), {.dilation = {kHuge, 1}});
      },
      "conv2d: integer overflow in the dilated window (4611686018427387904 * 2)");
  testing::expect_error_containing(
      [] {
        (void)conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 3, 3}), Tensor(),
                     {.padding = {kHuge, kHuge, 0, 0}});
      },
      "conv2d: integer overflow in the padded input");
  testing::expect_error_containing(
      [] {
        (void)max_pool2d(zeros({1, 1, 4, 4}), {.kernel = {kHuge, 2}, .stride = {kHuge, 1}});
      },
      "max_pool2d: window of extent 4611686018427387904 does not fit input extent 4");
  // Regression: an empty input with padding pooled windows made of padding only (-inf, 0).
  testing::expect_error_containing(
      [] {
        (void)max_pool2d(zeros({1, 1, 0, 3}), {.kernel = {2, 2}, .padding = {1, 1, 0, 0}});
      },
      "max_pool2d: input of shape [1, 1, 0, 3] has an empty spatial dim");
  testing::expect_error_containing(
      [] {
        (void)avg_pool2d(zeros({1, 1, 3, 0}), {.kernel = {2, 2}, .padding = {0, 0, 1, 1}});
      },
      "avg_pool2d: input of shape [1, 1, 3, 0]");
  EXPECT_EQ(max_pool2d(zeros({0, 2, 4, 4})).shape(), (Shape{0, 2, 2, 2}));  // empty batch is fine
}

}  // namespace
}  // namespace nabla
