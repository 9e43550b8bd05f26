// conv2d, conv_transpose2d, max_pool2d and avg_pool2d: gradients over
// kernel/stride/padding/dilation combinations, exact zeros for uncovered input, first-maximum ties,
// forward values and errors.
#include <gtest/gtest.h>

#include <array>

#include "tests/support/expect_error.h"
#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::expect_gradcheck;
using testing::expect_gradgradcheck;
using testing::GradCase;
using testing::GradTable;
using testing::leaf;

// conv2d over input, weight and bias (first derivatives; one row below checks the second).
GradCase conv_case(const std::string& name, const Shape& input, const Shape& weight,
                   const Conv2dOptions& options, bool bias = true) {
  std::vector<Tensor> inputs = {leaf(input, 1), leaf(weight, 2)};
  if (bias) inputs.push_back(leaf({weight[0]}, 3));
  return {name,
          [options](const std::vector<Tensor>& in) {
            return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), options);
          },
          inputs, false};
}

INSTANTIATE_TEST_SUITE_P(
    Conv2d, GradTable,
    ::testing::Values(conv_case("k3_s1_p0", {2, 2, 5, 5}, {3, 2, 3, 3}, {}),
                      conv_case("k1", {1, 3, 3, 4}, {2, 3, 1, 1}, {}, false),
                      conv_case("k2x3_s2", {1, 2, 6, 7}, {2, 2, 2, 3}, {.stride = {2, 2}}),
                      conv_case("s3_uncovered", {1, 1, 7, 7}, {1, 1, 2, 2}, {.stride = {3, 3}}),
                      conv_case("pad1", {1, 2, 4, 4}, {2, 2, 3, 3}, {.padding = {1, 1, 1, 1}}),
                      conv_case("same_s2_asym", {1, 1, 6, 6}, {2, 1, 3, 3},
                                {.stride = {2, 2}, .padding = {0, 1, 0, 1}}),
                      conv_case("dilation2", {1, 1, 7, 6}, {1, 1, 3, 2}, {.dilation = {2, 2}}),
                      conv_case("everything", {2, 2, 8, 7}, {3, 2, 3, 2},
                                {.stride = {2, 1}, .padding = {1, 2, 0, 1}, .dilation = {1, 2}})),
    testing::grad_case_name);

// conv_transpose2d over input, weight [C, OC, KH, KW] and bias, with output_padding.
GradCase conv_transpose_case(const std::string& name, const Shape& input, const Shape& weight,
                             const Conv2dOptions& options, std::array<int64_t, 2> output_padding,
                             bool bias = true) {
  std::vector<Tensor> inputs = {leaf(input, 7), leaf(weight, 8)};
  if (bias) inputs.push_back(leaf({weight[1]}, 9));
  return {name,
          [options, output_padding](const std::vector<Tensor>& in) {
            return conv_transpose2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), options,
                                    output_padding);
          },
          inputs, false};
}

INSTANTIATE_TEST_SUITE_P(
    ConvTranspose2d, GradTable,
    ::testing::Values(conv_transpose_case("k3_s1", {2, 2, 3, 3}, {2, 3, 3, 3}, {}, {0, 0}),
                      conv_transpose_case("k2_s2_nobias", {1, 3, 2, 3}, {3, 2, 2, 2},
                                          {.stride = {2, 2}}, {0, 0}, false),
                      conv_transpose_case("k2_s3_output_padding", {1, 1, 2, 2}, {1, 2, 2, 2},
                                          {.stride = {3, 3}}, {1, 2}),
                      conv_transpose_case("same_s2_asym", {1, 2, 3, 2}, {2, 1, 3, 3},
                                          {.stride = {2, 2}, .padding = {0, 1, 0, 1}}, {1, 1}),
                      conv_transpose_case("size_one", {1, 1, 1, 1}, {1, 1, 1, 1}, {}, {0, 0}),
                      conv_transpose_case(
                          "everything", {2, 2, 3, 3}, {2, 2, 3, 2},
                          {.stride = {2, 1}, .padding = {1, 0, 0, 1}, .dilation = {1, 2}}, {1, 0})),
    testing::grad_case_name);

// out[n, o, i * s - top + k * d, j * s - left + l * d] += x[n, c, i, j] * w[c, o, k, l], written
// out in plain loops over a buffer with room for the padding.
TEST(ConvTransposeForward, MatchesPlainScatterLoop) {
  const Conv2dOptions options{.stride = {2, 3}, .padding = {1, 0, 0, 2}, .dilation = {2, 1}};
  const std::array<int64_t, 2> output_padding = {1, 2};
  const Tensor x = leaf({2, 3, 3, 2}, 10);
  const Tensor w = leaf({3, 2, 2, 3}, 11);
  const Tensor b = leaf({2}, 12);
  const Tensor y = conv_transpose2d(x, w, b, options, output_padding);
  const int64_t oh = (3 - 1) * 2 - 1 + 2 * (2 - 1) + 1 + 1;  // 7
  const int64_t ow = (2 - 1) * 3 - 2 + 1 * (3 - 1) + 1 + 2;  // 6
  ASSERT_EQ(y.shape(), (Shape{2, 2, oh, ow}));
  const std::vector<double> xv = x.to_vector<double>();
  const std::vector<double> wv = w.to_vector<double>();
  const std::vector<double> bv = b.to_vector<double>();
  std::vector<double> expected(static_cast<size_t>(int64_t{4} * oh * ow));
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t o = 0; o < 2; ++o) {
      for (int64_t r = 0; r < oh * ow; ++r) {
        expected[static_cast<size_t>((n * 2 + o) * oh * ow + r)] = bv[static_cast<size_t>(o)];
      }
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t i = 0; i < 3; ++i) {
          for (int64_t j = 0; j < 2; ++j) {
            for (int64_t k = 0; k < 2; ++k) {
              for (int64_t l = 0; l < 3; ++l) {
                const int64_t r = i * 2 - 1 + k * 2;
                const int64_t q = j * 3 - 0 + l * 1;
                if (r < 0 || r >= oh || q < 0 || q >= ow) continue;
                expected[static_cast<size_t>(((n * 2 + o) * oh + r) * ow + q)] +=
                    xv[static_cast<size_t>(((n * 3 + c) * 3 + i) * 2 + j)] *
                    wv[static_cast<size_t>(((c * 2 + o) * 2 + k) * 3 + l)];
              }
            }
          }
        }
      }
    }
  }
  const std::vector<double> got = y.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-14) << i;
}

// conv2d_relu (Conv2D with activation "relu"): odd sizes, size-1 dims, no bias, and inputs made
// non-contiguous inside the function (transposed H/W, a channel slice).
GradCase conv_relu_case(const std::string& name, const Shape& input, const Shape& weight,
                        const Conv2dOptions& options, bool bias, int layout) {
  std::vector<Tensor> inputs = {leaf(input, 7), leaf(weight, 8)};
  if (bias) inputs.push_back(leaf({weight[0]}, 9));
  return {name,
          [options, layout](const std::vector<Tensor>& in) {
            Tensor x = in[0];
            if (layout == 1) x = transpose(x, 2, 3);
            if (layout == 2) x = slice(x, 1, 1, std::nullopt);
            return conv2d_relu(x, in[1], in.size() > 2 ? in[2] : Tensor(), options);
          },
          inputs, false};
}

INSTANTIATE_TEST_SUITE_P(
    Conv2dRelu, GradTable,
    ::testing::Values(
        conv_relu_case("k3_odd", {2, 3, 7, 5}, {5, 3, 3, 3}, {}, true, 0),
        conv_relu_case("size1_dims", {1, 1, 1, 9}, {3, 1, 1, 2}, {}, true, 0),
        conv_relu_case("no_bias_pad", {3, 2, 5, 5}, {2, 2, 3, 3}, {.padding = {1, 1, 1, 1}}, false,
                       0),
        conv_relu_case("transposed_s2", {1, 2, 7, 6}, {3, 2, 2, 3}, {.stride = {2, 2}}, true, 1),
        conv_relu_case("channel_slice", {2, 3, 5, 7}, {4, 2, 3, 3}, {.dilation = {2, 1}}, true, 2)),
    testing::grad_case_name);

TEST(ConvGrad, ConvReluSecondDerivativesMatchNumerical) {
  const Conv2dOptions options{.stride = {1, 2}, .padding = {0, 1, 1, 0}};
  const GradcheckFn fn = [options](const std::vector<Tensor>& in) {
    return conv2d_relu(in[0], in[1], in[2], options);
  };
  expect_gradgradcheck(fn, {leaf({2, 2, 5, 4}, 10), leaf({3, 2, 2, 2}, 11), leaf({3}, 12)},
                       "conv2d_relu");
}

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

// Max and average pooling (first derivatives), and average pooling's second derivative.
std::vector<GradCase> pool_cases(const std::string& name, const Shape& input,
                                 const Pool2dOptions& options) {
  return {
      {"max_" + name,
       [options](const std::vector<Tensor>& in) { return max_pool2d(in[0], options); },
       {leaf(input, 7)},
       false},
      {"avg_" + name,
       [options](const std::vector<Tensor>& in) { return avg_pool2d(in[0], options); },
       {leaf(input, 8)},
       false},
      {"avg_times_sum_" + name,
       [options](const std::vector<Tensor>& in) {
         return avg_pool2d(in[0], options) * in[0].sum();
       },
       {leaf(input, 9)},
       true},
  };
}

std::vector<GradCase> all_pool_cases() {
  std::vector<GradCase> cases;
  for (auto&& more :
       {pool_cases("k2_s2", {2, 2, 4, 4}, {}), pool_cases("k2_s2_odd_uncovered", {1, 2, 5, 5}, {}),
        pool_cases("k3_s1", {1, 1, 5, 4}, {.kernel = {3, 3}, .stride = {1, 1}}),
        pool_cases("k3_s2_pad", {1, 1, 6, 6},
                   {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}),
        pool_cases("k2x3_asym", {1, 1, 5, 7},
                   {.kernel = {2, 3}, .stride = {2, 2}, .padding = {0, 1, 0, 1}})}) {
    cases.insert(cases.end(), more.begin(), more.end());
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Pool2d, GradTable, ::testing::ValuesIn(all_pool_cases()),
                         testing::grad_case_name);

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
