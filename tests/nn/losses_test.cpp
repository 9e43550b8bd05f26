// Loss values against hand-computed and PyTorch numbers, stability at extremes, gradients.
#include "nn/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/nn/golden_support.h"
#include "tests/nn/layer_goldens.h"
#include "tests/support/gradcheck_support.h"

namespace nabla::nn {
namespace {

using testing::expect_gradcheck;
using testing::leaf;

bool all_finite(const Tensor& t) {
  for (const double v : t.to_vector<double>()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

// The loss value and, after backward, the gradient w.r.t. the prediction must both be finite.
void expect_finite_with_gradient(const std::function<Tensor(const Tensor&)>& loss_of,
                                 Tensor prediction, const std::string& what) {
  prediction.requires_grad_();
  const Tensor loss = loss_of(prediction);
  EXPECT_TRUE(std::isfinite(loss.item())) << what << ": " << loss.item();
  loss.backward();
  ASSERT_TRUE(prediction.grad().defined()) << what;
  EXPECT_TRUE(all_finite(prediction.grad())) << what;
}

const Tensor& logits() {
  static const Tensor t = tensor({{2.0, 1.0, 0.1}, {0.5, 2.5, 0.3}}, kFloat64);
  return t;
}

TEST(Losses, MeanSquaredErrorIsTheMeanOverEveryElement) {
  const Tensor pred = tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64);
  const Tensor target = tensor({{1.5, 2.0}, {2.0, 5.0}}, kFloat64);
  EXPECT_DOUBLE_EQ(mean_squared_error(pred, target).item(), (0.25 + 0.0 + 1.0 + 1.0) / 4.0);
  EXPECT_DOUBLE_EQ(mean_squared_error(pred, target).item(), 0.5625);
  EXPECT_DOUBLE_EQ(mean_absolute_error(pred, target).item(), (0.5 + 0.0 + 1.0 + 1.0) / 4.0);
  EXPECT_EQ(mean_squared_error(pred, target).dim(), 0);
}

TEST(Losses, MismatchedShapesAreErrorsNotBroadcasts) {
  try {
    (void)mean_squared_error(ones({4, 1}), ones({4}));
    FAIL() << "expected nabla::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mean_squared_error: y_pred of shape [4, 1] and y_true of "
                                         "shape [4] differ"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)binary_crossentropy(ones({3}), ones({3, 1})), Error);
  EXPECT_THROW((void)categorical_crossentropy(ones({2, 3}), ones({2, 4})), Error);
}

TEST(Losses, CategoricalCrossentropyOnProbabilities) {
  const Tensor probs = tensor({{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}}, kFloat64);
  const Tensor target = tensor({{1.0, 0.0, 0.0}, {0.0, 0.0, 1.0}}, kFloat64);
  const double expected = (-std::log(0.7) - std::log(0.8)) / 2.0;  // 0.2899092476264711
  EXPECT_NEAR(categorical_crossentropy(probs, target).item(), expected, 1e-15);
  // Keras renormalizes rows that do not sum to 1.
  EXPECT_NEAR(categorical_crossentropy(probs * 3.0, target).item(), expected, 1e-15);
  // Integer one-hot targets are accepted.
  EXPECT_NEAR(
      categorical_crossentropy(probs, tensor(std::vector<int64_t>{1, 0, 0, 0, 0, 1}, {2, 3}))
          .item(),
      expected, 1e-15);
}

TEST(Losses, CategoricalCrossentropyFromLogitsMatchesPyTorch) {
  const Tensor target = tensor({{1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}}, kFloat64);
  // torch.nn.functional.cross_entropy(logits, [0, 1]) in float64.
  EXPECT_NEAR(categorical_crossentropy(logits(), target, true).item(), 0.31853976964918573, 1e-15);
  EXPECT_NEAR(categorical_crossentropy(logits(), target, true).item(), 0.31853976964918573, 1e-15);
  // Soft targets: mean(-(t * log_softmax(logits)).sum(1)) in PyTorch.
  const Tensor soft = tensor({{0.2, 0.3, 0.5}, {0.6, 0.3, 0.1}}, kFloat64);
  EXPECT_NEAR(categorical_crossentropy(logits(), soft, true).item(), 1.6535397696491856, 1e-14);
  // Over axis 0 of the transposed problem: the same number.
  EXPECT_NEAR(categorical_crossentropy(logits().t(), target.t(), true, 0).item(),
              0.31853976964918573, 1e-15);
}

TEST(Losses, SparseCategoricalCrossentropyMatchesTheDenseForm) {
  const Tensor labels = tensor(std::vector<int64_t>{0, 1}, {2});
  EXPECT_NEAR(sparse_categorical_crossentropy(logits(), labels, true).item(), 0.31853976964918573,
              1e-15);
  EXPECT_NEAR(sparse_categorical_crossentropy(logits(), labels.reshape({2, 1}), true).item(),
              0.31853976964918573, 1e-15);
  const Tensor probs = tensor({{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}}, kFloat64);
  EXPECT_NEAR(
      sparse_categorical_crossentropy(probs, tensor(std::vector<int64_t>{0, 2}, {2})).item(),
      (-std::log(0.7) - std::log(0.8)) / 2.0, 1e-15);
}

TEST(Losses, SparseLabelsAreValidated) {
  const auto message_of = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message_of([] {
              (void)sparse_categorical_crossentropy(logits(),
                                                    tensor(std::vector<int64_t>{0, 3}, {2}), true);
            }).find("sparse_categorical_crossentropy: label 3 is out of range for 3 classes"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              (void)sparse_categorical_crossentropy(logits(), tensor({0.0, 1.0}, kFloat64), true);
            }).find("labels must be int64"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              (void)sparse_categorical_crossentropy(
                  logits(), tensor(std::vector<int64_t>{0, 1, 2}, {3}), true);
            }).find("labels of shape [3] do not match y_pred of shape [2, 3]"),
            std::string::npos);
}

TEST(Losses, BinaryCrossentropyOnProbabilitiesAndLogits) {
  const Tensor probs = tensor({0.9, 0.2, 0.6}, kFloat64);
  const Tensor target = tensor({1.0, 0.0, 0.0}, kFloat64);
  EXPECT_NEAR(binary_crossentropy(probs, target).item(), 0.414931599615397, 1e-15);
  // torch.nn.functional.binary_cross_entropy_with_logits([2, -1, 0.5], [1, 0, 1]).
  EXPECT_NEAR(binary_crossentropy(tensor({2.0, -1.0, 0.5}, kFloat64),
                                  tensor({1.0, 0.0, 1.0}, kFloat64), true)
                  .item(),
              0.3047555609137674, 1e-15);
}

TEST(Losses, StableAtExtremeLogits) {
  // log_softmax of [1e4, -1e4, 0] at class 1 is exactly -2e4.
  const Tensor extreme = tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 0.0}}, kFloat64);
  const Tensor target = tensor({{0.0, 1.0, 0.0}, {0.0, 1.0, 0.0}}, kFloat64);
  EXPECT_DOUBLE_EQ(categorical_crossentropy(extreme, target, true).item(), 1e4);
  EXPECT_DOUBLE_EQ(
      sparse_categorical_crossentropy(extreme, tensor(std::vector<int64_t>{1, 1}, {2}), true)
          .item(),
      1e4);
  // BCE on logits: x = 1e4 with z = 0 and x = -1e4 with z = 1 cost 1e4 each; right answers 0.
  EXPECT_DOUBLE_EQ(binary_crossentropy(tensor({1e4, -1e4, 1e4, -1e4}, kFloat64),
                                       tensor({0.0, 1.0, 1.0, 0.0}, kFloat64), true)
                       .item(),
                   (1e4 + 1e4 + 0.0 + 0.0) / 4.0);
  for (const DType dtype : {kFloat32, kFloat64}) {
    const std::string name(dtype_name(dtype));
    const Tensor x = tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 3.0}}, dtype);
    const Tensor t = tensor({{0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, dtype);
    expect_finite_with_gradient(
        [&](const Tensor& p) { return categorical_crossentropy(p, t, true); }, x.clone(),
        "cce logits " + name);
    expect_finite_with_gradient(
        [&](const Tensor& p) {
          return sparse_categorical_crossentropy(p, tensor(std::vector<int64_t>{1, 0}, {2}), true);
        },
        x.clone(), "sparse cce logits " + name);
    expect_finite_with_gradient([&](const Tensor& p) { return binary_crossentropy(p, t, true); },
                                x.clone(), "bce logits " + name);
  }
}

TEST(Losses, StableAtProbabilitiesOfExactlyZeroAndOne) {
  for (const DType dtype : {kFloat32, kFloat64}) {
    const std::string name(dtype_name(dtype));
    const Tensor p = tensor({{0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, dtype);
    const Tensor t = tensor({{1.0, 0.0, 0.0}, {1.0, 0.0, 0.0}}, dtype);
    expect_finite_with_gradient([&](const Tensor& q) { return categorical_crossentropy(q, t); },
                                p.clone(), "cce probs " + name);
    expect_finite_with_gradient([&](const Tensor& q) { return binary_crossentropy(q, t); },
                                p.clone(), "bce probs " + name);
    expect_finite_with_gradient(
        [&](const Tensor& q) {
          return sparse_categorical_crossentropy(q, tensor(std::vector<int64_t>{0, 0}, {2}));
        },
        p.clone(), "sparse cce probs " + name);
  }
  // Clipping at 1e-7 bounds each wrong, certain answer at -log(1e-7) = 16.118...
  const Tensor wrong = tensor({0.0, 1.0}, kFloat64);
  EXPECT_NEAR(binary_crossentropy(wrong, tensor({1.0, 0.0}, kFloat64)).item(), 16.11809565095832,
              1e-8);
  EXPECT_NEAR(binary_crossentropy(wrong, tensor({0.0, 1.0}, kFloat64)).item(), -std::log1p(-1e-7),
              1e-15);
}

TEST(Losses, GradcheckWithRespectToPredictions) {
  Generator generator(3);
  const Tensor soft_target = softmax(uniform({4, 3}, -1.0, 1.0, kFloat64, &generator), 1);
  const Tensor binary_target = tensor({1.0, 0.0, 1.0, 1.0, 0.0, 0.0}, {2, 3}, kFloat64);
  const Tensor labels = tensor(std::vector<int64_t>{2, 0, 1, 2}, {4});
  const Tensor regression_target = uniform({4, 3}, -1.0, 1.0, kFloat64, &generator);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return mean_squared_error(in[0], regression_target); },
      {leaf({4, 3}, 41)}, "mean_squared_error");
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return categorical_crossentropy(in[0], soft_target, true);
      },
      {leaf({4, 3}, 42, -3.0, 3.0)}, "categorical_crossentropy logits");
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return categorical_crossentropy(in[0], soft_target); },
      {leaf({4, 3}, 43, 0.05, 0.95)}, "categorical_crossentropy probabilities");
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return sparse_categorical_crossentropy(in[0], labels, true);
      },
      {leaf({4, 3}, 44, -3.0, 3.0)}, "sparse_categorical_crossentropy logits");
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return sparse_categorical_crossentropy(in[0], labels); },
      {leaf({4, 3}, 45, 0.05, 0.95)}, "sparse_categorical_crossentropy probabilities");
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return binary_crossentropy(in[0], binary_target, true);
      },
      {leaf({2, 3}, 46, -4.0, 4.0)}, "binary_crossentropy logits");
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return binary_crossentropy(in[0], binary_target); },
      {leaf({2, 3}, 47, 0.05, 0.95)}, "binary_crossentropy probabilities");
}

TEST(Losses, BinaryCrossentropyFromLogitsHasTheRightGradientAtZero) {
  // d/dx = sigmoid(x) - z = 0.5 - z at x = 0, where max(x, 0) and |x| have kinks.
  Tensor x = zeros({2}, kFloat64);
  x.requires_grad_();
  binary_crossentropy(x, tensor({1.0, 0.0}, kFloat64), true).backward();
  const std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(g[0], -0.5 / 2.0);
  EXPECT_DOUBLE_EQ(g[1], 0.5 / 2.0);
}

// ---- Huber, KL divergence, hinge ----

TEST(Losses, HuberIsQuadraticInsideDeltaAndLinearOutside) {
  const Tensor p = tensor({0.5, -3.0, 1.0, 2.0}, kFloat64);
  const Tensor t = tensor({0.0, 0.0, 0.0, -0.5}, kFloat64);
  // errors 0.5, -3, 1, 2.5 with delta 1: 0.125, 2.5, 0.5, 2.0.
  EXPECT_NEAR(huber(p, t).item(), (0.125 + 2.5 + 0.5 + 2.0) / 4.0, 1e-15);
  // delta 2: 0.125, 4.0, 0.5, 3.0.
  EXPECT_NEAR(huber(p, t, 2.0).item(), (0.125 + 4.0 + 0.5 + 3.0) / 4.0, 1e-15);
  expect_gradcheck([](const std::vector<Tensor>& in) { return huber(in[0], in[1], 0.7); },
                   {leaf({3, 4}, 70, -2.0, 2.0), leaf({3, 4}, 71)}, "huber");
  EXPECT_THROW((void)huber(p, t, 0.0), Error);
}

TEST(Losses, KlDivergenceSumsOverTheLastAxis) {
  const Tensor p = tensor({{0.25, 0.75}, {0.5, 0.5}}, kFloat64);
  const Tensor t = tensor({{0.5, 0.5}, {1.0, 0.0}}, kFloat64);
  const double row0 = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  const double row1 = 1.0 * std::log(1.0 / 0.5) + 1e-7 * std::log(1e-7 / 0.5);  // 0 clipped
  EXPECT_NEAR(kl_divergence(p, t).item(), (row0 + row1) / 2.0, 1e-12);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return kl_divergence(softmax(in[0], -1), softmax(in[1], -1));
      },
      {leaf({2, 3, 4}, 72), leaf({2, 3, 4}, 73)}, "kl_divergence");
}

TEST(Losses, HingeMapsZeroOneLabelsToPlusMinusOne) {
  const Tensor p = tensor({0.3, -2.0, 0.5, 1.5}, kFloat64);
  const Tensor zero_one = tensor({1.0, 0.0, 0.0, 1.0}, kFloat64);
  const Tensor signs = tensor({1.0, -1.0, -1.0, 1.0}, kFloat64);
  // 1 - t p: 0.7, -1, 1.5, -0.5 -> 0.7, 0, 1.5, 0.
  EXPECT_NEAR(hinge(p, zero_one).item(), 2.2 / 4.0, 1e-15);
  EXPECT_NEAR(hinge(p, signs).item(), 2.2 / 4.0, 1e-15);
  EXPECT_NEAR(squared_hinge(p, signs).item(), (0.49 + 2.25) / 4.0, 1e-15);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return hinge(in[0], signs); },
                   {tensor({0.3, -2.0, 0.5, 1.5}, kFloat64).requires_grad_()}, "hinge");
  expect_gradcheck([&](const std::vector<Tensor>& in) { return squared_hinge(in[0], zero_one); },
                   {tensor({0.3, -2.0, 0.5, 1.5}, kFloat64).requires_grad_()}, "squared_hinge");
}

TEST(Losses, HuberKlAndHingeMatchPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  const Tensor t = pattern_tensor({3, 4}, 91, 40.0);
  for (const auto& [delta, loss, grad] : {std::tuple{1.0, kHuberLoss.data(), kHuberGrad},
                                          std::tuple{0.5, kHuberHalfLoss.data(), kHuberHalfGrad}}) {
    const Tensor p = pattern_leaf({3, 4}, 90, 50.0);
    const Tensor value = huber(p, t, delta);
    value.backward();
    EXPECT_NEAR(value.item(), *loss, 1e-12) << delta;
    expect_close(p.grad(), grad, "huber grad");
  }
  const Tensor logits = pattern_leaf({3, 4}, 92, 50.0);
  const Tensor target =
      tensor(std::vector<double>(kKlTarget.begin(), kKlTarget.end()), {3, 4}, kFloat64);
  const Tensor kl = kl_divergence(softmax(logits, -1), target);
  kl.backward();
  EXPECT_NEAR(kl.item(), kKlLoss[0], 1e-12);
  expect_close(logits.grad(), kKlLogitsGrad, "kl grad");
  const Tensor h = pattern_leaf({3, 4}, 94, 50.0);
  const Tensor labels =
      tensor(std::vector<double>(kHingeLabels.begin(), kHingeLabels.end()), {3, 4}, kFloat64);
  const Tensor plain = hinge(h, labels);
  const Tensor squared = squared_hinge(h, labels);
  (plain + squared * 2.0).backward();
  EXPECT_NEAR(plain.item(), kHingeLoss[0], 1e-12);
  EXPECT_NEAR(squared.item(), kSquaredHingeLoss[0], 1e-12);
  expect_close(h.grad(), kHingePlusTwoSquaredGrad, "hinge grad");
}

// ---- per sample ----

TEST(Losses, PerSampleFormsGiveOneValuePerSample) {
  const Tensor pred = tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64);
  const Tensor target = tensor({{1.5, 2.0}, {2.0, 5.0}}, kFloat64);
  EXPECT_EQ(mean_squared_error_per_sample(pred, target).to_vector<double>(),
            (std::vector<double>{0.125, 1.0}));
  EXPECT_EQ(mean_absolute_error_per_sample(pred, target).to_vector<double>(),
            (std::vector<double>{0.25, 1.0}));
  // Cross-entropy from logits: -log softmax(row)[label], written out in double.
  const std::vector<std::vector<double>> rows{{2.0, 1.0, 0.1}, {0.5, 2.5, 0.3}};
  const std::vector<int64_t> labels{0, 2};
  std::vector<double> expected;
  for (size_t i = 0; i < rows.size(); ++i) {
    double total = 0.0;
    for (const double v : rows[i]) total += std::exp(v);
    expected.push_back(std::log(total) - rows[i][static_cast<size_t>(labels[i])]);
  }
  const auto sparse =
      sparse_categorical_crossentropy_per_sample(logits(), tensor(labels, {2}), true)
          .to_vector<double>();
  const auto dense = categorical_crossentropy_per_sample(
                         logits(), tensor({{1.0, 0.0, 0.0}, {0.0, 0.0, 1.0}}, kFloat64), true)
                         .to_vector<double>();
  ASSERT_EQ(sparse.size(), 2U);
  ASSERT_EQ(dense.size(), 2U);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(sparse[i], expected[i], 1e-12);
    EXPECT_NEAR(dense[i], expected[i], 1e-12);
  }
}

// Over [3, 2, 4] inputs each per-sample form is [3] and its mean is the loss.
TEST(Losses, PerSampleMeansAreTheLosses) {
  Generator generator(4);
  const Tensor raw = uniform({3, 2, 4}, 0.05, 0.95, kFloat64, &generator);
  const Tensor probabilities = raw / sum(raw, {-1}, true);
  const Tensor target_raw = uniform({3, 2, 4}, 0.05, 0.95, kFloat64, &generator);
  const Tensor distribution = target_raw / sum(target_raw, {-1}, true);
  const Tensor bits = to(uniform({3, 2, 4}, 0.0, 1.0, kFloat64, &generator) > 0.5, kFloat64);
  const Tensor labels = tensor(std::vector<int64_t>{0, 3, 1, 2, 3, 3}, {3, 2});
  using Pair = std::function<std::pair<Tensor, Tensor>()>;
  const std::vector<std::pair<std::string, Pair>> cases{
      {"mse",
       [&] {
         return std::pair{mean_squared_error(raw, distribution),
                          mean_squared_error_per_sample(raw, distribution)};
       }},
      {"mae",
       [&] {
         return std::pair{mean_absolute_error(raw, distribution),
                          mean_absolute_error_per_sample(raw, distribution)};
       }},
      {"cce",
       [&] {
         return std::pair{categorical_crossentropy(probabilities, distribution),
                          categorical_crossentropy_per_sample(probabilities, distribution)};
       }},
      {"cce logits",
       [&] {
         return std::pair{categorical_crossentropy(raw, distribution, true),
                          categorical_crossentropy_per_sample(raw, distribution, true)};
       }},
      {"sparse",
       [&] {
         return std::pair{sparse_categorical_crossentropy(probabilities, labels),
                          sparse_categorical_crossentropy_per_sample(probabilities, labels)};
       }},
      {"bce",
       [&] {
         return std::pair{binary_crossentropy(raw, bits),
                          binary_crossentropy_per_sample(raw, bits)};
       }},
      {"bce logits",
       [&] {
         return std::pair{binary_crossentropy(raw, bits, true),
                          binary_crossentropy_per_sample(raw, bits, true)};
       }},
      {"huber",
       [&] {
         return std::pair{huber(raw * 3.0, distribution),
                          huber_per_sample(raw * 3.0, distribution)};
       }},
      {"kld",
       [&] {
         return std::pair{kl_divergence(probabilities, distribution),
                          kl_divergence_per_sample(probabilities, distribution)};
       }},
      {"hinge",
       [&] {
         return std::pair{hinge(raw, bits), hinge_per_sample(raw, bits)};
       }},
      {"squared_hinge",
       [&] {
         return std::pair{squared_hinge(raw, bits), squared_hinge_per_sample(raw, bits)};
       }},
  };
  for (const auto& [name, make] : cases) {
    const auto [loss, per_sample] = make();
    EXPECT_EQ(per_sample.shape(), (Shape{3})) << name;
    double total = 0.0;
    for (const double v : per_sample.to_vector<double>()) total += v;
    EXPECT_NEAR(total / 3.0, loss.item(), 1e-12) << name;
  }
}

TEST(Losses, PerSampleFormsNeedABatchDim) {
  try {
    (void)categorical_crossentropy_per_sample(ones({3}), ones({3}));
    FAIL() << "expected nabla::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("categorical_crossentropy_per_sample: y_pred of shape [3] "
                                         "needs a batch dim and a class dim"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)mean_squared_error_per_sample(scalar_tensor(1.0), scalar_tensor(1.0)), Error);
  EXPECT_EQ(binary_crossentropy_per_sample(ones({4}) * 0.5, ones({4})).shape(), (Shape{4}));
}

}  // namespace
}  // namespace nabla::nn
