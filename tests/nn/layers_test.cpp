// Dense, Flatten, Dropout and BatchNormalization: shapes, values, gradients and errors.
#include "nn/layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

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

// ---- Dense ----

TEST(Dense, KernelIsInputsByUnitsLikeKeras) {
  reset_layer_names();
  Dense dense(3, {.input_dim = 4});
  EXPECT_TRUE(dense.built());
  EXPECT_EQ(dense.kernel().shape(), (Shape{4, 3}));
  EXPECT_EQ(dense.bias().shape(), (Shape{3}));
  EXPECT_EQ(dense.name(), "dense");
  const NamedTensors named = dense.named_parameters();
  ASSERT_EQ(named.size(), 2U);
  EXPECT_EQ(named[0].first, "kernel");
  EXPECT_EQ(named[1].first, "bias");
  EXPECT_EQ(dense.trainable_parameter_count(), 15);
  // Keras's defaults: glorot_uniform kernel, zero bias.
  const double limit = std::sqrt(6.0 / 7.0);
  for (const float v : dense.kernel().to_vector<float>()) EXPECT_LE(std::abs(v), limit);
  for (const float v : dense.bias().to_vector<float>()) EXPECT_EQ(v, 0.0F);
}

TEST(Dense, InfersInputDimAtTheFirstCall) {
  Dense dense(5);
  EXPECT_FALSE(dense.built());
  EXPECT_FALSE(dense.input_dim().has_value());
  EXPECT_EQ(dense.build({8, 7}), (Shape{8, 5}));
  EXPECT_EQ(dense.kernel().shape(), (Shape{7, 5}));
  Dense lazy(2);
  EXPECT_EQ(lazy(ones({3, 6})).shape(), (Shape{3, 2}));
  EXPECT_EQ(lazy.input_dim(), 6);
}

TEST(Dense, ComputesActivationOfXTimesKernelPlusBias) {
  Dense dense(2, {.activation = "relu", .input_dim = 3, .dtype = kFloat64});
  assign(dense.kernel(), {1, -1, 2, 0, 0, 3});  // [[1, -1], [2, 0], [0, 3]]
  assign(dense.bias(), {0.5, -10});
  const Tensor x = tensor({{1.0, 2.0, 3.0}, {-1.0, 0.0, 4.0}}, kFloat64);
  // x @ kernel = [[5, 8], [-1, 13]]; + bias = [[5.5, -2], [-0.5, 3]]; relu.
  EXPECT_EQ(dense(x).to_vector<double>(), (std::vector<double>{5.5, 0.0, 0.0, 3.0}));
}

TEST(Dense, AppliesToTheLastAxisOfHigherRankInputs) {
  Dense dense(4, {.input_dim = 3});
  EXPECT_EQ(dense(ones({2, 5, 3})).shape(), (Shape{2, 5, 4}));
}

TEST(Dense, WithoutBias) {
  Dense dense(4, {.use_bias = false, .input_dim = 3});
  EXPECT_FALSE(dense.bias().defined());
  EXPECT_EQ(dense.parameters().size(), 1U);
  EXPECT_EQ(dense.trainable_parameter_count(), 12);
}

TEST(Dense, SeedMakesInitializationReproducible) {
  Dense a(8, {.input_dim = 5, .seed = 11});
  Dense b(8, {.input_dim = 5, .seed = 11});
  Dense c(8, {.input_dim = 5, .seed = 12});
  EXPECT_EQ(a.kernel().to_vector<float>(), b.kernel().to_vector<float>());
  EXPECT_NE(a.kernel().to_vector<float>(), c.kernel().to_vector<float>());
}

TEST(Dense, GradcheckWithRespectToInputKernelAndBias) {
  for (const std::string activation : {"linear", "tanh", "softmax"}) {
    Dense dense(3, {.activation = activation, .input_dim = 4, .seed = 3, .dtype = kFloat64});
    assign(dense.bias(), {0.1, -0.2, 0.3});
    expect_gradcheck([&dense](const std::vector<Tensor>& in) { return dense(in[0]); },
                     {leaf({5, 4}, 21), dense.kernel(), dense.bias()}, "Dense " + activation);
  }
}

TEST(Dense, ShapeErrorsNameTheLayerAndShapes) {
  Dense dense(3, {.input_dim = 4});
  expect_error_containing(
      [&] {
        (void)dense(ones({2, 5}));
      },
      "Dense: input of shape [2, 5] has 5 features, expected 4");
  expect_error_containing([&] { (void)dense(ones({4})); }, "Dense: input of shape [4]");
  expect_error_containing([&] { (void)dense(ones({2, 4}, kFloat64)); }, "dtype float64");
  expect_error_containing([] { Dense(0); }, "Dense: units must be positive");
  expect_error_containing([] { Dense(2, {.activation = "relux"}); },
                          "Dense: unknown activation 'relux'");
  expect_error_containing([] { Dense(2, {.kernel_initializer = "glorot"}); },
                          "Dense: kernel_initializer: unknown initializer 'glorot'");
}

// ---- Flatten ----

TEST(Flatten, KeepsTheBatchDim) {
  Flatten flatten;
  const Tensor x = arange(0, 24, 1, kFloat32).reshape({2, 3, 2, 2});
  const Tensor y = flatten(x);
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(flatten.build({5, 3, 4}), (Shape{5, 12}));
  EXPECT_EQ(flatten(ones({3})).shape(), (Shape{3, 1}));
  expect_error_containing([&] { (void)flatten(ones({})); }, "Flatten: input of shape []");
}

// ---- Dropout ----

TEST(Dropout, IsTheIdentityInEvalModeAndAtRateZero) {
  const Tensor x = leaf({4, 5}, 1);
  Dropout dropout(0.5, 1);
  dropout.eval();
  EXPECT_EQ(dropout(x).to_vector<double>(), x.to_vector<double>());
  Dropout none(0.0);
  EXPECT_EQ(none(x).to_vector<double>(), x.to_vector<double>());
}

TEST(Dropout, DropsTheRateAndScalesSurvivors) {
  Dropout dropout(0.3, 2024);
  ASSERT_TRUE(dropout.is_training());
  const std::vector<float> y = dropout(ones({200, 500})).to_vector<float>();
  int64_t zeros_count = 0;
  double total = 0.0;
  for (const float v : y) {
    if (v == 0.0F) {
      ++zeros_count;
    } else {
      EXPECT_FLOAT_EQ(v, static_cast<float>(1.0 / 0.7));
    }
    total += v;
  }
  const double n = static_cast<double>(y.size());
  EXPECT_NEAR(static_cast<double>(zeros_count) / n, 0.3, 0.01);
  // Inverted dropout keeps the expectation: the mean stays 1.
  EXPECT_NEAR(total / n, 1.0, 0.015);
}

TEST(Dropout, SeedReproducesMasksAndCallsDiffer) {
  Dropout a(0.5, 42);
  Dropout b(0.5, 42);
  const std::vector<float> first = a(ones({64})).to_vector<float>();
  EXPECT_EQ(first, b(ones({64})).to_vector<float>());
  EXPECT_NE(first, a(ones({64})).to_vector<float>());
}

TEST(Dropout, GradientIsTheScaledMask) {
  Dropout dropout(0.25, 9);
  Tensor x = ones({10, 10}, kFloat64);
  x.requires_grad_();
  const Tensor y = dropout(x);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), y.to_vector<double>());
}

TEST(Dropout, RejectsRatesOutsideZeroToOne) {
  expect_error_containing([] { Dropout(1.0); }, "Dropout: rate must be in [0, 1), got 1");
  expect_error_containing([] { Dropout(-0.1); }, "Dropout: rate");
}

// ---- BatchNormalization ----

TEST(BatchNormalization, TrainModeMatchesPyTorchAndUpdatesMovingStats) {
  BatchNormalization bn({.dtype = kFloat64});
  const Tensor x = tensor({{1.0, 2.0}, {3.0, 6.0}, {5.0, 1.0}}, kFloat64);
  const std::vector<double> y = bn(x).to_vector<double>();
  // torch.nn.BatchNorm1d(2, eps=1e-3) in training mode on the same batch.
  const std::vector<double> expected = {
      -1.2245152962941819, -0.4628604603505353, 0.0,
      1.388581381051606,   1.2245152962941819,  -0.9257209207010706};
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-12) << i;
  // moving = 0.99 * moving + 0.01 * batch, with the biased batch variance (as Keras).
  const std::vector<double> mean = bn.moving_mean().to_vector<double>();
  const std::vector<double> variance = bn.moving_variance().to_vector<double>();
  EXPECT_NEAR(mean[0], 0.03, 1e-15);
  EXPECT_NEAR(mean[1], 0.03, 1e-15);
  EXPECT_NEAR(variance[0], 0.99 + 0.01 * 8.0 / 3.0, 1e-15);
  EXPECT_NEAR(variance[1], 0.99 + 0.01 * 14.0 / 3.0, 1e-15);
  EXPECT_FALSE(bn.moving_mean().requires_grad());
}

TEST(BatchNormalization, EvalModeUsesMovingStats) {
  BatchNormalization bn({.epsilon = 1e-3, .num_features = 2, .dtype = kFloat64});
  assign(bn.moving_mean(), {1.0, -2.0});
  assign(bn.moving_variance(), {4.0, 0.25});
  assign(bn.gamma(), {2.0, 1.0});
  assign(bn.beta(), {0.5, 0.0});
  bn.eval();
  const Tensor x = tensor({{3.0, -1.0}}, kFloat64);
  const std::vector<double> y = bn(x).to_vector<double>();
  EXPECT_NEAR(y[0], 2.0 * (3.0 - 1.0) / std::sqrt(4.001) + 0.5, 1e-12);
  EXPECT_NEAR(y[1], (-1.0 + 2.0) / std::sqrt(0.251), 1e-12);
  EXPECT_EQ(bn.moving_mean().to_vector<double>(), (std::vector<double>{1.0, -2.0}));
}

TEST(BatchNormalization, NormalizesEachChannelOfNCHW) {
  reset_layer_names();
  BatchNormalization bn;
  const Tensor x = uniform({4, 3, 5, 5}, -3.0, 7.0);
  const Tensor y = bn(x);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(bn.gamma().shape(), (Shape{3}));
  const std::vector<double> channel_mean = mean(y, {0, 2, 3}).to_vector<double>();
  const std::vector<double> channel_var = var(y, {0, 2, 3}, 0).to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(channel_mean[static_cast<size_t>(c)], 0.0, 1e-5);
    EXPECT_NEAR(channel_var[static_cast<size_t>(c)], 1.0, 1e-3);
  }
  // Keras counts 4 per feature: gamma and beta trainable, the moving stats not.
  EXPECT_EQ(bn.trainable_parameter_count(), 6);
  EXPECT_EQ(bn.non_trainable_parameter_count(), 6);
  const NamedTensors state = bn.state();
  ASSERT_EQ(state.size(), 4U);
  EXPECT_EQ(state[0].first, "gamma");
  EXPECT_EQ(state[3].first, "moving_variance");
}

TEST(BatchNormalization, GradcheckInTrainMode) {
  BatchNormalization dense_bn({.num_features = 3, .dtype = kFloat64});
  assign(dense_bn.gamma(), {1.5, -0.5, 2.0});
  assign(dense_bn.beta(), {0.1, 0.2, -0.3});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return dense_bn(in[0]); },
                   {leaf({5, 3}, 31), dense_bn.gamma(), dense_bn.beta()},
                   "BatchNormalization [5,3]");
  BatchNormalization image_bn({.num_features = 2, .dtype = kFloat64});
  assign(image_bn.gamma(), {0.7, 1.3});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return image_bn(in[0]); },
                   {leaf({2, 2, 3, 2}, 32), image_bn.gamma(), image_bn.beta()},
                   "BatchNormalization NCHW");
}

TEST(BatchNormalization, GradcheckInEvalMode) {
  BatchNormalization bn({.num_features = 3, .dtype = kFloat64});
  assign(bn.moving_mean(), {0.1, 0.2, 0.3});
  assign(bn.moving_variance(), {0.5, 1.5, 2.5});
  bn.eval();
  expect_gradcheck([&](const std::vector<Tensor>& in) { return bn(in[0]); },
                   {leaf({4, 3}, 33), bn.gamma(), bn.beta()}, "BatchNormalization eval");
}

TEST(BatchNormalization, ShapeErrorsNameTheLayer) {
  BatchNormalization bn({.num_features = 3});
  expect_error_containing(
      [&] {
        (void)bn(ones({2, 4}));
      },
      "BatchNormalization: input of shape [2, 4] has 4 features on axis 1, "
      "expected 3");
  expect_error_containing([&] { (void)bn(ones({3})); }, "BatchNormalization: input of shape [3]");
  BatchNormalization last({.axis = -1});
  EXPECT_EQ(last(ones({2, 3, 5})).shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(last.gamma().shape(), (Shape{5}));
}

// ---- LayerNormalization ----

TEST(LayerNormalization, NormalizesEachSampleOverTheLastAxis) {
  reset_layer_names();
  LayerNormalization norm({.dtype = kFloat64});
  EXPECT_FALSE(norm.built());
  const Tensor x = leaf({2, 3, 4}, 60);
  const std::vector<double> y = norm(x).to_vector<double>();
  EXPECT_EQ(norm.name(), "layer_normalization");
  EXPECT_EQ(norm.gamma().shape(), (Shape{4}));
  EXPECT_EQ(norm.named_parameters()[0].first, "gamma");
  EXPECT_EQ(norm.named_parameters()[1].first, "beta");
  const std::vector<double> xv = x.to_vector<double>();
  for (size_t row = 0; row < 6; ++row) {
    double m = 0.0;
    for (size_t i = 0; i < 4; ++i) m += xv[row * 4 + i] / 4.0;
    double v = 0.0;
    for (size_t i = 0; i < 4; ++i) v += (xv[row * 4 + i] - m) * (xv[row * 4 + i] - m) / 4.0;
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(y[row * 4 + i], (xv[row * 4 + i] - m) / std::sqrt(v + 1e-3), 1e-14);
    }
  }
  // The same in eval mode: no batch statistics.
  norm.eval();
  EXPECT_EQ(norm(x).to_vector<double>(), y);
}

TEST(LayerNormalization, Gradcheck) {
  LayerNormalization last({.dtype = kFloat64});
  LayerNormalization two({.axis = {1, 2}, .dtype = kFloat64});
  LayerNormalization middle({.axis = {1}, .center = false, .dtype = kFloat64});
  for (LayerNormalization* norm : {&last, &two, &middle}) {
    norm->build({2, 3, 4});
    const NoGradGuard no_grad;
    Tensor g = norm->gamma();
    g.copy_(uniform(g.shape(), 0.5, 1.5, kFloat64));
  }
  expect_gradcheck([&](const std::vector<Tensor>& in) { return last(in[0]); },
                   {leaf({2, 3, 4}, 61), last.gamma(), last.beta()}, "LayerNormalization -1");
  expect_gradcheck([&](const std::vector<Tensor>& in) { return two(in[0]); },
                   {testing::transposed_leaf({2, 3, 4}, 62), two.gamma(), two.beta()},
                   "LayerNormalization {1, 2}");
  expect_gradcheck([&](const std::vector<Tensor>& in) { return middle(in[0]); },
                   {testing::strided_leaf({2, 3, 4}, 63), middle.gamma()},
                   "LayerNormalization {1} without beta");
}

TEST(LayerNormalization, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  LayerNormalization last({.dtype = kFloat64});
  last.build({2, 3, 4});
  std::vector<double> gamma = pattern({4}, 51, 100.0);
  for (double& g : gamma) g += 1.0;
  assign(last.gamma(), gamma);
  assign(last.beta(), pattern({4}, 52, 100.0));
  const Tensor x = pattern_leaf({2, 3, 4}, 50, 50.0);
  const Tensor y = last(x);
  (y * pattern_tensor({2, 3, 4}, 53, 100.0)).sum().backward();
  expect_close(y, kLayerNormOutput, "output");
  expect_close(x.grad(), kLayerNormInputGrad, "input grad");
  expect_close(last.gamma().grad(), kLayerNormGammaGrad, "gamma grad");
  expect_close(last.beta().grad(), kLayerNormBetaGrad, "beta grad");

  LayerNormalization two({.axis = {-2, -1}, .center = false, .dtype = kFloat64});
  two.build({2, 3, 4});
  EXPECT_FALSE(two.beta().defined());
  std::vector<double> gamma2 = pattern({3, 4}, 55, 100.0);
  for (double& g : gamma2) g += 1.0;
  assign(two.gamma(), gamma2);
  const Tensor x2 = pattern_leaf({2, 3, 4}, 54, 50.0);
  const Tensor y2 = two(x2);
  (y2 * pattern_tensor({2, 3, 4}, 56, 100.0)).sum().backward();
  expect_close(y2, kLayerNormTwoAxesOutput, "two axes output");
  expect_close(x2.grad(), kLayerNormTwoAxesInputGrad, "two axes input grad");
  expect_close(two.gamma().grad(), kLayerNormTwoAxesGammaGrad, "two axes gamma grad");
}

TEST(LayerNormalization, ErrorsNameTheLayerAndShapes) {
  LayerNormalization norm;
  (void)norm(ones({2, 4}));
  expect_error_containing(
      [&] {
        (void)norm(ones({2, 5}));
      },
      "LayerNormalization: input of shape [2, 5] has extents [5] on the axes, "
      "expected [4]");
  LayerNormalization batch({.axis = {0}});
  expect_error_containing([&] { (void)batch(ones({2, 4})); }, "is the batch dim");
  LayerNormalization far({.axis = {3}});
  expect_error_containing([&] { (void)far(ones({2, 4})); }, "axis 3 is out of range");
  expect_error_containing([] { LayerNormalization bad({.epsilon = 0.0}); },
                          "epsilon must be positive");
}

}  // namespace
}  // namespace nabla::nn
