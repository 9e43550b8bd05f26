// Keras-style stateful metrics: precision, recall and AUC over the whole epoch (fit) or data set
// (evaluate), not the mean of per-batch values; checked against double computations.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "nabla.h"

namespace nabla::train {
namespace {

struct Counts {
  double precision, recall, auc;
};

// Precision and recall at 0.5 and the exact ROC area (ties count half), in double.
Counts counts(const std::vector<double>& scores, const std::vector<double>& labels) {
  double tp = 0.0;
  double predicted = 0.0;
  double positives = 0.0;
  double wins = 0.0;
  double pairs = 0.0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool positive = labels[i] != 0.0;
    if (scores[i] > 0.5) predicted += 1.0;
    if (positive) positives += 1.0;
    if (positive && scores[i] > 0.5) tp += 1.0;
    if (!positive) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[j] != 0.0) continue;
      pairs += 1.0;
      wins += scores[i] > scores[j] ? 1.0 : (scores[i] == scores[j] ? 0.5 : 0.0);
    }
  }
  return {predicted > 0.0 ? tp / predicted : 0.0, positives > 0.0 ? tp / positives : 0.0,
          pairs > 0.0 ? wins / pairs : 0.0};
}

std::vector<double> part(const std::vector<double>& v, size_t begin, size_t end) {
  return {v.begin() + static_cast<std::ptrdiff_t>(begin),
          v.begin() + static_cast<std::ptrdiff_t>(end)};
}

std::shared_ptr<optim::SGD> sgd() {
  return std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                      optim::SgdOptions{.learning_rate = 0.5});
}

// The network returns its input, so the scores are the data: two batches of 3 whose per-batch
// precision, recall and AUC average to other values than over all six samples.
TEST(EpochMetrics, EvaluateComputesPrecisionRecallAndAucOverAllSamples) {
  const std::vector<double> scores{0.9, 0.8, 0.7, 0.6, 0.1, 0.2};
  const std::vector<double> labels{1, 0, 0, 1, 1, 0};
  Model model(std::make_shared<nn::Lambda>([](const Tensor& t) { return t; }));
  model.compile(sgd(), "binary_crossentropy", {"precision", "recall", "auc", "accuracy"});
  const Logs logs = model.evaluate(tensor(scores, {6, 1}), tensor(labels, {6, 1}), 3);
  const Counts all = counts(scores, labels);
  const Counts first = counts(part(scores, 0, 3), part(labels, 0, 3));
  const Counts second = counts(part(scores, 3, 6), part(labels, 3, 6));
  EXPECT_DOUBLE_EQ(logs.at("precision"), all.precision);
  EXPECT_DOUBLE_EQ(logs.at("recall"), all.recall);
  EXPECT_DOUBLE_EQ(logs.at("auc"), all.auc);
  EXPECT_NE(all.precision, (first.precision + second.precision) / 2.0);
  EXPECT_NE(all.recall, (first.recall + second.recall) / 2.0);
  EXPECT_NE(all.auc, (first.auc + second.auc) / 2.0);
  // Accuracy stays the mean over batches, which for it is the mean over samples.
  EXPECT_DOUBLE_EQ(logs.at("accuracy"), 3.0 / 6.0);
}

// fit's epoch value is over the predictions each batch made while training (before its step),
// as a hand-written loop over the same batches collects them; on_batch_end sees batch values.
TEST(EpochMetrics, FitComputesThemOverTheEpochsPredictions) {
  const int64_t n = 10;
  Generator generator(6);
  const Tensor x = randn({n, 3}, kFloat32, &generator);
  std::vector<float> y_values;
  for (int64_t i = 0; i < n; ++i) y_values.push_back(static_cast<float>((i * 3) % 2));
  const Tensor y = tensor(y_values, {n, 1});
  const auto make = [] {
    return std::make_shared<nn::Dense>(
        1, nn::DenseOptions{.activation = "sigmoid", .input_dim = 3, .seed = 2});
  };
  const auto fitted = make();
  Model model(fitted);
  model.compile(sgd(), "binary_crossentropy", {"precision", "recall", "auc"});
  const History history =
      model.fit(x, y, FitOptions{.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0});

  const auto looped = make();
  optim::SGD optimizer(looped->parameters(), optim::SgdOptions{.learning_rate = 0.5});
  std::vector<double> scores;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    scores.clear();
    for (int64_t begin = 0; begin < n; begin += 4) {
      const int64_t end = std::min(n, begin + 4);
      optimizer.zero_grad();
      const Tensor prediction = (*looped)(slice(x, 0, begin, end, 1));
      const Tensor loss = nn::binary_crossentropy(prediction, slice(y, 0, begin, end, 1));
      loss.backward();
      optimizer.step();
      for (const double v : prediction.to_vector<double>()) scores.push_back(v);
    }
  }
  const std::vector<double> labels(y_values.begin(), y_values.end());
  const Counts expected = counts(scores, labels);
  EXPECT_DOUBLE_EQ(history.values("precision").back(), expected.precision);
  EXPECT_DOUBLE_EQ(history.values("recall").back(), expected.recall);
  EXPECT_DOUBLE_EQ(history.values("auc").back(), expected.auc);
  EXPECT_EQ(fitted->parameters()[0].to_vector<float>(), looped->parameters()[0].to_vector<float>());
}

TEST(EpochMetrics, MetricByNameMarksTheStatefulOnes) {
  for (const char* name : {"precision", "recall", "auc"}) {
    EXPECT_TRUE(metric_by_name(name).over_epoch) << name;
  }
  for (const char* name : {"accuracy", "mae", "top_k_categorical_accuracy"}) {
    EXPECT_FALSE(metric_by_name(name).over_epoch) << name;
  }
}

}  // namespace
}  // namespace nabla::train
