// Model: compile/fit/evaluate/predict on small synthetic problems, callbacks and errors.
#include "train/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "nabla.h"
#include "nn/module.h"
#include "nn/serialization.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
#include "tests/train/train_test_support.h"

namespace nabla::train {
namespace {

using testing::line;
using testing::Linear;
using testing::LineData;
using testing::mse;

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

// fit is a plain loop plus bookkeeping: with the same initial weights, optimizer and loader seed
// it must take bit-identical steps (shuffled order, last partial batch, the mean loss), whatever
// the metrics it computes on the side. A fit-only change to the training path shows up here.
TEST(Model, FitTakesTheSameStepsAsAPlainLoop) {
  Generator generator(5);
  const Tensor x = uniform({70, 3}, -1.0, 1.0, kFloat32, &generator);  // 70 = 4 * 16 + 6
  const Tensor labels = randint(0, 4, {70}, &generator);
  const Tensor y = data::to_categorical(labels, 4);
  auto softmax_net = [] {
    auto net = std::make_shared<nn::Sequential>();
    net->add<nn::Dense>(4, nn::DenseOptions{.activation = "softmax", .input_dim = 3});
    return net;
  };
  const Loss loss = loss_by_name("categorical_crossentropy");
  constexpr uint64_t kSeed = 9;

  manual_seed(1);
  auto fitted = softmax_net();
  Model model(fitted);
  model.compile(std::make_shared<optim::RMSprop>(std::vector<Tensor>{}), loss,
                {metric_by_name("accuracy")});
  model.fit(x, y, {.epochs = 3, .batch_size = 16, .verbose = 0, .seed = kSeed});

  manual_seed(1);
  auto looped = softmax_net();
  optim::RMSprop optimizer(looped->parameters());
  data::DataLoader loader(data::TensorDataset(x, y), 16, /*shuffle=*/true, /*drop_last=*/false,
                          kSeed);
  for (int epoch = 0; epoch < 3; ++epoch) {
    for (const data::Batch& batch : loader) {
      optimizer.zero_grad();
      loss.fn((*looped)(batch.x), batch.y).backward();
      optimizer.step();
    }
  }
  const auto fitted_params = fitted->parameters();
  const auto looped_params = looped->parameters();
  ASSERT_EQ(fitted_params.size(), looped_params.size());
  for (size_t i = 0; i < fitted_params.size(); ++i) {
    EXPECT_EQ(fitted_params[i].to_vector<float>(), looped_params[i].to_vector<float>())
        << "parameter " << i;
  }
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
