// Conv2D, Conv1D, Conv2DTranspose, the pooling, padding and upsampling layers: Keras padding rules
// on NCHW, values, gradients, PyTorch goldens (tests/nn/layer_goldens.py), errors.
#include "nn/conv_layers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nn/embedding.h"
#include "nn/sequential.h"
#include "tests/nn/golden_support.h"
#include "tests/nn/layer_goldens.h"
#include "tests/support/gradcheck_support.h"
#include "tests/support/test_helpers.h"

namespace nabla::nn {
namespace {

using testing::assign;
using testing::expect_error_containing;
using testing::expect_gradcheck;
using testing::leaf;

// 0, 1, 2, ... as a [1, 1, h, w] float64 image.
Tensor ramp_image(int64_t h, int64_t w) {
  return arange(0, static_cast<double>(h * w), 1, kFloat64).reshape({1, 1, h, w});
}

// ---- Conv2D ----

TEST(Conv2D, ValidPaddingShapesAndParameters) {
  reset_layer_names();
  Conv2D conv(4, 3);
  EXPECT_EQ(conv.name(), "conv2d");
  EXPECT_EQ(conv.build({2, 3, 10, 12}), (Shape{2, 4, 8, 10}));
  EXPECT_EQ(conv.kernel().shape(), (Shape{4, 3, 3, 3}));  // [filters, C, KH, KW]
  EXPECT_EQ(conv.bias().shape(), (Shape{4}));
  EXPECT_EQ(conv.trainable_parameter_count(), 4 * 27 + 4);
  EXPECT_EQ(conv(ones({2, 3, 10, 12})).shape(), (Shape{2, 4, 8, 10}));
  Conv2D rectangular(2, Size2{1, 3}, {.strides = {1, 2}});
  EXPECT_EQ(rectangular.build({1, 1, 5, 9}), (Shape{1, 2, 5, 4}));
  Conv2D dilated(1, 3, {.dilation_rate = {2, 2}});
  EXPECT_EQ(dilated(ones({1, 1, 7, 7})).shape(), (Shape{1, 1, 3, 3}));
}

TEST(Conv2D, SamePaddingFollowsTensorFlow) {
  Conv2D conv(1, 3, {.strides = {2, 2}, .padding = "same", .input_channels = 1});
  // H = 10: 5 outputs, total padding (5 - 1) * 2 + 3 - 10 = 1, all at the bottom.
  // W = 11: 6 outputs, total (6 - 1) * 2 + 3 - 11 = 2, one each side.
  const Conv2dOptions o = conv.conv_options({1, 1, 10, 11});
  EXPECT_EQ(o.padding, (std::array<int64_t, 4>{0, 1, 1, 1}));
  EXPECT_EQ(conv(ones({1, 1, 10, 11})).shape(), (Shape{1, 1, 5, 6}));
  Conv2D stride_one(3, 5, {.padding = "same"});
  EXPECT_EQ(stride_one(ones({2, 2, 7, 6})).shape(), (Shape{2, 3, 7, 6}));

  // A 2x2 box filter with "same": the odd padding row and column go at the bottom and right.
  Conv2D box(1, 2, {.padding = "same", .use_bias = false, .input_channels = 1, .dtype = kFloat64});
  assign(box.kernel(), {1, 1, 1, 1});
  const std::vector<double> y = box(ramp_image(4, 4)).to_vector<double>();
  ASSERT_EQ(y.size(), 16U);
  EXPECT_EQ(y[0], 0 + 1 + 4 + 5);  // top-left window, no padding
  EXPECT_EQ(y[3], 3 + 7);          // right column: padding on the right
  EXPECT_EQ(y[12], 12 + 13);       // bottom row: padding below
  EXPECT_EQ(y[15], 15);            // bottom-right corner
}

TEST(Conv2D, ComputesActivationOfConvolutionPlusBias) {
  Conv2D conv(2, 2, {.activation = "relu", .input_channels = 1, .dtype = kFloat64});
  assign(conv.kernel(), {1, 0, 0, 1, -1, 0, 0, 0});  // filter 0: main diagonal, filter 1: -x[0,0]
  assign(conv.bias(), {0.5, 2.0});
  const std::vector<double> y = conv(ramp_image(3, 3)).to_vector<double>();
  // filter 0: x[i][j] + x[i+1][j+1] + 0.5; filter 1: relu(2 - x[i][j]).
  EXPECT_EQ(y, (std::vector<double>{0 + 4 + 0.5, 1 + 5 + 0.5, 3 + 7 + 0.5, 4 + 8 + 0.5,  //
                                    2, 1, 0, 0}));
}

TEST(Conv2D, GradcheckWithRespectToInputKernelAndBias) {
  struct Case {
    std::string name;
    Conv2DOptions options;
  };
  const std::vector<Case> cases = {
      {"valid", {.input_channels = 2, .seed = 1, .dtype = kFloat64}},
      {"same stride 2",
       {.strides = {2, 2}, .padding = "same", .input_channels = 2, .seed = 2, .dtype = kFloat64}},
      {"dilated tanh",
       {.dilation_rate = {2, 1},
        .activation = "tanh",
        .input_channels = 2,
        .seed = 3,
        .dtype = kFloat64}},
  };
  for (const Case& c : cases) {
    Conv2D conv(3, 3, c.options);
    assign(conv.bias(), {0.1, -0.2, 0.3});
    expect_gradcheck([&conv](const std::vector<Tensor>& in) { return conv(in[0]); },
                     {leaf({2, 2, 5, 5}, 51), conv.kernel(), conv.bias()}, "Conv2D " + c.name);
  }
}

TEST(Conv2D, ErrorsNameTheLayerAndShapes) {
  Conv2D conv(4, 3, {.input_channels = 3});
  expect_error_containing(
      [&] {
        (void)conv(ones({1, 2, 5, 5}));
      },
      "Conv2D: input of shape [1, 2, 5, 5] has 2 channels, expected 3");
  expect_error_containing(
      [&] {
        (void)conv(ones({3, 5, 5}));
      },
      "Conv2D: expected an NCHW input [N, C, H, W], got shape [3, 5, 5]");
  expect_error_containing(
      [&] {
        (void)conv(ones({1, 3, 2, 5}));
      },
      "Conv2D: input of shape [1, 3, 2, 5] is too small");
  expect_error_containing([] { Conv2D(4, 3, {.padding = "full"}); },
                          "Conv2D: padding must be \"valid\" or \"same\"");
  expect_error_containing([] { Conv2D(4, 0); }, "Conv2D: kernel_size must be positive");
  expect_error_containing([] { Conv2D(4, 3, {.strides = {0, 1}}); }, "Conv2D: strides");
}

// ---- pooling ----

TEST(MaxPooling2D, PicksTheWindowMaximum) {
  reset_layer_names();
  MaxPooling2D pool;
  EXPECT_EQ(pool.name(), "max_pooling2d");
  EXPECT_EQ(pool.strides(), (Size2{2, 2}));  // Keras: strides default to the pool size
  EXPECT_EQ(pool(ramp_image(4, 4)).to_vector<double>(), (std::vector<double>{5, 7, 13, 15}));
  // An odd extent drops the last row/column with "valid".
  EXPECT_EQ(pool.build({2, 3, 5, 7}), (Shape{2, 3, 2, 3}));
  MaxPooling2D overlapping(3, {.strides = Size2{2, 2}, .padding = "same"});
  EXPECT_EQ(overlapping.pool_options({1, 1, 5, 5}).padding, (std::array<int64_t, 4>{1, 1, 1, 1}));
  EXPECT_EQ(overlapping(ramp_image(5, 5)).to_vector<double>(),
            (std::vector<double>{6, 8, 9, 16, 18, 19, 21, 23, 24}));
}

TEST(AveragePooling2D, AveragesInBoundsElements) {
  AveragePooling2D pool(2);
  EXPECT_EQ(pool(ramp_image(4, 4)).to_vector<double>(),
            (std::vector<double>{2.5, 4.5, 10.5, 12.5}));
  // "same" on 3x3 pads one row and column at the end; padding is not counted in the mean.
  AveragePooling2D same(2, {.padding = "same"});
  EXPECT_EQ(same(ramp_image(3, 3)).to_vector<double>(),
            (std::vector<double>{(0 + 1 + 3 + 4) / 4.0, (2 + 5) / 2.0, (6 + 7) / 2.0, 8}));
}

TEST(Pooling2D, Gradcheck) {
  MaxPooling2D max_pool(2);
  AveragePooling2D avg_pool(3, {.strides = Size2{2, 2}, .padding = "same"});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return max_pool(in[0]); },
                   {leaf({2, 2, 4, 5}, 61)}, "MaxPooling2D");
  expect_gradcheck([&](const std::vector<Tensor>& in) { return avg_pool(in[0]); },
                   {leaf({2, 2, 5, 4}, 62)}, "AveragePooling2D same");
}

TEST(Pooling2D, ErrorsNameTheLayer) {
  MaxPooling2D pool(3);
  expect_error_containing(
      [&] {
        (void)pool(ones({4, 4}));
      },
      "MaxPooling2D: expected an NCHW input [N, C, H, W], got shape [4, 4]");
  expect_error_containing(
      [&] {
        (void)pool(ones({1, 1, 2, 5}));
      },
      "MaxPooling2D: input of shape [1, 1, 2, 5] is too small");
  expect_error_containing([] { AveragePooling2D(2, {.padding = "causal"}); },
                          "AveragePooling2D: padding must be");
}

// ---- Conv1D ----

TEST(Conv1D, ShapesFollowValidSameAndCausalPadding) {
  reset_layer_names();
  Conv1D valid(4, 3);
  EXPECT_EQ(valid.build({2, 3, 10}), (Shape{2, 4, 8}));
  EXPECT_EQ(valid.name(), "conv1d");
  EXPECT_EQ(valid.kernel().shape(), (Shape{4, 3, 3}));
  EXPECT_EQ(valid.trainable_parameter_count(), 4 * 3 * 3 + 4);
  Conv1D same(2, 3, {.strides = 2, .padding = "same"});
  EXPECT_EQ(same.build({1, 3, 10}), (Shape{1, 2, 5}));
  Conv1D causal(2, 3, {.padding = "causal", .dilation_rate = 2});
  EXPECT_EQ(causal(ones({1, 1, 9})).shape(), (Shape{1, 2, 9}));
}

// Causal output t only sees inputs t, t - d, t - 2d (zeros before the start): a plain loop.
TEST(Conv1D, CausalDilatedMatchesPlainLoop) {
  Conv1D conv(
      2, 3,
      {.padding = "causal", .dilation_rate = 2, .input_channels = 2, .seed = 3, .dtype = kFloat64});
  assign(conv.bias(), {0.25, -0.5});
  const Tensor x = leaf({1, 2, 7}, 40);
  const std::vector<double> out = conv(x).to_vector<double>();
  const std::vector<double> xv = x.to_vector<double>();
  const std::vector<double> w = conv.kernel().to_vector<double>();  // [2, 2, 3]
  const std::vector<double> b = {0.25, -0.5};
  for (int64_t f = 0; f < 2; ++f) {
    for (int64_t t = 0; t < 7; ++t) {
      double acc = b[static_cast<size_t>(f)];
      for (int64_t c = 0; c < 2; ++c) {
        for (int64_t k = 0; k < 3; ++k) {
          const int64_t src = t - (2 - k) * 2;
          if (src >= 0) {
            acc +=
                w[static_cast<size_t>((f * 2 + c) * 3 + k)] * xv[static_cast<size_t>(c * 7 + src)];
          }
        }
      }
      EXPECT_NEAR(out[static_cast<size_t>(f * 7 + t)], acc, 1e-14) << f << " " << t;
    }
  }
}

TEST(Conv1D, Gradcheck) {
  for (const std::string padding : {"valid", "same", "causal"}) {
    Conv1D conv(3, 3,
                {.strides = padding == "causal" ? 1 : 2,
                 .padding = padding,
                 .input_channels = 2,
                 .seed = 5,
                 .dtype = kFloat64});
    assign(conv.bias(), {0.1, -0.2, 0.3});
    const auto fn = [&conv](const std::vector<Tensor>& in) { return conv(in[0]); };
    expect_gradcheck(fn, {leaf({2, 2, 7}, 41), conv.kernel(), conv.bias()}, "Conv1D " + padding);
    expect_gradcheck(fn, {testing::transposed_leaf({2, 2, 5}, 42), conv.kernel(), conv.bias()},
                     "Conv1D transposed " + padding);
  }
}

TEST(Conv1D, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  struct Case {
    Conv1DOptions options;
    int64_t salt;
    Shape out;
    const double* output;
    const double* input_grad;
    const double* kernel_grad;
    const double* bias_grad;
  };
  Conv1D same(4, 3, {.strides = 2, .padding = "same", .input_channels = 3, .dtype = kFloat64});
  Conv1D causal(4, 3,
                {.padding = "causal", .dilation_rate = 2, .input_channels = 3, .dtype = kFloat64});
  const auto run = [](Conv1D& conv, int64_t salt) {
    assign(conv.kernel(), pattern({4, 3, 3}, salt + 1, 100.0));
    assign(conv.bias(), pattern({4}, salt + 2, 100.0));
    const Tensor x = pattern_leaf({2, 3, 7}, salt, 50.0);
    const Tensor y = conv(x);
    (y * pattern_tensor(y.shape(), salt + 3, 100.0)).sum().backward();
    return std::pair{x, y};
  };
  const auto [xs, ys] = run(same, 60);
  expect_close(ys, kConv1DSameOutput, "same output");
  expect_close(xs.grad(), kConv1DSameInputGrad, "same input grad");
  expect_close(same.kernel().grad(), kConv1DSameKernelGrad, "same kernel grad");
  expect_close(same.bias().grad(), kConv1DSameBiasGrad, "same bias grad");
  const auto [xc, yc] = run(causal, 64);
  expect_close(yc, kConv1DCausalOutput, "causal output");
  expect_close(xc.grad(), kConv1DCausalInputGrad, "causal input grad");
  expect_close(causal.kernel().grad(), kConv1DCausalKernelGrad, "causal kernel grad");
  expect_close(causal.bias().grad(), kConv1DCausalBiasGrad, "causal bias grad");
}

// Keras's layout [N, L, C]: the same PyTorch goldens, read through a transpose on the way in and
// out, and the layer chains after Embedding without one.
TEST(Conv1D, ChannelsLastMatchesThePyTorchGoldensTransposed) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  Conv1D conv(4, 3,
              {.strides = 2,
               .padding = "same",
               .input_channels = 3,
               .dtype = kFloat64,
               .data_format = "channels_last"});
  assign(conv.kernel(), pattern({4, 3, 3}, 61, 100.0));
  assign(conv.bias(), pattern({4}, 62, 100.0));
  Tensor x = transpose(pattern_tensor({2, 3, 7}, 60, 50.0), 1, 2).contiguous();
  x.requires_grad_();
  const Tensor y = conv(x);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 4}));  // [N, OL, filters]
  EXPECT_EQ(conv.build({2, 7, 3}), (Shape{2, 4, 4}));
  (transpose(y, 1, 2) * pattern_tensor({2, 4, 4}, 63, 100.0)).sum().backward();
  expect_close(transpose(y, 1, 2), kConv1DSameOutput, "channels_last output");
  expect_close(transpose(x.grad(), 1, 2), kConv1DSameInputGrad, "channels_last input grad");
  expect_close(conv.kernel().grad(), kConv1DSameKernelGrad, "channels_last kernel grad");
  expect_close(conv.bias().grad(), kConv1DSameBiasGrad, "channels_last bias grad");

  Sequential text;
  text.add<Embedding>(10, 5).add<Conv1D>(6, 3, Conv1DOptions{.data_format = "channels_last"});
  const Tensor tokens = tensor({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4}, kInt64);
  EXPECT_EQ(text(tokens).shape(), (Shape{2, 2, 6}));
  expect_error_containing(
      [&] {
        (void)(*text.layers()[1])(ones({2, 4, 4}));
      },
      "input of shape [2, 4, 4] has 4 channels, expected 5");
  expect_error_containing([] { Conv1D(2, 3, {.data_format = "NWC"}); },
                          R"(Conv1D: data_format must be "channels_first" or "channels_last")");
  expect_error_containing(
      [] {
        (void)Conv1D(2, 3, {.data_format = "channels_last"})(ones({2, 7}));
      },
      "Conv1D: expected an NWC input [N, L, C], got shape [2, 7]");
}

TEST(Conv1D, ErrorsNameTheLayer) {
  Conv1D conv(2, 3, {.input_channels = 2});
  expect_error_containing(
      [&] {
        (void)conv(ones({2, 7}));
      },
      "Conv1D: expected an NCW input [N, C, L], got shape [2, 7]");
  expect_error_containing([&] { (void)conv(ones({1, 3, 7})); }, "has 3 channels, expected 2");
  expect_error_containing([&] { (void)conv(ones({1, 2, 2})); }, "too small");
  expect_error_containing([] { Conv1D bad(2, 3, {.padding = "full"}); },
                          R"(Conv1D: padding must be "valid", "same" or "causal")");
  expect_error_containing([] { Conv1D bad(2, 0); }, "Conv1D: kernel_size must be positive, got 0");
}

// ---- Conv2DTranspose ----

TEST(Conv2DTranspose, OutputShapesFollowKeras) {
  reset_layer_names();
  Conv2DTranspose same(2, 3, {.strides = {2, 2}, .padding = "same"});
  EXPECT_EQ(same.build({1, 3, 4, 5}), (Shape{1, 2, 8, 10}));
  EXPECT_EQ(same.name(), "conv2d_transpose");
  EXPECT_EQ(same.kernel().shape(), (Shape{3, 2, 3, 3}));
  Conv2DTranspose valid(2, 3, {.strides = {2, 2}});
  EXPECT_EQ(valid.build({1, 3, 4, 5}), (Shape{1, 2, 9, 11}));  // in * s + max(k - s, 0)
  Conv2DTranspose wide(2, 2, {.strides = {3, 3}});
  EXPECT_EQ(wide.build({1, 3, 2, 3}), (Shape{1, 2, 6, 9}));  // k < s: in * s
  Conv2DTranspose padded(2, 3,
                         {.strides = {2, 2}, .padding = "same", .output_padding = Size2{1, 0}});
  // (in - 1) * s + k - 2 * (k / 2) + output_padding
  EXPECT_EQ(padded.build({1, 3, 4, 5}), (Shape{1, 2, 8, 9}));
  EXPECT_EQ(padded(ones({1, 3, 4, 5})).shape(), (Shape{1, 2, 8, 9}));
  Conv2DTranspose dilated(1, 3, {.dilation_rate = {2, 2}});
  EXPECT_EQ(dilated.build({1, 1, 3, 3}), (Shape{1, 1, 7, 7}));
}

// <conv_transpose(x), y> = <x, conv2d(y)>: the layer (without bias) is conv2d's adjoint. Dot
// products in plain double loops.
TEST(Conv2DTranspose, IsTheAdjointOfConv2D) {
  for (const std::string padding : {"valid", "same"}) {
    Conv2DTranspose up(2, Size2{3, 2},
                       {.strides = {2, 3},
                        .padding = padding,
                        .use_bias = false,
                        .input_channels = 3,
                        .seed = 8,
                        .dtype = kFloat64});
    Conv2D down(3, Size2{3, 2},
                {.strides = {2, 3},
                 .padding = padding,
                 .use_bias = false,
                 .input_channels = 2,
                 .dtype = kFloat64});
    {
      const NoGradGuard no_grad;
      Tensor k = down.kernel();
      k.copy_(up.kernel());  // both [3, 2, 3, 2]: conv2d weight [out=3, in=2, kh, kw]
    }
    const Tensor x = leaf({2, 3, 4, 3}, 43);
    const Tensor tx = up(x);
    const Tensor y = leaf(tx.shape(), 44);
    const Tensor dy = down(y);
    ASSERT_EQ(dy.shape(), x.shape()) << padding;
    const auto dot = [](const Tensor& a, const Tensor& b) {
      const std::vector<double> av = a.to_vector<double>();
      const std::vector<double> bv = b.to_vector<double>();
      double acc = 0.0;
      for (size_t i = 0; i < av.size(); ++i) acc += av[i] * bv[i];
      return acc;
    };
    EXPECT_NEAR(dot(tx, y), dot(x, dy), 1e-12) << padding;
  }
}

TEST(Conv2DTranspose, Gradcheck) {
  Conv2DTranspose up(
      2, 3,
      {.strides = {2, 2}, .padding = "same", .input_channels = 2, .seed = 6, .dtype = kFloat64});
  assign(up.bias(), {0.3, -0.1});
  const auto fn = [&up](const std::vector<Tensor>& in) { return up(in[0]); };
  expect_gradcheck(fn, {leaf({2, 2, 3, 2}, 45), up.kernel(), up.bias()}, "Conv2DTranspose same");
  expect_gradcheck(fn, {testing::transposed_leaf({1, 2, 2, 3}, 46), up.kernel(), up.bias()},
                   "Conv2DTranspose transposed input");
  testing::expect_gradgradcheck(
      [](const std::vector<Tensor>& in) {
        return conv_transpose2d(in[0], in[1], in[2], {.stride = {2, 1}, .padding = {1, 0, 0, 1}},
                                {1, 0});
      },
      {leaf({1, 2, 3, 3}, 47), leaf({2, 3, 2, 3}, 48), leaf({3}, 49)}, "conv_transpose2d");
}

TEST(Conv2DTranspose, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  Conv2DTranspose same(
      2, 3, {.strides = {2, 2}, .padding = "same", .input_channels = 3, .dtype = kFloat64});
  assign(same.kernel(), pattern({3, 2, 3, 3}, 71, 100.0));
  assign(same.bias(), pattern({2}, 72, 100.0));
  const Tensor x = pattern_leaf({2, 3, 4, 5}, 70, 50.0);
  const Tensor y = same(x);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 8, 10}));
  (y * pattern_tensor({2, 2, 8, 10}, 73, 100.0)).sum().backward();
  expect_close(y, kConv2DTransposeSameOutput, "same output");
  expect_close(x.grad(), kConv2DTransposeSameInputGrad, "same input grad");
  expect_close(same.kernel().grad(), kConv2DTransposeSameKernelGrad, "same kernel grad");
  expect_close(same.bias().grad(), kConv2DTransposeSameBiasGrad, "same bias grad");

  Conv2DTranspose valid(3, 2, {.strides = {3, 3}, .input_channels = 2, .dtype = kFloat64});
  assign(valid.kernel(), pattern({2, 3, 2, 2}, 75, 100.0));
  assign(valid.bias(), pattern({3}, 76, 100.0));
  const Tensor xv = pattern_leaf({1, 2, 2, 3}, 74, 50.0);
  const Tensor yv = valid(xv);
  ASSERT_EQ(yv.shape(), (Shape{1, 3, 6, 9}));
  (yv * pattern_tensor({1, 3, 6, 9}, 77, 100.0)).sum().backward();
  expect_close(yv, kConv2DTransposeValidOutput, "valid output");
  expect_close(xv.grad(), kConv2DTransposeValidInputGrad, "valid input grad");
  expect_close(valid.kernel().grad(), kConv2DTransposeValidKernelGrad, "valid kernel grad");
  expect_close(valid.bias().grad(), kConv2DTransposeValidBiasGrad, "valid bias grad");

  Conv2DTranspose padded(2, 3,
                         {.strides = {2, 2},
                          .padding = "same",
                          .output_padding = Size2{1, 0},
                          .use_bias = false,
                          .input_channels = 2,
                          .dtype = kFloat64});
  assign(padded.kernel(), pattern({2, 2, 3, 3}, 79, 100.0));
  const Tensor xp = pattern_leaf({1, 2, 3, 3}, 78, 50.0);
  const Tensor yp = padded(xp);
  ASSERT_EQ(yp.shape(), (Shape{1, 2, 6, 5}));
  (yp * pattern_tensor({1, 2, 6, 5}, 88, 100.0)).sum().backward();
  expect_close(yp, kConv2DTransposeOutputPaddingOutput, "output_padding output");
  expect_close(xp.grad(), kConv2DTransposeOutputPaddingInputGrad, "output_padding input grad");
  expect_close(padded.kernel().grad(), kConv2DTransposeOutputPaddingKernelGrad,
               "output_padding kernel grad");
}

TEST(Conv2DTranspose, ErrorsNameTheLayer) {
  Conv2DTranspose up(2, 3, {.input_channels = 2});
  expect_error_containing([&] { (void)up(ones({1, 3, 4, 4})); }, "has 3 channels, expected 2");
  expect_error_containing([&] { (void)up(ones({3, 4, 4})); }, "Conv2DTranspose: expected an NCHW");
  expect_error_containing(
      [] {
        Conv2DTranspose bad(2, 3, {.strides = {2, 2}, .output_padding = Size2{2, 0}});
      },
      "output_padding (2, 0) must be >= 0 and < strides (2, 2)");
  // An even kernel with "same" and output_padding 0 gives 2 * in - 2 rows: TensorFlow refuses.
  Conv2DTranspose even(1, 2, {.strides = {2, 2}, .padding = "same", .output_padding = Size2{0, 0}});
  expect_error_containing(
      [&] {
        (void)even.build({1, 1, 3, 3});
      },
      "gives an output extent 4 that a \"same\" Conv2D with stride 2 does not "
      "map back to 3");
  expect_error_containing(
      [] {
        (void)conv_transpose2d(ones({1, 2, 3, 3}), ones({3, 1, 2, 2}), Tensor());
      },
      "conv_transpose2d: input of shape [1, 2, 3, 3] has 2 channels");
}

// ---- global pooling, padding, upsampling ----

TEST(GlobalPooling2D, MeanAndMaxOverTheImage) {
  reset_layer_names();
  GlobalAveragePooling2D average;
  GlobalMaxPooling2D maximum;
  EXPECT_EQ(average.name(), "global_average_pooling2d");
  EXPECT_EQ(maximum.name(), "global_max_pooling2d");
  const Tensor x = leaf({2, 3, 4, 5}, 50);
  const std::vector<double> xv = x.to_vector<double>();
  const std::vector<double> avg = average(x).to_vector<double>();
  const std::vector<double> mx = maximum(x).to_vector<double>();
  ASSERT_EQ(avg.size(), 6U);
  for (size_t plane = 0; plane < 6; ++plane) {
    double sum = 0.0;
    double best = -1e300;
    for (size_t i = 0; i < 20; ++i) {
      sum += xv[plane * 20 + i];
      best = std::max(best, xv[plane * 20 + i]);
    }
    EXPECT_NEAR(avg[plane], sum / 20.0, 1e-15);
    EXPECT_EQ(mx[plane], best);
  }
  EXPECT_EQ(GlobalAveragePooling2D(true)(x).shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(GlobalMaxPooling2D(true).build({2, 3, 4, 5}), (Shape{2, 3, 1, 1}));
  expect_gradcheck([&](const std::vector<Tensor>& in) { return average(in[0]); },
                   {testing::transposed_leaf({2, 3, 2, 2}, 51)}, "GlobalAveragePooling2D");
  expect_gradcheck([&](const std::vector<Tensor>& in) { return maximum(in[0]); },
                   {testing::strided_leaf({2, 2, 3, 2}, 52)}, "GlobalMaxPooling2D");
  expect_error_containing([&] { (void)average(ones({2, 3})); }, "GlobalAveragePooling2D");
}

TEST(GlobalPooling2D, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  GlobalAveragePooling2D average;
  const Tensor xa = pattern_leaf({2, 3, 4, 5}, 84, 50.0);
  const Tensor ya = average(xa);
  (ya * pattern_tensor({2, 3}, 85, 100.0)).sum().backward();
  expect_close(ya, kGlobalAverageOutput, "average output");
  expect_close(xa.grad(), kGlobalAverageInputGrad, "average input grad");
  GlobalMaxPooling2D maximum;
  const Tensor xm = pattern_leaf({2, 3, 4, 5}, 86, 50.0);
  const Tensor ym = maximum(xm);
  (ym * pattern_tensor({2, 3}, 87, 100.0)).sum().backward();
  expect_close(ym, kGlobalMaxOutput, "max output");
  expect_close(xm.grad(), kGlobalMaxInputGrad, "max input grad");
}

TEST(ZeroPadding2D, PadsWithZerosAndCropsTheGradient) {
  reset_layer_names();
  ZeroPadding2D pad({1, 2}, {0, 3});
  EXPECT_EQ(pad.name(), "zero_padding2d");
  EXPECT_EQ(pad.build({2, 3, 4, 5}), (Shape{2, 3, 7, 8}));
  EXPECT_EQ(ZeroPadding2D().build({1, 1, 2, 2}), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(ZeroPadding2D(Size2{2, 1}).build({1, 1, 2, 2}), (Shape{1, 1, 6, 4}));
  const Tensor x = ramp_image(2, 2);
  // [[0, 1], [2, 3]] inside one row above, two below, three columns on the right.
  const std::vector<double> expected = {0, 0, 0, 0, 0,  //
                                        0, 1, 0, 0, 0,  //
                                        2, 3, 0, 0, 0,  //
                                        0, 0, 0, 0, 0,  //
                                        0, 0, 0, 0, 0};
  EXPECT_EQ(pad(x).to_vector<double>(), expected);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return pad(in[0]); },
                   {testing::transposed_leaf({2, 2, 2, 3}, 53)}, "ZeroPadding2D");
  expect_error_containing([] { ZeroPadding2D bad(-1); }, "ZeroPadding2D: padding must be");
}

TEST(UpSampling2D, RepeatsEachPixel) {
  reset_layer_names();
  UpSampling2D up(Size2{2, 3});
  EXPECT_EQ(up.name(), "up_sampling2d");
  const std::vector<double> got = up(ramp_image(2, 2)).to_vector<double>();
  ASSERT_EQ(got.size(), 24U);
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 6; ++c) {
      // Nearest neighbour: source row r / 2, column c / 3 (integer division).
      const size_t source = (r / 2) * 2 + c / 3;
      EXPECT_EQ(got[r * 6 + c], static_cast<double>(source));
    }
  }
  expect_gradcheck([&](const std::vector<Tensor>& in) { return up(in[0]); },
                   {testing::strided_leaf({1, 2, 2, 3}, 54)}, "UpSampling2D");
  expect_gradcheck([](const std::vector<Tensor>& in) { return UpSampling2D(1)(in[0]); },
                   {leaf({1, 1, 1, 1}, 55)}, "UpSampling2D size one");
  expect_error_containing(
      [] {
        UpSampling2D bad(Size2{2, 2}, "bilinear");
      },
      R"(only "nearest" interpolation)");
}

TEST(PaddingAndUpSampling, MatchPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  UpSampling2D up(Size2{2, 3});
  const Tensor xu = pattern_leaf({2, 3, 2, 3}, 80, 50.0);
  const Tensor yu = up(xu);
  (yu * pattern_tensor({2, 3, 4, 9}, 81, 100.0)).sum().backward();
  expect_close(yu, kUpSamplingOutput, "upsampling output");
  expect_close(xu.grad(), kUpSamplingInputGrad, "upsampling input grad");
  ZeroPadding2D pad({1, 2}, {0, 3});
  const Tensor xp = pattern_leaf({2, 3, 2, 3}, 82, 50.0);
  const Tensor yp = pad(xp);
  (yp * pattern_tensor({2, 3, 5, 6}, 83, 100.0)).sum().backward();
  expect_close(yp, kZeroPaddingOutput, "padding output");
  expect_close(xp.grad(), kZeroPaddingInputGrad, "padding input grad");
}

}  // namespace
}  // namespace nabla::nn
