// Callbacks (train/callbacks.cpp) driven by Model::fit or directly: EarlyStopping, CSV logging,
// checkpoints and learning-rate scheduling.
#include "train/callbacks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/sgd.h"
#include "tests/train/train_test_support.h"

namespace nabla::train {
namespace {

using testing::line;
using testing::Linear;
using testing::LineData;
using testing::mse;

TEST(Callbacks, EarlyStoppingStopsAndRestoresBestWeights) {
  // A learning rate far too large makes the loss grow after the first epoch.
  auto network = std::make_shared<Linear>(1);
  Model model(network);
  model.compile(
      std::make_shared<optim::SGD>(std::vector<Tensor>{}, optim::SgdOptions{.learning_rate = 3.0}),
      mse());
  auto stopper = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "loss", .patience = 1, .restore_best_weights = true});
  const LineData data = line(64);
  const History history = model.fit(
      data.x, data.y, {.epochs = 20, .batch_size = 64, .callbacks = {stopper}, .verbose = 0});
  EXPECT_LT(history.epochs().size(), 20U);
  EXPECT_GE(stopper->stopped_epoch(), 1);
}

// Regression: EarlyStopping stopped one epoch late. Keras stops once `patience` epochs in a row
// have not improved: losses 1.0, 0.5, 0.6, 0.7 with patience 2 stop at epoch 3.
TEST(Callbacks, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
  for (const int64_t patience : {0, 1, 2, 3}) {
    Model model(std::make_shared<Linear>(1));
    EarlyStopping stopper(EarlyStoppingOptions{.monitor = "loss", .patience = patience});
    stopper.on_train_begin(model);
    const std::vector<double> losses = {1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
    int64_t stopped = -1;
    for (size_t epoch = 0; epoch < losses.size() && stopped < 0; ++epoch) {
      Logs logs{{"loss", losses[epoch]}};
      stopper.on_epoch_end(model, static_cast<int64_t>(epoch), logs);
      stopped = stopper.stopped_epoch();
    }
    // Epoch 1 is the best; epochs 2, 3, ... do not improve.
    EXPECT_EQ(stopped, 1 + std::max<int64_t>(patience, 1)) << "patience " << patience;
  }
}

TEST(Callbacks, CallbacksWriteCsvAndCheckpointsAndScheduleTheLearningRate) {
  const auto dir = std::filesystem::temp_directory_path() / "nabla_model_test";
  std::filesystem::create_directories(dir);
  auto network = std::make_shared<Linear>(1);
  Model model(network);
  model.compile(
      std::make_shared<optim::SGD>(std::vector<Tensor>{}, optim::SgdOptions{.learning_rate = 0.1}),
      mse());
  const LineData data = line(32);
  const std::string csv = (dir / "log.csv").string();
  const std::string checkpoint = (dir / "weights_{epoch}.safetensors").string();
  model.fit(data.x, data.y,
            {.epochs = 3,
             .batch_size = 8,
             .callbacks = {std::make_shared<CSVLogger>(csv),
                           std::make_shared<ModelCheckpoint>(
                               checkpoint, ModelCheckpointOptions{.monitor = "loss"}),
                           std::make_shared<LearningRateScheduler>([](int64_t epoch, double lr) {
                             return epoch == 0 ? lr : lr * 0.5;
                           })},
             .verbose = 0});
  std::ifstream file(csv);
  std::string header;
  std::getline(file, header);
  EXPECT_EQ(header, "epoch,loss,lr");
  int rows = 0;
  for (std::string row; std::getline(file, row);) ++rows;
  EXPECT_EQ(rows, 3);
  EXPECT_TRUE(std::filesystem::exists(dir / "weights_3.safetensors"));
  EXPECT_DOUBLE_EQ(model.optimizer().learning_rate(), 0.025);
  EXPECT_EQ(model.history().values("lr"), (std::vector<double>{0.1, 0.05, 0.025}));
  // The checkpoint loads back into a fresh network and predicts the same.
  auto restored = std::make_shared<Linear>(1);
  restored->build({1, 1});
  nn::load_weights(*restored, (dir / "weights_3.safetensors").string());
  EXPECT_EQ(restored->named_parameters()[0].second.to_vector<float>(),
            network->named_parameters()[0].second.to_vector<float>());
  std::filesystem::remove_all(dir);
}

TEST(Callbacks, ReduceLROnPlateauFollowsKerasRules) {
  Model model(std::make_shared<Linear>(1));
  model.compile(
      std::make_shared<optim::SGD>(std::vector<Tensor>{}, optim::SgdOptions{.learning_rate = 0.1}),
      mse());
  ReduceLROnPlateau plateau({.monitor = "val_loss",
                             .factor = 0.5,
                             .patience = 2,
                             .min_delta = 0.0,
                             .cooldown = 1,
                             .min_lr = 0.02});
  plateau.on_train_begin(model);
  // Worked through keras.callbacks.ReduceLROnPlateau.on_epoch_end by hand: reductions after
  // epochs 3 (two bad epochs), 5 (epoch 4 ends the cooldown and, in Keras, counts as bad) and 8
  // (to min_lr: max(0.0125, 0.02)); at epoch 10 the rate already is min_lr.
  const std::vector<double> metric{1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85};
  const std::vector<double> lr{0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02};
  for (size_t e = 0; e < metric.size(); ++e) {
    Logs logs{{"val_loss", metric[e]}};
    plateau.on_epoch_end(model, static_cast<int64_t>(e), logs);
    EXPECT_DOUBLE_EQ(model.optimizer().learning_rate(), lr[e]) << "epoch " << e;
    EXPECT_DOUBLE_EQ(logs.at("lr"), lr[e]);
  }
  EXPECT_DOUBLE_EQ(plateau.best(), 0.8);
  EXPECT_EQ(plateau.wait(), 2);

  // Auto mode maximizes an accuracy; min_delta is absolute.
  model.optimizer().set_learning_rate(1.0);
  ReduceLROnPlateau accuracy({.monitor = "val_accuracy", .patience = 1, .min_delta = 0.05});
  accuracy.on_train_begin(model);
  const std::vector<double> acc{0.5, 0.6, 0.62, 0.7};
  const std::vector<double> acc_lr{1.0, 1.0, 0.1, 0.1};
  for (size_t e = 0; e < acc.size(); ++e) {
    Logs logs{{"val_accuracy", acc[e]}};
    accuracy.on_epoch_end(model, static_cast<int64_t>(e), logs);
    EXPECT_DOUBLE_EQ(model.optimizer().learning_rate(), acc_lr[e]) << "epoch " << e;
  }
  Logs missing{{"loss", 1.0}};
  EXPECT_THROW(plateau.on_epoch_end(model, 0, missing), Error);
  EXPECT_THROW(ReduceLROnPlateau({.factor = 1.0}), Error);
  EXPECT_THROW(ReduceLROnPlateau({.patience = -1}), Error);
  EXPECT_THROW(ReduceLROnPlateau({.min_lr = -1.0}), Error);
}

TEST(Callbacks, TerminateOnNaNStopsAtTheFirstNonFiniteBatch) {
  auto network = std::make_shared<Linear>(1);
  Model model(network);
  model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{}), mse());
  LineData data = line(10);
  {
    const NoGradGuard no_grad;
    data.x.data_ptr<float>()[5] = std::numeric_limits<float>::quiet_NaN();  // in batch 2 of 2
  }
  auto terminate = std::make_shared<TerminateOnNaN>();
  const History history = model.fit(
      data.x, data.y,
      {.epochs = 3, .batch_size = 2, .shuffle = false, .callbacks = {terminate}, .verbose = 0});
  EXPECT_EQ(terminate->stopped_step(), 2);
  EXPECT_EQ(model.optimizer().iterations(), 3);  // batches 0, 1, 2 ran; 3 and 4 did not
  EXPECT_EQ(history.epochs().size(), 1U);
}

TEST(Callbacks, LearningRateScheduleCallbackStepsPerBatchOrEpoch) {
  for (const bool per_epoch : {false, true}) {
    auto network = std::make_shared<Linear>(1);
    Model model(network);
    auto sgd = std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                            optim::SgdOptions{.learning_rate = 0.1});
    model.compile(sgd, mse());
    auto callback = std::make_shared<LearningRateScheduleCallback>(
        std::make_shared<optim::StepDecay>(*sgd, 1, 0.5), per_epoch);
    const LineData data = line(8);
    (void)model.fit(data.x, data.y,
                    {.epochs = 2, .batch_size = 4, .callbacks = {callback}, .verbose = 0});
    const int64_t steps = per_epoch ? 2 : 4;
    EXPECT_EQ(callback->schedule().step_count(), steps);
    EXPECT_DOUBLE_EQ(sgd->learning_rate(), 0.1 * std::pow(0.5, static_cast<double>(steps)));
  }
}

}  // namespace
}  // namespace nabla::train
