// Model: compile/fit/evaluate/predict on small synthetic problems, callbacks and errors.
#include "train/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "nabla.h"
#include "nn/module.h"
#include "nn/serialization.h"
#include "optim/sgd.h"

namespace nabla::train {
namespace {

// y = x @ w + b, with parameters created at the first call like a Keras layer.
class Linear : public nn::Module {
 public:
  explicit Linear(int64_t units) : units_(units) { set_name(nn::unique_layer_name(type_name())); }
  Shape build(const Shape& input_shape) override {
    if (!built()) {
      Generator generator(1);
      weight_ = register_parameter(
          "kernel", uniform({input_shape.back(), units_}, -0.1, 0.1, kFloat32, &generator));
      bias_ = register_parameter("bias", zeros({units_}));
      mark_built();
    }
    return {input_shape.front(), units_};
  }
  Tensor forward(const Tensor& input) override { return matmul(input, weight_) + bias_; }
  [[nodiscard]] std::string type_name() const override { return "TestLinear"; }

 private:
  int64_t units_;
  Tensor weight_;
  Tensor bias_;
};

Loss mse() {
  return {"mse", [](const Tensor& p, const Tensor& t) { return mean(square(p - t)); }};
}

struct LineData {
  Tensor x;
  Tensor y;
};

LineData line(int64_t n) {
  Generator generator(2);
  Tensor x = uniform({n, 1}, -1.0, 1.0, kFloat32, &generator);
  const NoGradGuard no_grad;
  return {x, x * 2.0 + 1.0};
}

TEST(Model, FitLearnsALineAndRecordsHistory) {
  auto network = std::make_shared<Linear>(1);
  Model model(network);
  model.compile(
      std::make_shared<optim::SGD>(std::vector<Tensor>{}, optim::SgdOptions{.learning_rate = 0.1}),
      mse(), {metric_by_name("mae")});
  const LineData data = line(256);
  const History history = model.fit(
      data.x, data.y,
      {.epochs = 30, .batch_size = 16, .validation_split = 0.25, .verbose = 0, .seed = 3});
  const auto loss = history.values("loss");
  ASSERT_EQ(loss.size(), 30U);
  EXPECT_LT(loss.back(), loss.front() * 0.01);
  EXPECT_LT(history.values("val_loss").back(), 1e-3);
  EXPECT_EQ(history.values("lr").back(), 0.1);
  const Tensor kernel = network->named_parameters()[0].second;
  EXPECT_NEAR(kernel.item(), 2.0, 0.02);
  const Logs logs = model.evaluate(data.x, data.y, 64);
  EXPECT_LT(logs.at("loss"), 1e-3);
  EXPECT_LT(logs.at("mae"), 0.03);
  const Tensor predictions = model.predict(tensor(std::vector<double>{0.5}, {1, 1}));
  EXPECT_NEAR(predictions.item(), 2.0, 0.03);
}

TEST(Model, SameSeedGivesSameTraining) {
  auto run = [] {
    Model model(std::make_shared<Linear>(1));
    model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                               optim::SgdOptions{.learning_rate = 0.05}),
                  mse());
    const LineData data = line(64);
    return model.fit(data.x, data.y, {.epochs = 3, .batch_size = 8, .verbose = 0, .seed = 11})
        .values("loss");
  };
  EXPECT_EQ(run(), run());
}

TEST(Model, EarlyStoppingStopsAndRestoresBestWeights) {
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
TEST(Model, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
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

TEST(Model, CallbacksWriteCsvAndCheckpointsAndScheduleTheLearningRate) {
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

TEST(Model, ErrorsAreClear) {
  Model model(std::make_shared<Linear>(1));
  EXPECT_THROW(model.fit(zeros({4, 1}), zeros({4, 1})), Error);  // not compiled
  model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{}), mse());
  try {
    model.fit(zeros({4, 1}), zeros({5, 1}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "fit: x of shape [4, 1] and y of shape [5, 1] must have the same number of samples");
  }
  EXPECT_THROW(model.fit(zeros({4, 1}), zeros({4, 1}), {.batch_size = 0}), Error);
  EXPECT_THROW(model.fit(zeros({4, 1}), zeros({4, 1}), {.validation_split = 1.0}), Error);
  auto stopper = std::make_shared<EarlyStopping>();  // monitors val_loss, which is not logged
  EXPECT_THROW(model.fit(zeros({4, 1}), zeros({4, 1}), {.callbacks = {stopper}, .verbose = 0}),
               Error);
}

}  // namespace
}  // namespace nabla::train
