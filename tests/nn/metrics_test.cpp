// Accuracy variants and the confusion matrix.
#include "nn/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nabla.h"

namespace nabla::nn {
namespace {

const Tensor& scores() {
  static const Tensor t =
      tensor({{0.1, 0.7, 0.2}, {0.8, 0.1, 0.1}, {0.3, 0.3, 0.4}, {0.2, 0.5, 0.3}}, kFloat64);
  return t;  // argmax: 1, 0, 2, 1
}

TEST(Metrics, CategoricalAccuracyComparesArgmaxes) {
  const Tensor one_hot =
      tensor({{0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}, {1.0, 0.0, 0.0}, {0.0, 0.0, 1.0}}, kFloat64);
  EXPECT_DOUBLE_EQ(categorical_accuracy(scores(), one_hot), 0.5);
  EXPECT_DOUBLE_EQ(accuracy(scores(), one_hot), 0.5);
}

TEST(Metrics, SparseAccuracyComparesWithIntegerLabels) {
  const Tensor labels = tensor(std::vector<int64_t>{1, 0, 2, 0}, {4});
  EXPECT_DOUBLE_EQ(sparse_categorical_accuracy(scores(), labels), 0.75);
  EXPECT_DOUBLE_EQ(sparse_categorical_accuracy(scores(), labels.reshape({4, 1})), 0.75);
  EXPECT_DOUBLE_EQ(accuracy(scores(), labels), 0.75);
  EXPECT_THROW((void)sparse_categorical_accuracy(scores(), tensor(std::vector<int64_t>{1, 0}, {2})),
               Error);
}

TEST(Metrics, BinaryAccuracyThresholdsAtOneHalf) {
  const Tensor probs = tensor(std::vector<double>{0.9, 0.4, 0.6, 0.5}, {4, 1}, kFloat64);
  const Tensor truth = tensor(std::vector<double>{1.0, 0.0, 0.0, 0.0}, {4, 1}, kFloat64);
  // 0.5 is not above the threshold: predicted 0, like Keras.
  EXPECT_DOUBLE_EQ(binary_accuracy(probs, truth), 0.75);
  EXPECT_DOUBLE_EQ(accuracy(probs, truth), 0.75);
  EXPECT_DOUBLE_EQ(binary_accuracy(probs, truth, 0.95), 0.75);
  EXPECT_DOUBLE_EQ(binary_accuracy(probs, truth, 0.0), 0.25);
}

TEST(Metrics, ConfusionMatrixRowsAreTrueClasses) {
  const Tensor truth = tensor(std::vector<int64_t>{0, 0, 1, 2, 2, 2}, {6});
  const Tensor pred = tensor(std::vector<int64_t>{0, 1, 1, 2, 0, 2}, {6});
  const Tensor m = confusion_matrix(truth, pred, 3);
  EXPECT_EQ(m.shape(), (Shape{3, 3}));
  EXPECT_EQ(m.dtype(), kInt64);
  EXPECT_EQ(m.to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 0, 0, 1, 0, 1, 0, 2}));
  EXPECT_THROW(
      (void)confusion_matrix(truth, tensor(std::vector<int64_t>{0, 1, 1, 3, 0, 2}, {6}), 3), Error);
  EXPECT_THROW((void)confusion_matrix(truth, pred.slice(0, 0, 5), 3), Error);
}

// ---- precision, recall, top-k, AUC ----

TEST(Metrics, PrecisionAndRecallCountThresholdedPredictions) {
  const Tensor p = tensor({0.9, 0.6, 0.4, 0.2, 0.7, 0.1}, kFloat64);
  const Tensor t = tensor({1.0, 0.0, 1.0, 0.0, 1.0, 1.0}, kFloat64);
  // Predicted positive (> 0.5): 0, 1, 4 -> TP 2, FP 1; positives 0, 2, 4, 5 -> FN 2.
  EXPECT_DOUBLE_EQ(precision(p, t), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(recall(p, t), 2.0 / 4.0);
  // Threshold 0.3: predicted 0, 1, 2, 4 -> TP 3, FP 1; FN 1.
  EXPECT_DOUBLE_EQ(precision(p, t, 0.3), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(recall(p, t, 0.3), 3.0 / 4.0);
  // Nothing predicted positive, no positives: 0 (divide_no_nan).
  EXPECT_EQ(precision(p, t, 0.95), 0.0);
  EXPECT_EQ(recall(p, zeros({6}, kFloat64)), 0.0);
  EXPECT_THROW((void)precision(p, ones({5}, kFloat64)), Error);
}

TEST(Metrics, TopKCountsTiesAtTheBoundaryAsIn) {
  const Tensor p =
      tensor({{0.1, 0.5, 0.2, 0.2}, {0.4, 0.3, 0.2, 0.1}, {0.25, 0.25, 0.25, 0.25}}, kFloat64);
  const Tensor labels = tensor(std::vector<int64_t>{3, 2, 0}, {3});
  // Row 0: label 3 (0.2) is beaten by one score -> in top 2 (tied with class 2).
  // Row 1: label 2 (0.2) is beaten by two -> not in top 2. Row 2: all tied -> in.
  EXPECT_DOUBLE_EQ(sparse_top_k_categorical_accuracy(p, labels, 2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(sparse_top_k_categorical_accuracy(p, labels, 1), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(sparse_top_k_categorical_accuracy(p, labels, 3), 1.0);
  const Tensor one_hot =
      tensor({{0.0, 0.0, 0.0, 1.0}, {0.0, 0.0, 1.0, 0.0}, {1.0, 0.0, 0.0, 0.0}}, kFloat64);
  EXPECT_DOUBLE_EQ(top_k_categorical_accuracy(p, one_hot, 2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(top_k_categorical_accuracy(p, one_hot), 1.0);  // k = 5 > classes
  EXPECT_THROW((void)sparse_top_k_categorical_accuracy(p, labels, 0), Error);
  EXPECT_THROW(
      (void)sparse_top_k_categorical_accuracy(p, tensor(std::vector<int64_t>{0, 4, 1}, {3})),
      Error);
}

// AUC against the pair count: every (positive, negative) pair, 1 when the positive scores higher,
// 1/2 on ties.
TEST(Metrics, AucEqualsThePairwiseWinRate) {
  Generator generator(3);
  // Scores on a coarse grid, so that ties occur.
  const Tensor raw = uniform({60}, 0.0, 10.0, kFloat64, &generator);
  std::vector<double> scores;
  for (const double v : raw.to_vector<double>()) scores.push_back(std::floor(v) / 10.0);
  std::vector<double> labels;
  for (size_t i = 0; i < scores.size(); ++i) labels.push_back((i * 7 % 5) < 2 ? 1.0 : 0.0);
  double wins = 0.0;
  double pairs = 0.0;
  for (size_t i = 0; i < scores.size(); ++i) {
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[i] == 1.0 && labels[j] == 0.0) {
        pairs += 1.0;
        wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
    }
  }
  const Tensor p = tensor(scores, {6, 10}, kFloat64);
  const Tensor t = tensor(labels, {6, 10}, kFloat64);
  EXPECT_NEAR(auc(p, t), wins / pairs, 1e-15);
  EXPECT_DOUBLE_EQ(auc(tensor({0.1, 0.9}, kFloat64), tensor({0.0, 1.0}, kFloat64)), 1.0);
  EXPECT_DOUBLE_EQ(auc(tensor({0.1, 0.9}, kFloat64), tensor({1.0, 0.0}, kFloat64)), 0.0);
  EXPECT_EQ(auc(tensor({0.1, 0.9}, kFloat64), tensor({1.0, 1.0}, kFloat64)), 0.0);
  EXPECT_THROW((void)auc(tensor({0.1, NAN}, kFloat64), tensor({1.0, 0.0}, kFloat64)), Error);
}

}  // namespace
}  // namespace nabla::nn
