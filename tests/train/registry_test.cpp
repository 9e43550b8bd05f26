// Losses and metrics by their Keras names (train/registry.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "nabla.h"

namespace nabla::train {
namespace {

TEST(Registry, AccuracyMetricsFollowKerasRules) {
  const Tensor probabilities = tensor({{0.1, 0.9}, {0.8, 0.2}, {0.3, 0.7}});
  EXPECT_DOUBLE_EQ(metric_by_name("accuracy").fn(probabilities, tensor({{0, 1}, {1, 0}, {1, 0}})),
                   2.0 / 3.0);
  EXPECT_DOUBLE_EQ(
      metric_by_name("accuracy").fn(probabilities, tensor(std::vector<int64_t>{1, 0, 0}, {3})),
      2.0 / 3.0);
  EXPECT_DOUBLE_EQ(
      metric_by_name("accuracy").fn(tensor(std::vector<double>{0.2, 0.7}, {2, 1}), zeros({2, 1})),
      0.5);
  EXPECT_THROW((void)metric_by_name("f1"), Error);
}

TEST(Registry, LossesByKerasName) {
  const Tensor logits = tensor({{2.0, 1.0, 0.1}, {0.5, 2.5, 0.3}}, kFloat64);
  const Tensor labels = tensor(std::vector<int64_t>{0, 1}, {2});
  // PyTorch: F.cross_entropy(logits, labels) for these values.
  EXPECT_NEAR(loss_by_name("sparse_categorical_crossentropy", true).fn(logits, labels).item(),
              0.31853976964918573, 1e-15);
  const Tensor pred = tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64);
  const Tensor target = tensor({{1.5, 2.0}, {2.0, 4.0}}, kFloat64);
  EXPECT_DOUBLE_EQ(loss_by_name("mse").fn(pred, target).item(), (0.25 + 1.0) / 4.0);
  EXPECT_DOUBLE_EQ(loss_by_name("mae").fn(pred, target).item(), (0.5 + 1.0) / 4.0);
  EXPECT_EQ(loss_by_name("mean_squared_error").name, "mean_squared_error");
  EXPECT_THROW((void)loss_by_name("poisson"), Error);
  // Errors 0.5, 0, 1, 0: Huber 0.125 + 0.5 over 4; every t * p >= 1: hinge 0.
  EXPECT_DOUBLE_EQ(loss_by_name("huber").fn(pred, target).item(), 0.625 / 4.0);
  EXPECT_DOUBLE_EQ(loss_by_name("hinge").fn(pred, target).item(), 0.0);
  EXPECT_EQ(loss_by_name("kld").name, "kld");
  // Every prediction > 0.5 and every target non-zero: precision and recall 1.
  EXPECT_DOUBLE_EQ(metric_by_name("precision").fn(pred, target), 1.0);
  EXPECT_DOUBLE_EQ(metric_by_name("recall").fn(pred, target), 1.0);
  EXPECT_EQ(metric_by_name("auc").name, "auc");
}

}  // namespace
}  // namespace nabla::train
