// Conv2D, MaxPooling2D and AveragePooling2D: Keras padding rules on NCHW, values, gradients,
// errors.
#include "nn/conv_layers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

}  // namespace
}  // namespace nabla::nn
