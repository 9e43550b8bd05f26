// fit and evaluate with sample_weight and class_weight (Keras's semantics: the loss is
// sum_i(w_i * l_i) / batch_size), against plain double computations; class_weight equals the
// sample_weight it stands for, bit for bit; every bad weight is a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla::train {
namespace {

using nn::Dense;
using nn::DenseOptions;
using testing::expect_error_containing;

std::shared_ptr<optim::SGD> sgd(double learning_rate = 0.1) {
  return std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                      optim::SgdOptions{.learning_rate = learning_rate});
}

// x [n, 3], y [n, 2] and weights in [0, 2] (one of them 0), all float32.
struct Regression {
  Tensor x, y, w;
};

Regression regression(int64_t n) {
  Generator generator(17);
  Regression r;
  r.x = randn({n, 3}, kFloat32, &generator);
  r.y = randn({n, 2}, kFloat32, &generator);
  std::vector<float> w;
  for (int64_t i = 0; i < n; ++i) w.push_back(i == 1 ? 0.0f : 0.25f * static_cast<float>(i % 8));
  r.w = tensor(w, {n});
  return r;
}

// Dense(2) on 3 features: kernel [3, 2] and bias [2] as doubles.
struct Linear2 {
  std::vector<double> kernel, bias;
};

Linear2 weights_of(const Dense& layer) {
  return {layer.parameters()[0].to_vector<double>(), layer.parameters()[1].to_vector<double>()};
}

// Per-sample mse of a linear model in double: mean_j (x_i W + b - y_i)_j^2, and its residuals.
std::vector<double> residuals(const Linear2& m, const std::vector<double>& x,
                              const std::vector<double>& y, int64_t i) {
  std::vector<double> r(2);
  for (size_t j = 0; j < 2; ++j) {
    double p = m.bias[j];
    for (size_t k = 0; k < 3; ++k) p += x[static_cast<size_t>(i) * 3 + k] * m.kernel[k * 2 + j];
    r[j] = p - y[static_cast<size_t>(i) * 2 + j];
  }
  return r;
}

// One SGD step of lr on the weighted mse of the samples `rows`: loss = sum w_i l_i / |rows|.
void sgd_step(Linear2& m, const std::vector<double>& x, const std::vector<double>& y,
              const std::vector<double>& w, const std::vector<int64_t>& rows, double lr) {
  std::vector<double> grad_kernel(6, 0.0);
  std::vector<double> grad_bias(2, 0.0);
  const auto count = static_cast<double>(rows.size());
  for (const int64_t i : rows) {
    const auto r = residuals(m, x, y, i);
    for (size_t j = 0; j < 2; ++j) {
      const double g = w[static_cast<size_t>(i)] * 2.0 * r[j] / 2.0 / count;  // d mean_j / dp
      grad_bias[j] += g;
      for (size_t k = 0; k < 3; ++k) {
        grad_kernel[k * 2 + j] += g * x[static_cast<size_t>(i) * 3 + k];
      }
    }
  }
  for (size_t e = 0; e < 6; ++e) m.kernel[e] -= lr * grad_kernel[e];
  for (size_t j = 0; j < 2; ++j) m.bias[j] -= lr * grad_bias[j];
}

void expect_near_all(const std::vector<double>& actual, const std::vector<double>& expected,
                     double tolerance, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance) << what << " " << i;
  }
}

TEST(SampleWeight, EvaluateIsTheWeightedSumOverTheBatchSize) {
  const int64_t n = 10;
  const Regression r = regression(n);
  const auto layer = std::make_shared<Dense>(2, DenseOptions{.input_dim = 3, .seed = 3});
  Model model(layer);
  model.compile(sgd(), "mse", {"mae"});
  const Logs weighted = model.evaluate(r.x, r.y, /*batch_size=*/4, 0, r.w);
  const Linear2 m = weights_of(*layer);
  const auto x = r.x.to_vector<double>();
  const auto y = r.y.to_vector<double>();
  const auto w = r.w.to_vector<double>();
  double total = 0.0;
  double absolute = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const auto res = residuals(m, x, y, i);
    total += w[static_cast<size_t>(i)] * (res[0] * res[0] + res[1] * res[1]) / 2.0;
    absolute += std::abs(res[0]) + std::abs(res[1]);
  }
  // Batches of 4, 4, 2 averaged by size: sum_i w_i l_i / n overall.
  EXPECT_NEAR(weighted.at("loss"), total / static_cast<double>(n), 1e-6);
  // Metrics stay unweighted (Keras's `metrics`, not `weighted_metrics`).
  EXPECT_NEAR(weighted.at("mae"), absolute / static_cast<double>(2 * n), 1e-6);
  EXPECT_EQ(weighted.at("mae"), model.evaluate(r.x, r.y, 4).at("mae"));
}

TEST(SampleWeight, OneStepTakesTheGradientOfTheWeightedLoss) {
  const int64_t n = 10;
  const Regression r = regression(n);
  const auto layer = std::make_shared<Dense>(2, DenseOptions{.input_dim = 3, .seed = 3});
  Linear2 expected = weights_of(*layer);
  Model model(layer);
  model.compile(sgd(0.1), "mse");
  FitOptions options{.epochs = 1, .batch_size = n, .shuffle = false, .verbose = 0};
  options.sample_weight = r.w;
  model.fit(r.x, r.y, options);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  sgd_step(expected, r.x.to_vector<double>(), r.y.to_vector<double>(), r.w.to_vector<double>(),
           rows, 0.1);
  const Linear2 actual = weights_of(*layer);
  expect_near_all(actual.kernel, expected.kernel, 1e-6, "kernel");
  expect_near_all(actual.bias, expected.bias, 1e-6, "bias");
}

// The weights are shuffled with their samples: three shuffled batches match a double simulation
// over the loader's permutation.
TEST(SampleWeight, WeightsTravelWithTheirSamplesWhenShuffled) {
  const int64_t n = 10;
  const int64_t batch = 4;
  const uint64_t seed = 12;
  const Regression r = regression(n);
  const auto layer = std::make_shared<Dense>(2, DenseOptions{.input_dim = 3, .seed = 3});
  Linear2 expected = weights_of(*layer);
  Model model(layer);
  model.compile(sgd(0.2), "mse");
  FitOptions options{.epochs = 2, .batch_size = batch, .verbose = 0, .seed = seed};
  options.sample_weight = r.w;
  model.fit(r.x, r.y, options);
  const data::DataLoader loader(data::TensorDataset(r.x), batch, true, false, seed);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const auto order = loader.order(epoch);
    for (int64_t begin = 0; begin < n; begin += batch) {
      const std::vector<int64_t> rows(order.begin() + begin,
                                      order.begin() + std::min(n, begin + batch));
      sgd_step(expected, r.x.to_vector<double>(), r.y.to_vector<double>(), r.w.to_vector<double>(),
               rows, 0.2);
    }
  }
  const Linear2 actual = weights_of(*layer);
  expect_near_all(actual.kernel, expected.kernel, 1e-5, "kernel");
  expect_near_all(actual.bias, expected.bias, 1e-5, "bias");
}

TEST(SampleWeight, ValidationDataAndSplitCarryTheirWeights) {
  const int64_t n = 12;
  const Regression r = regression(n);
  const Regression v = regression(5);
  Model model(std::make_shared<Dense>(2, DenseOptions{.input_dim = 3, .seed = 3}));
  model.compile(sgd(0.05), "mse");
  FitOptions options{.epochs = 1, .batch_size = 4, .verbose = 0, .seed = 2};
  options.sample_weight = r.w;
  options.validation_data = ValidationData(v.x, v.y, v.w);
  const History history = model.fit(r.x, r.y, options);
  EXPECT_EQ(history.values("val_loss").back(), model.evaluate(v.x, v.y, 4, 0, v.w).at("loss"));
  EXPECT_NE(history.values("val_loss").back(), model.evaluate(v.x, v.y, 4).at("loss"));

  // validation_split: the last quarter of x, y and sample_weight.
  options.validation_data.reset();
  options.validation_split = 0.25;
  const History split = model.fit(r.x, r.y, options);
  const auto tail = [&](const Tensor& t) { return slice(t, 0, 9, 12, 1); };
  EXPECT_EQ(split.values("val_loss").back(),
            model.evaluate(tail(r.x), tail(r.y), 4, 0, tail(r.w)).at("loss"));
}

// With several outputs one sample_weight weighs every output's loss, as in Keras.
TEST(SampleWeight, WeighsEveryOutputOfAMultiOutputModel) {
  const int64_t n = 9;
  const Regression r = regression(n);
  const Tensor y2 = r.y * 2.0;
  const auto input = nn::Input({3});
  const auto first = std::make_shared<Dense>(2, DenseOptions{.seed = 3});
  const auto second = std::make_shared<Dense>(2, DenseOptions{.seed = 4});
  first->set_name("first");
  second->set_name("second");
  Model model(std::make_shared<nn::Functional>(
      std::vector{input}, std::vector{first->call(input), second->call(input)}));
  model.compile(sgd(), {"mse", "mse"}, {}, {1.0, 0.5});
  const Logs logs = model.evaluate({r.x}, {r.y, y2}, 4, 0, r.w);
  Model alone_first(first);
  alone_first.compile(sgd(), "mse");
  Model alone_second(second);
  alone_second.compile(sgd(), "mse");
  EXPECT_EQ(logs.at("first_loss"), alone_first.evaluate(r.x, r.y, 4, 0, r.w).at("loss"));
  EXPECT_EQ(logs.at("second_loss"), alone_second.evaluate(r.x, y2, 4, 0, r.w).at("loss"));
  EXPECT_NEAR(logs.at("loss"), logs.at("first_loss") + 0.5 * logs.at("second_loss"), 1e-6);
  EXPECT_NE(logs.at("first_loss"), model.evaluate({r.x}, {r.y, y2}, 4).at("first_loss"));
}

// Trains two equal models, one with class_weight and one with the sample_weight it maps to.
void expect_class_weight_equals_sample_weight(const Tensor& x, const Tensor& y,
                                              const std::string& loss,
                                              const std::string& activation, int64_t units,
                                              const std::map<int64_t, double>& classes,
                                              const std::vector<float>& equivalent) {
  std::vector<std::vector<float>> weights;
  std::vector<std::vector<double>> losses;
  for (int form = 0; form < 2; ++form) {
    const auto layer =
        std::make_shared<Dense>(units, DenseOptions{.activation = activation, .seed = 8});
    Model model(layer);
    model.compile(sgd(0.3), loss, {"accuracy"});
    FitOptions options{.epochs = 2, .batch_size = 4, .verbose = 0, .seed = 6};
    if (form == 0) {
      options.class_weight = classes;
    } else {
      options.sample_weight = tensor(equivalent, {x.size(0)});
    }
    losses.push_back(model.fit(x, y, options).values("loss"));
    for (const Tensor& p : layer->parameters()) weights.push_back(p.to_vector<float>());
  }
  EXPECT_EQ(losses[0], losses[1]);
  ASSERT_EQ(weights.size(), 4U);
  EXPECT_EQ(weights[0], weights[2]);
  EXPECT_EQ(weights[1], weights[3]);
}

TEST(ClassWeight, EqualsTheEquivalentSampleWeightBitForBit) {
  const int64_t n = 10;
  Generator generator(5);
  const Tensor x = randn({n, 4}, kFloat32, &generator);
  const std::map<int64_t, double> classes{{0, 1.0}, {1, 3.0}, {2, 0.5}};
  std::vector<int64_t> labels;
  std::vector<float> one_hot(static_cast<size_t>(n * 3), 0.0f);
  std::vector<float> equivalent;
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back((i * 5) % 3);
    one_hot[static_cast<size_t>(i * 3 + labels.back())] = 1.0f;
    equivalent.push_back(static_cast<float>(classes.at(labels.back())));
  }
  // Sparse int64 labels and one-hot targets.
  expect_class_weight_equals_sample_weight(
      x, tensor(labels, {n}), "sparse_categorical_crossentropy", "softmax", 3, classes, equivalent);
  expect_class_weight_equals_sample_weight(x, tensor(one_hot, {n, 3}), "categorical_crossentropy",
                                           "softmax", 3, classes, equivalent);
  // Binary float targets [n, 1]; a class without an entry weighs 1.
  std::vector<float> binary;
  std::vector<float> binary_equivalent;
  for (int64_t i = 0; i < n; ++i) {
    binary.push_back(static_cast<float>(i % 2));
    binary_equivalent.push_back(i % 2 == 1 ? 4.0f : 1.0f);
  }
  expect_class_weight_equals_sample_weight(x, tensor(binary, {n, 1}), "binary_crossentropy",
                                           "sigmoid", 1, {{1, 4.0}}, binary_equivalent);
}

TEST(SampleWeight, BadWeightsAreClearErrors) {
  const int64_t n = 10;
  const Regression r = regression(n);
  Model model(std::make_shared<Dense>(2, DenseOptions{.input_dim = 3, .seed = 3}));
  model.compile(sgd(), "mse");
  const auto fit_with = [&](Tensor w) {
    FitOptions options{.verbose = 0};
    options.sample_weight = std::move(w);
    model.fit(r.x, r.y, options);
  };
  expect_error_containing([&] { fit_with(slice(r.w, 0, 0, 9, 1)); },
                          "fit: sample_weight of shape [9] must have shape [10]");
  expect_error_containing(
      [&] {
        fit_with(reshape(r.w, {n, 1}));
      },
      "fit: sample_weight of shape [10, 1] must have shape [10]");
  expect_error_containing([&] { fit_with(zeros({n}, kInt64)); },
                          "fit: sample_weight must be float32 or float64, got int64");
  std::vector<float> bad(static_cast<size_t>(n), 1.0f);
  bad[3] = -1.0f;
  expect_error_containing([&] { fit_with(tensor(bad, {n})); },
                          "fit: sample_weight[3] is -1; weights must be finite and non-negative");
  bad[3] = std::nanf("");
  expect_error_containing([&] { fit_with(tensor(bad, {n})); }, "sample_weight[3] is nan");
  expect_error_containing([&] { (void)model.evaluate(r.x, r.y, 4, 0, slice(r.w, 0, 0, 3, 1)); },
                          "evaluate: sample_weight of shape [3] must have shape [10]");
  // train_on_batch checks its weights itself (fit checks them once, not per batch), before the
  // step: a rejected batch leaves the weights as they were.
  const std::vector<double> kernel = model.network().parameters()[0].to_vector<double>();
  expect_error_containing([&] { (void)model.train_on_batch({r.x}, {r.y}, slice(r.w, 0, 0, 9, 1)); },
                          "train_on_batch: sample_weight of shape [9] must have shape [10]");
  bad[3] = -1.0f;
  expect_error_containing(
      [&] { (void)model.train_on_batch({r.x}, {r.y}, tensor(bad, {n})); },
      "train_on_batch: sample_weight[3] is -1; weights must be finite and non-negative");
  EXPECT_EQ(model.network().parameters()[0].to_vector<double>(), kernel);
  Model uncompiled(std::make_shared<Dense>(2, DenseOptions{.input_dim = 3}));
  expect_error_containing([&] { (void)uncompiled.train_on_batch({r.x}, {r.y}, tensor(bad, {n})); },
                          "train_on_batch: call compile(optimizer, loss, metrics) first");
  expect_error_containing(
      [&] {
        FitOptions options{.validation_data = ValidationData(r.x, r.y, slice(r.w, 0, 0, 2, 1)),
                           .verbose = 0};
        model.fit(r.x, r.y, options);
      },
      "fit (validation_data): sample_weight of shape [2] must have shape [10]");

  // class_weight: bad keys and values, with sample_weight, with several outputs.
  const auto fit_classes = [&](Model& m, const Tensor& y, std::map<int64_t, double> classes) {
    FitOptions options{.verbose = 0};
    options.class_weight = std::move(classes);
    m.fit(r.x, y, options);
  };
  Model classifier(std::make_shared<Dense>(3, DenseOptions{.activation = "softmax"}));
  classifier.compile(sgd(), "categorical_crossentropy");
  const Tensor one_hot = zeros({n, 3}) + tensor(std::vector<float>{1, 0, 0}, {3});
  expect_error_containing(
      [&] {
        fit_classes(classifier, one_hot, {{-1, 1.0}});
      },
      "fit: class_weight has class index -1; class indices are non-negative");
  expect_error_containing(
      [&] {
        fit_classes(classifier, one_hot, {{3, 1.0}});
      },
      "fit: class_weight has class index 3, out of range for targets of 3 "
      "classes");
  expect_error_containing(
      [&] {
        fit_classes(classifier, one_hot, {{1, -2.0}});
      },
      "fit: class_weight[1] is -2; weights must be finite and non-negative");
  expect_error_containing(
      [&] {
        FitOptions options{.verbose = 0};
        options.class_weight = {{0, 1.0}};
        options.sample_weight = r.w;
        classifier.fit(r.x, one_hot, options);
      },
      "fit: give sample_weight or class_weight, not both");
  Model binary(std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid"}));
  binary.compile(sgd(), "binary_crossentropy");
  std::vector<float> labels(static_cast<size_t>(n), 1.0F);
  labels[3] = std::nanf("");
  expect_error_containing(
      [&] {
        fit_classes(binary, tensor(labels, {n}), {{0, 2.0}});
      },
      "fit: class_weight: target nan of sample 3 is not a class index");
  labels[3] = 1e30F;
  expect_error_containing(
      [&] {
        fit_classes(binary, tensor(labels, {n}), {{0, 2.0}});
      },
      "of sample 3 is not a class index");
  expect_error_containing(
      [&] {
        fit_classes(classifier, zeros({n, 3, 2}), {{0, 1.0}});
      },
      "fit: class_weight needs targets of shape [N], [N, 1] or [N, C], got "
      "[10, 3, 2]");

  const auto a = nn::Input({3});
  auto two_outputs = std::make_shared<nn::Functional>(
      std::vector{a},
      std::vector{std::make_shared<Dense>(1)->call(a), std::make_shared<Dense>(1)->call(a)});
  Model multi(two_outputs);
  multi.compile(sgd(), "mse");
  expect_error_containing(
      [&] {
        FitOptions options{.verbose = 0};
        options.class_weight = {{0, 1.0}};
        multi.fit({r.x}, {zeros({n, 1}), zeros({n, 1})}, options);
      },
      "fit: class_weight is only supported for a model with one output; this one has 2");

  // A custom loss without a per-sample form cannot be weighted.
  Model custom(std::make_shared<Dense>(2));
  custom.compile(
      sgd(), Loss{"custom", [](const Tensor& p, const Tensor& t) { return mean(square(p - t)); }});
  expect_error_containing(
      [&] {
        FitOptions options{.verbose = 0};
        options.sample_weight = r.w;
        custom.fit(r.x, r.y, options);
      },
      "fit: loss 'custom' has no per-sample form (Loss::per_sample), so it cannot be weighted");
}

}  // namespace
}  // namespace nabla::train
