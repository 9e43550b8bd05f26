// Accuracy variants and the confusion matrix.
#include "nn/metrics.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nabla::nn
