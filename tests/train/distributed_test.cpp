// Model::fit and evaluate as one rank of a data-parallel job, without MPI: a fake data::Replicas
// (rank 1 of 2, whose "other rank" contributes exactly what this one does) stands in for dist/.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "data/replicas.h"
#include "nabla.h"
#include "optim/sgd.h"
#include "tests/support/scratch_files.h"
#include "tests/train/train_test_support.h"

namespace nabla::train {
namespace {

using testing::line;
using testing::Linear;
using testing::LineData;
using testing::mse;

// Rank 1 of 2; the sum over ranks doubles each value, as if rank 0 had the same numbers.
class MirroredReplicas final : public data::Replicas {
 public:
  [[nodiscard]] int64_t rank() const override { return 1; }
  [[nodiscard]] int64_t size() const override { return 2; }
  void sum(std::vector<double>& values) const override {
    ++calls;
    for (double& v : values) v *= 2.0;
  }
  mutable int calls = 0;
};

class ReplicasGuard {
 public:
  explicit ReplicasGuard(std::shared_ptr<const data::Replicas> replicas) {
    data::set_replicas(std::move(replicas));
  }
  ~ReplicasGuard() { data::set_replicas(nullptr); }
  ReplicasGuard(const ReplicasGuard&) = delete;
  ReplicasGuard& operator=(const ReplicasGuard&) = delete;
};

void compile(Model& model) {
  model.compile(
      std::make_shared<optim::SGD>(std::vector<Tensor>{}, optim::SgdOptions{.learning_rate = 0.1}),
      mse(), {metric_by_name("mae")});
}

TEST(DistributedModel, NonChiefRankShardsAveragesAndWritesNothing) {
  const nabla::testing::ScratchDir dir;
  auto replicas = std::make_shared<MirroredReplicas>();
  const ReplicasGuard guard(replicas);
  Model model(std::make_shared<Linear>(1));
  compile(model);
  EXPECT_TRUE(model.distributed());
  EXPECT_FALSE(model.is_chief());
  const LineData data = line(40);
  ::testing::internal::CaptureStdout();
  const History history =
      model.fit(data.x, data.y,
                {.epochs = 2,
                 .batch_size = 5,
                 .callbacks = {std::make_shared<CSVLogger>(dir.file("log.csv")),
                               std::make_shared<ModelCheckpoint>(dir.file("w.safetensors"))},
                 .verbose = 1,
                 .seed = 3});
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");  // only rank 0 prints
  EXPECT_TRUE(dir.entries().empty());
  // Seed agreement once, then the loss and mae sums per epoch: 3 sums.
  EXPECT_EQ(replicas->calls, 3);
  ASSERT_EQ(history.values("loss").size(), 2U);
  // Doubled sums over doubled weights: the means are this rank's own.
  const Logs logs = model.evaluate(data.x, data.y, 7);
  EXPECT_EQ(replicas->calls, 4);
  // Rank 1 of 2 evaluates rows [20, 40): its mean squared error, written out here.
  const NoGradGuard no_grad;
  const Tensor rows = data.x.slice(0, 20, 40);
  const Tensor prediction = model.predict(rows, 20);
  const std::vector<float> p = prediction.to_vector<float>();
  const std::vector<float> t = data.y.slice(0, 20, 40).to_vector<float>();
  double sum = 0.0;
  for (size_t i = 0; i < p.size(); ++i) sum += (p[i] - t[i]) * static_cast<double>(p[i] - t[i]);
  EXPECT_NEAR(logs.at("loss"), sum / 20.0, 1e-6);
}

TEST(DistributedModel, SetDistributedFalseTrainsAlone) {
  auto replicas = std::make_shared<MirroredReplicas>();
  const ReplicasGuard guard(replicas);
  Model model(std::make_shared<Linear>(1));
  compile(model);
  model.set_distributed(false);
  EXPECT_FALSE(model.distributed());
  EXPECT_TRUE(model.is_chief());
  const LineData data = line(16);
  model.fit(data.x, data.y, {.epochs = 1, .batch_size = 4, .verbose = 0, .seed = 1});
  EXPECT_EQ(replicas->calls, 0);
}

}  // namespace
}  // namespace nabla::train
