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
