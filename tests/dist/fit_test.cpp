// train::Model::fit and evaluate under the job: N ranks with batch B / N each and DataParallel
// give one process's parameters and logs with batch B; files come from rank 0 only; every rank
// gets the same logs, so EarlyStopping stops everywhere at the same epoch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dist/data_parallel.h"
#include "dist/dist.h"
#include "nabla.h"

namespace nabla::dist {
namespace {

constexpr int64_t kSamples = 64;
constexpr int64_t kGlobalBatch = 16;

std::shared_ptr<nn::Sequential> make_network(uint64_t seed) {
  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(8, nn::DenseOptions{.activation = "tanh", .input_dim = 4, .seed = seed});
  network->add<nn::Dense>(2, nn::DenseOptions{.seed = seed + 1});
  network->build({1, 4});
  return network;
}

struct TrainingRun {
  std::vector<std::vector<float>> params;
  train::History history;
  train::Logs evaluation;
};

TrainingRun fit(bool data_parallel,
                const std::vector<std::shared_ptr<train::Callback>>& callbacks = {},
                int64_t epochs = 3) {
  Generator generator(77);
  const Tensor x = randn({kSamples, 4}, kFloat32, &generator);
  const Tensor y = randn({kSamples, 2}, kFloat32, &generator);
  auto network = make_network(data_parallel ? 5 + static_cast<uint64_t>(rank()) : 5);
  std::shared_ptr<optim::Optimizer> optimizer = std::make_shared<optim::Adam>(
      std::vector<Tensor>{}, optim::AdamOptions{.learning_rate = 0.01});
  std::unique_ptr<DataParallel> replicated;
  if (data_parallel) {
    replicated = std::make_unique<DataParallel>(network);
    optimizer = replicated->wrap(optimizer);
  }
  train::Model model(network);
  model.set_distributed(data_parallel);
  model.compile(optimizer, "mse", {"mae"});
  const int64_t batch = data_parallel ? kGlobalBatch / world_size() : kGlobalBatch;
  TrainingRun run;
  run.history = model.fit(x, y,
                          {.epochs = epochs,
                           .batch_size = batch,
                           .validation_split = 0.25,
                           .callbacks = callbacks,
                           .verbose = 0,
                           .seed = 9});
  run.evaluation = model.evaluate(x, y, 5);
  for (const Tensor& p : network->parameters()) run.params.push_back(p.to_vector<float>());
  return run;
}

bool close(double got, double want) { return std::abs(got - want) <= 1e-5 * std::abs(want); }

TEST(DistributedFit, MatchesOneProcessWithTheGlobalBatch) {
  const TrainingRun alone = fit(false);
  const TrainingRun together = fit(true);
  ASSERT_EQ(alone.params.size(), together.params.size());
  for (size_t k = 0; k < alone.params.size(); ++k) {
    double diff = 0.0;
    double scale = 0.0;
    for (size_t i = 0; i < alone.params[k].size(); ++i) {
      diff =
          std::max(diff, std::abs(static_cast<double>(together.params[k][i]) - alone.params[k][i]));
      scale = std::max(scale, std::abs(static_cast<double>(alone.params[k][i])));
    }
    EXPECT_LE(diff, 1e-5 * scale) << "parameter " << k;
  }
  for (const std::string key : {"loss", "mae", "val_loss", "val_mae"}) {
    const std::vector<double> want = alone.history.values(key);
    const std::vector<double> got = together.history.values(key);
    ASSERT_EQ(want.size(), 3U) << key;
    ASSERT_EQ(got.size(), want.size()) << key;
    for (size_t e = 0; e < want.size(); ++e) {
      EXPECT_TRUE(close(got[e], want[e]))
          << key << " epoch " << e << ": " << got[e] << " vs " << want[e];
    }
  }
  for (const std::string key : {"loss", "mae"}) {
    EXPECT_TRUE(close(together.evaluation.at(key), alone.evaluation.at(key))) << key;
  }
}

TEST(DistributedFit, OnlyRankZeroWritesAndEveryRankStopsAtTheSameEpoch) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nabla_dist_fit_" + std::to_string(::getppid()));
  std::filesystem::create_directories(dir);
  const std::string csv = (dir / fmt::format("log_rank{}.csv", rank())).string();
  const std::string weights = (dir / fmt::format("w_rank{}.safetensors", rank())).string();
  auto stopping = std::make_shared<train::EarlyStopping>(
      train::EarlyStoppingOptions{.monitor = "loss", .min_delta = 0.05, .patience = 1});
  const TrainingRun run = fit(true,
                              {stopping, std::make_shared<train::CSVLogger>(csv),
                               std::make_shared<train::ModelCheckpoint>(weights)},
                              30);
  EXPECT_EQ(std::filesystem::exists(csv), rank() == 0);
  EXPECT_EQ(std::filesystem::exists(weights), rank() == 0);
  // The same logs and the same stopping epoch on every rank, bit for bit.
  std::vector<double> mine = run.history.values("loss");
  mine.push_back(static_cast<double>(stopping->stopped_epoch()));
  std::vector<double> summed = mine;
  sum_in_rank_order(summed);
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(summed[i], mine[i] * static_cast<double>(world_size())) << i;
  }
  barrier();
  if (rank() == 0) std::filesystem::remove_all(dir);
}

// Precision, recall and AUC are computed over every rank's rows together (Keras's stateful
// metrics), so a distributed evaluate gives the single-process values, also when some ranks get
// no rows at all.
TEST(DistributedFit, OverEpochMetricsCoverEveryRanksSamples) {
  for (const int64_t samples : {int64_t{37}, int64_t{3}}) {
    Generator generator(9);
    const Tensor x = uniform({samples, 1}, 0.0, 1.0, kFloat32, &generator);
    const Tensor y = to(uniform({samples, 1}, 0.0, 1.0, kFloat32, &generator) > 0.4, kFloat32);
    std::vector<train::Logs> logs;
    for (const bool distributed : {false, true}) {
      train::Model model(std::make_shared<nn::Lambda>([](const Tensor& t) { return t; }));
      model.set_distributed(distributed);
      model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{}), "binary_crossentropy",
                    {"precision", "recall", "auc"});
      logs.push_back(model.evaluate(x, y, 5));
    }
    for (const char* key : {"precision", "recall", "auc"}) {
      EXPECT_EQ(logs[0].at(key), logs[1].at(key)) << key << " with " << samples << " samples";
    }
    EXPECT_NEAR(logs[0].at("loss"), logs[1].at("loss"), 1e-6);
  }
}

}  // namespace
}  // namespace nabla::dist
