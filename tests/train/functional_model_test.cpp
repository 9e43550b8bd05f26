// train::Model around functional networks: one input and output like a Sequential, and several
// inputs and outputs through fit, evaluate and predict.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla::train {
namespace {

using nn::Dense;
using nn::DenseOptions;
using nn::Functional;
using nn::Input;
using nn::Module;
using nn::Sequential;
using testing::expect_error_containing;

TEST(Functional, TrainsThroughModelFitLikeTheSameSequential) {
  manual_seed(7);
  const Tensor x = randn({64, 5});
  const Tensor y = (sum(x, {1}, true) > 0.0).to(kFloat32);

  auto sequential = std::make_shared<Sequential>();
  sequential->add<Dense>(8, DenseOptions{.activation = "relu", .seed = 11})
      .add<Dense>(1, DenseOptions{.activation = "sigmoid", .seed = 12});
  const auto input = Input({5});
  const auto hidden = std::make_shared<Dense>(8, DenseOptions{.activation = "relu", .seed = 11});
  const auto output = std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid", .seed = 12});
  auto functional = std::make_shared<Functional>(input, output->call(hidden->call(input)));

  std::vector<double> final_losses;
  for (const std::shared_ptr<Module>& network :
       std::vector<std::shared_ptr<Module>>{sequential, functional}) {
    Model model(network);
    model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                               optim::SgdOptions{.learning_rate = 0.1}),
                  "binary_crossentropy", {"accuracy"});
    const History history =
        model.fit(x, y, FitOptions{.epochs = 3, .batch_size = 16, .verbose = 0, .seed = 5});
    final_losses.push_back(history.values("loss").back());
  }
  EXPECT_EQ(final_losses[0], final_losses[1]);
  const auto seq = sequential->parameters();
  const auto fun = functional->parameters();
  ASSERT_EQ(seq.size(), fun.size());
  for (size_t i = 0; i < seq.size(); ++i) {
    EXPECT_EQ(seq[i].to_vector<float>(), fun[i].to_vector<float>()) << "parameter " << i;
  }
}

// ---- several inputs and outputs ----

// Keras's Model(inputs=[a, b], outputs=[score, label]): a [3] and b [2] through their own Dense,
// concatenated; "score" is a linear Dense(2) (mse), "label" a Dense(3, softmax) (categorical
// cross-entropy). The seeds make two calls build equal weights.
struct TwoByTwo {
  std::shared_ptr<Functional> network;
  std::shared_ptr<Dense> left, right, score, label;
};

TwoByTwo two_by_two() {
  TwoByTwo m;
  const auto a = Input({3});
  const auto b = Input({2});
  m.left = std::make_shared<Dense>(4, DenseOptions{.activation = "relu", .seed = 21});
  m.right = std::make_shared<Dense>(4, DenseOptions{.activation = "relu", .seed = 22});
  m.score = std::make_shared<Dense>(2, DenseOptions{.seed = 23});
  m.label = std::make_shared<Dense>(3, DenseOptions{.activation = "softmax", .seed = 24});
  m.score->set_name("score");
  m.label->set_name("label");
  const auto joined =
      std::make_shared<nn::Concatenate>()->call({m.left->call(a), m.right->call(b)});
  m.network = std::make_shared<Functional>(
      std::vector{a, b}, std::vector{m.score->call(joined), m.label->call(joined)});
  return m;
}

struct TwoByTwoData {
  Tensor a, b, score, label;
};

TwoByTwoData two_by_two_data(int64_t n) {
  Generator generator(3);
  TwoByTwoData d;
  d.a = randn({n, 3}, kFloat32, &generator);
  d.b = randn({n, 2}, kFloat32, &generator);
  d.score = randn({n, 2}, kFloat32, &generator);
  std::vector<float> one_hot(static_cast<size_t>(n * 3), 0.0f);
  for (int64_t i = 0; i < n; ++i) one_hot[static_cast<size_t>(i * 3 + (i * 7) % 3)] = 1.0f;
  d.label = tensor(one_hot, {n, 3});
  return d;
}

std::shared_ptr<optim::SGD> sgd(double learning_rate = 0.1) {
  return std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                      optim::SgdOptions{.learning_rate = learning_rate});
}

// A row-major [rows, cols] float tensor as doubles.
std::vector<double> doubles(const Tensor& t) { return t.to_vector<double>(); }

// The network's two outputs for sample i, computed in double from its weights.
struct Forward {
  std::vector<double> score, label;
};

Forward forward_double(const TwoByTwo& m, const std::vector<double>& a,
                       const std::vector<double>& b) {
  const auto dense = [](const Dense& layer, const std::vector<double>& in) {
    const auto kernel = doubles(layer.parameters()[0]);
    const auto bias = doubles(layer.parameters()[1]);
    const size_t units = bias.size();
    std::vector<double> out(bias);
    for (size_t j = 0; j < units; ++j) {
      for (size_t k = 0; k < in.size(); ++k) out[j] += in[k] * kernel[k * units + j];
    }
    return out;
  };
  const auto relu = [](std::vector<double> v) {
    for (double& e : v) e = std::max(e, 0.0);
    return v;
  };
  std::vector<double> joined = relu(dense(*m.left, a));
  const std::vector<double> hb = relu(dense(*m.right, b));
  joined.insert(joined.end(), hb.begin(), hb.end());
  Forward f{dense(*m.score, joined), dense(*m.label, joined)};
  double total = 0.0;
  const double top = *std::max_element(f.label.begin(), f.label.end());
  for (double& e : f.label) total += (e = std::exp(e - top));
  for (double& e : f.label) e /= total;
  return f;
}

std::vector<double> row(const std::vector<double>& values, int64_t i, size_t width) {
  return {values.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(i) * width),
          values.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(i + 1) * width)};
}

// fit on two inputs and two outputs takes exactly the steps of a hand-written loop over the same
// shuffled batches (the permutation read from a DataLoader with fit's seed), bit for bit.
TEST(FunctionalFit, TwoInputsTwoOutputsEqualAHandWrittenLoopBitForBit) {
  const int64_t n = 20;
  const int64_t batch = 8;
  const uint64_t seed = 9;
  const double score_weight = 1.0;
  const double label_weight = 0.5;
  const TwoByTwoData d = two_by_two_data(n);

  const TwoByTwo fitted = two_by_two();
  Model model(fitted.network);
  model.compile(sgd(), {"mse", "categorical_crossentropy"}, {{}, {"accuracy"}},
                {score_weight, label_weight});
  const History history =
      model.fit({d.a, d.b}, {d.score, d.label},
                FitOptions{.epochs = 2, .batch_size = batch, .verbose = 0, .seed = seed});

  const TwoByTwo looped = two_by_two();
  optim::SGD optimizer(looped.network->parameters(), optim::SgdOptions{.learning_rate = 0.1});
  const data::DataLoader order(data::TensorDataset(d.a, d.score), batch, true, false, seed);
  double last_epoch_loss = 0.0;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const std::vector<int64_t> permutation = order.order(epoch);
    last_epoch_loss = 0.0;
    for (int64_t begin = 0; begin < n; begin += batch) {
      const int64_t end = std::min(n, begin + batch);
      const std::vector<int64_t> rows(permutation.begin() + begin, permutation.begin() + end);
      const Tensor index = tensor(rows, {end - begin});
      optimizer.zero_grad();
      const std::vector<Tensor> out =
          looped.network->forward_all({index_select(d.a, 0, index), index_select(d.b, 0, index)});
      const Tensor loss =
          nn::mean_squared_error(out[0], index_select(d.score, 0, index)) +
          nn::categorical_crossentropy(out[1], index_select(d.label, 0, index)) * label_weight;
      loss.backward();
      optimizer.step();
      last_epoch_loss += loss.item() * static_cast<double>(end - begin);
    }
  }
  const auto fitted_parameters = fitted.network->parameters();
  const auto looped_parameters = looped.network->parameters();
  ASSERT_EQ(fitted_parameters.size(), looped_parameters.size());
  for (size_t i = 0; i < fitted_parameters.size(); ++i) {
    EXPECT_EQ(fitted_parameters[i].to_vector<float>(), looped_parameters[i].to_vector<float>())
        << "parameter " << i;
  }
  EXPECT_DOUBLE_EQ(history.values("loss").back(), last_epoch_loss / static_cast<double>(n));
  // Keras's names: the weighted total, then each output's own loss and metrics.
  const std::vector<std::string> keys = history.keys();
  for (const char* key : {"loss", "score_loss", "label_loss", "label_accuracy", "lr"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "accuracy"), keys.end());
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "score_accuracy"), keys.end());
}

// evaluate's per-output losses and metrics and its weighted total, against doubles.
TEST(FunctionalFit, EvaluatePerOutputLossesEqualAPlainComputation) {
  const int64_t n = 11;
  const TwoByTwoData d = two_by_two_data(n);
  const TwoByTwo m = two_by_two();
  Model model(m.network);
  model.compile(sgd(), {"mse", "categorical_crossentropy"}, {{"mae"}, {"accuracy"}}, {2.0, 0.25});
  const Logs logs = model.evaluate({d.a, d.b}, {d.score, d.label}, /*batch_size=*/4);

  const auto a = doubles(d.a);
  const auto b = doubles(d.b);
  const auto score = doubles(d.score);
  const auto label = doubles(d.label);
  double squared = 0.0;
  double absolute = 0.0;
  double cross_entropy = 0.0;
  double correct = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const Forward f = forward_double(m, row(a, i, 3), row(b, i, 2));
    const auto target = row(score, i, 2);
    for (size_t j = 0; j < 2; ++j) {
      squared += (f.score[j] - target[j]) * (f.score[j] - target[j]);
      absolute += std::abs(f.score[j] - target[j]);
    }
    const auto one_hot = row(label, i, 3);
    const auto truth = std::max_element(one_hot.begin(), one_hot.end()) - one_hot.begin();
    cross_entropy -= std::log(std::clamp(f.label[static_cast<size_t>(truth)], 1e-7, 1.0 - 1e-7));
    correct += std::max_element(f.label.begin(), f.label.end()) - f.label.begin() == truth;
  }
  const double mse = squared / static_cast<double>(2 * n);
  const double cce = cross_entropy / static_cast<double>(n);
  EXPECT_NEAR(logs.at("score_loss"), mse, 1e-6 * (1.0 + mse));
  EXPECT_NEAR(logs.at("label_loss"), cce, 1e-6 * (1.0 + cce));
  EXPECT_NEAR(logs.at("loss"), 2.0 * mse + 0.25 * cce, 1e-6 * (1.0 + mse + cce));
  EXPECT_NEAR(logs.at("score_mae"), absolute / static_cast<double>(2 * n), 1e-6);
  EXPECT_NEAR(logs.at("label_accuracy"), correct / static_cast<double>(n), 1e-12);
  EXPECT_EQ(logs.size(), 5U);
}

TEST(FunctionalFit, PredictReturnsOneTensorPerOutput) {
  const int64_t n = 7;
  const TwoByTwoData d = two_by_two_data(n);
  const TwoByTwo m = two_by_two();
  Model model(m.network);
  const std::vector<Tensor> out = model.predict({d.a, d.b}, /*batch_size=*/3);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].shape(), (Shape{n, 2}));
  EXPECT_EQ(out[1].shape(), (Shape{n, 3}));
  const auto a = doubles(d.a);
  const auto b = doubles(d.b);
  const auto score = doubles(out[0]);
  const auto label = doubles(out[1]);
  for (int64_t i = 0; i < n; ++i) {
    const Forward f = forward_double(m, row(a, i, 3), row(b, i, 2));
    for (size_t j = 0; j < 2; ++j) {
      EXPECT_NEAR(score[static_cast<size_t>(i * 2) + j], f.score[j], 1e-5);
    }
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(label[static_cast<size_t>(i * 3) + j], f.label[j], 1e-6);
    }
  }
  EXPECT_FALSE(out[0].requires_grad());
  EXPECT_TRUE(m.network->is_training());  // predict ran in eval mode and restored the mode
}

// One loss for every output and its metrics for every output, as Keras applies a single loss.
TEST(FunctionalFit, OneLossAppliesToEveryOutput) {
  const int64_t n = 6;
  const TwoByTwoData d = two_by_two_data(n);
  const TwoByTwo m = two_by_two();
  Model model(m.network);
  model.compile(sgd(), "mse", {"mae"});
  const Logs logs = model.evaluate({d.a, d.b}, {d.score, d.label});
  const Logs by_output = [&] {
    const TwoByTwo twin = two_by_two();
    Model twin_model(twin.network);
    twin_model.compile(sgd(), {"mse", "mse"}, {{"mae"}, {"mae"}});
    return twin_model.evaluate({d.a, d.b}, {d.score, d.label});
  }();
  EXPECT_EQ(logs, by_output);
  EXPECT_NEAR(logs.at("loss"), logs.at("score_loss") + logs.at("label_loss"), 1e-6);
  EXPECT_TRUE(logs.contains("label_mae"));
}

// validation_split cuts the last rows of every tensor; validation_data takes several tensors;
// the val_ keys follow the output names; History, EarlyStopping and CSVLogger read them.
TEST(FunctionalFit, ValidationAndCallbacksUseThePerOutputKeys) {
  const int64_t n = 16;
  const TwoByTwoData d = two_by_two_data(n);
  const TwoByTwo m = two_by_two();
  Model model(m.network);
  model.compile(sgd(0.05), {"mse", "categorical_crossentropy"}, {{}, {"accuracy"}});
  const std::string csv = (std::filesystem::temp_directory_path() /
                           ("nabla_functional_fit_" + std::to_string(::getpid()) + ".csv"))
                              .string();
  const auto stopper = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "val_label_loss", .patience = 100});
  const History history =
      model.fit({d.a, d.b}, {d.score, d.label},
                FitOptions{.epochs = 2,
                           .batch_size = 5,
                           .validation_split = 0.25,
                           .shuffle = false,
                           .callbacks = {stopper, std::make_shared<CSVLogger>(csv)},
                           .verbose = 0});
  // The last 4 rows are the validation set: evaluating them afterwards gives the last epoch's
  // val_ logs exactly (same weights, same batches).
  const auto tail = [&](const Tensor& t) { return slice(t, 0, 12, 16, 1); };
  const Logs validation = model.evaluate({tail(d.a), tail(d.b)}, {tail(d.score), tail(d.label)}, 5);
  for (const char* key : {"loss", "score_loss", "label_loss", "label_accuracy"}) {
    EXPECT_EQ(history.values(std::string("val_") + key).back(), validation.at(key)) << key;
  }
  std::ifstream file(csv);
  std::string header;
  std::getline(file, header);
  for (const char* key : {"score_loss", "label_loss", "val_label_accuracy", "val_score_loss"}) {
    EXPECT_NE(header.find(key), std::string::npos) << header;
  }
  std::filesystem::remove(csv);

  // validation_data with several tensors (one per input and output).
  const History with_data = model.fit(
      {d.a, d.b}, {d.score, d.label},
      FitOptions{
          .epochs = 1,
          .batch_size = 5,
          .validation_data = ValidationData({tail(d.a), tail(d.b)}, {tail(d.score), tail(d.label)}),
          .verbose = 0});
  const Logs after = model.evaluate({tail(d.a), tail(d.b)}, {tail(d.score), tail(d.label)}, 5);
  EXPECT_EQ(with_data.values("val_score_loss").back(), after.at("score_loss"));
}

// The one-tensor calls keep working on a one-input, one-output model through the vector forms.
TEST(FunctionalFit, SingleTensorCallsEqualTheVectorForms) {
  manual_seed(4);
  const Tensor x = randn({12, 3});
  const Tensor y = randn({12, 1});
  std::vector<Logs> results;
  std::vector<std::vector<float>> predictions;
  for (int form = 0; form < 2; ++form) {
    const auto input = Input({3});
    auto network = std::make_shared<Functional>(
        input, std::make_shared<Dense>(1, DenseOptions{.seed = 5})->call(input));
    Model model(network);
    model.compile(sgd(), "mse", {"mae"});
    if (form == 0) {
      model.fit(x, y, FitOptions{.epochs = 2, .batch_size = 5, .verbose = 0, .seed = 1});
      results.push_back(model.evaluate(x, y));
      predictions.push_back(model.predict(x).to_vector<float>());
    } else {
      model.fit(std::vector<Tensor>{x}, std::vector<Tensor>{y},
                FitOptions{.epochs = 2, .batch_size = 5, .verbose = 0, .seed = 1});
      results.push_back(model.evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}));
      predictions.push_back(model.predict(std::vector<Tensor>{x}).front().to_vector<float>());
    }
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(predictions[0], predictions[1]);
  EXPECT_EQ(results[0].size(), 2U);  // "loss" and "mae": no per-output keys for one output
}

TEST(FunctionalFit, CountAndSampleMismatchesAreClearErrors) {
  const TwoByTwoData d = two_by_two_data(6);
  const TwoByTwo m = two_by_two();
  Model model(m.network);
  expect_error_containing(
      [&] {
        model.compile(sgd(), {"mse", "mse", "mse"});
      },
      "compile: the model has 2 outputs, got 3 losses");
  expect_error_containing(
      [&] {
        model.compile(sgd(), {"mse", "mse"}, {{}, {}, {}});
      },
      "compile: the model has 2 outputs, got 3 metric lists");
  expect_error_containing(
      [&] {
        model.compile(sgd(), {"mse", "mse"}, {}, {1.0});
      },
      "compile: the model has 2 outputs, got 1 loss_weights");
  expect_error_containing(
      [&] {
        model.compile(sgd(), {"mse", "mse"}, {}, {1.0, std::nan("")});
      },
      "compile: loss_weights[1] is nan");
  model.compile(sgd(), {"mse", "categorical_crossentropy"});
  expect_error_containing(
      [&] {
        model.fit({d.a}, {d.score, d.label});
      },
      "fit: the model takes 2 inputs, got 1 x tensor");
  expect_error_containing(
      [&] {
        model.fit({d.a, d.b, d.b}, {d.score, d.label});
      },
      "fit: the model takes 2 inputs, got 3 x tensors");
  expect_error_containing(
      [&] {
        model.fit({d.a, d.b}, {d.score});
      },
      "fit: the model has 2 outputs, got 1 y tensor");
  expect_error_containing([&] { model.fit(d.a, d.score); },
                          "fit: the model takes 2 inputs, got 1 x tensor");
  expect_error_containing(
      [&] {
        model.fit({d.a, slice(d.b, 0, 0, 5, 1)}, {d.score, d.label});
      },
      "fit: x[1] of shape [5, 2] and x[0] of shape [6, 3] must have the same number of samples");
  expect_error_containing(
      [&] {
        model.fit({d.a, d.b}, {d.score, slice(d.label, 0, 0, 4, 1)});
      },
      "fit: y[1] of shape [4, 3] and x[0] of shape [6, 3] must have the same number of samples");
  expect_error_containing(
      [&] {
        model.fit(
            {d.a, d.b}, {d.score, d.label},
            FitOptions{.validation_data = ValidationData({d.a, d.b}, {d.score}), .verbose = 0});
      },
      "fit (validation_data): the model has 2 outputs, got 1 y tensor");
  expect_error_containing(
      [&] {
        model.evaluate({d.a, d.b}, {d.score, d.label, d.label});
      },
      "evaluate: the model has 2 outputs, got 3 y tensors");
  expect_error_containing(
      [&] {
        model.evaluate({d.a, d.b}, {slice(d.score, 0, 0, 2, 1), d.label});
      },
      "evaluate: y[0] of shape [2, 2] and x[0] of shape [6, 3]");
  expect_error_containing([&] { (void)model.predict(std::vector<Tensor>{d.b}); },
                          "predict: the model takes 2 inputs, got 1 x tensor");
  expect_error_containing(
      [&] {
        (void)model.predict({d.a, slice(d.b, 0, 0, 1, 1)});
      },
      "predict: x[1] of shape [1, 2] and x[0] of shape [6, 3]");
  expect_error_containing([&] { (void)model.predict(d.a); },
                          "predict: the model has 2 outputs; predict(std::vector<Tensor>)");
  expect_error_containing(
      [&] {
        model.train_on_batch({d.a, d.b}, {d.label});
      },
      "train_on_batch: the model has 2 outputs, got 1 y tensor");
  // A module with one input and output says so too.
  Model plain(std::make_shared<Dense>(1));
  plain.compile(sgd(), "mse");
  expect_error_containing(
      [&] {
        plain.fit({d.a, d.b}, {d.score});
      },
      "fit: the model takes 1 input, got 2 x tensors");
}

// Logs are keyed by name: outputs whose names would meet (the same layer used twice beside a
// layer named like its suffix, or an output named "val") must neither overwrite each other's
// values nor be accepted silently.
TEST(FunctionalFit, OutputNamesAndLogKeysNeverCollide) {
  const auto a = Input({2});
  const auto head = std::make_shared<Dense>(1, DenseOptions{.seed = 31});
  const auto other = std::make_shared<Dense>(1, DenseOptions{.seed = 32});
  head->set_name("out");
  other->set_name("out_1");
  const auto hidden = std::make_shared<Dense>(2, DenseOptions{.seed = 33});
  const auto three = std::make_shared<Functional>(
      std::vector{a}, std::vector{head->call(a), head->call(hidden->call(a)), other->call(a)});
  EXPECT_EQ(three->output_names(), (std::vector<std::string>{"out", "out_2", "out_1"}));
  Model model(three);
  model.compile(sgd(0.0), "mse", {{"mae"}});
  const Tensor x = ones({4, 2});
  const Logs logs =
      model.evaluate({x}, {zeros({4, 1}), zeros({4, 1}) + 100.0, zeros({4, 1})}, 4, 0);
  const std::vector<Tensor> predictions = model.predict(std::vector<Tensor>{x});
  const auto mse = [&](size_t k, double target) {
    double sum = 0.0;
    for (const double p : predictions[k].to_vector<double>()) sum += (p - target) * (p - target);
    return sum / 4.0;
  };
  EXPECT_NEAR(logs.at("out_loss"), mse(0, 0.0), 1e-4);
  EXPECT_NEAR(logs.at("out_2_loss"), mse(1, 100.0), 1e-2);
  EXPECT_NEAR(logs.at("out_1_loss"), mse(2, 0.0), 1e-4);

  const auto val = std::make_shared<Dense>(1, DenseOptions{.seed = 34});
  const auto aux = std::make_shared<Dense>(1, DenseOptions{.seed = 35});
  val->set_name("val");
  aux->set_name("aux");
  Model clash(
      std::make_shared<Functional>(std::vector{a}, std::vector{val->call(a), aux->call(a)}));
  expect_error_containing([&] { clash.compile(sgd(0.0), "mse"); },
                          "compile: two logs would both be named 'val_loss' (from 'loss' and "
                          "'val_loss')");
  Model twice(std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Module>>{std::make_shared<Dense>(1, DenseOptions{.seed = 36})}));
  expect_error_containing(
      [&] {
        twice.compile(sgd(0.0), "mse", {"mae", "mae"});
      },
      "two logs would both be named 'mae'");
}

}  // namespace
}  // namespace nabla::train
