// End to end: small models learn with plain SGD written inline (nn does not depend on optim/).
#include <gtest/gtest.h>

#include <vector>

#include "nabla.h"
#include "nn/nn.h"

namespace nabla::nn {
namespace {

void sgd_step(Module& model, double learning_rate) {
  const NoGradGuard no_grad;
  for (Tensor p : model.parameters()) p.sub_(p.grad() * learning_rate);
  model.zero_grad();
}

TEST(Training, TwoLayerDenseNetLearnsXor) {
  Sequential model;
  model.add<Dense>(8, DenseOptions{.activation = "tanh", .seed = 7})
      .add<Dense>(1, DenseOptions{.seed = 8});
  const Tensor x = tensor({{0.0, 0.0}, {0.0, 1.0}, {1.0, 0.0}, {1.0, 1.0}});
  const Tensor y = tensor(std::vector<float>{0.0F, 1.0F, 1.0F, 0.0F}, {4, 1});
  std::vector<double> losses;
  for (int step = 0; step < 600; ++step) {
    const Tensor loss = binary_crossentropy(model(x), y, /*from_logits=*/true);
    losses.push_back(loss.item());
    loss.backward();
    sgd_step(model, 0.5);
  }
  EXPECT_LT(losses.back(), 0.05) << "first loss " << losses.front();
  EXPECT_LT(losses.back(), losses.front() / 10.0);
  // Mostly monotone: the loss of every 100-step block beats the block before.
  for (size_t i = 100; i < losses.size(); i += 100) EXPECT_LT(losses[i], losses[i - 100]) << i;
  const NoGradGuard no_grad;
  EXPECT_DOUBLE_EQ(binary_accuracy(sigmoid(model(x)), y), 1.0);
}

TEST(Training, SmallCnnSeparatesHorizontalFromVerticalBars) {
  // 8x8 single-channel images holding one bright row (class 0) or one bright column (class 1).
  const int64_t count = 16;
  std::vector<float> pixels(static_cast<size_t>(count * 64), 0.0F);
  std::vector<int64_t> labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t line = i % 8;
    labels[static_cast<size_t>(i)] = i / 8;
    for (int64_t k = 0; k < 8; ++k) {
      const int64_t r = labels[static_cast<size_t>(i)] == 0 ? line : k;
      const int64_t c = labels[static_cast<size_t>(i)] == 0 ? k : line;
      pixels[static_cast<size_t>(i * 64 + r * 8 + c)] = 1.0F;
    }
  }
  const Tensor images = tensor(pixels, {count, 1, 8, 8});
  const Tensor targets = tensor(labels, {count});

  Sequential model;
  model.add<Conv2D>(4, 3, Conv2DOptions{.padding = "same", .activation = "relu", .seed = 1})
      .add<MaxPooling2D>(2)
      .add<Conv2D>(4, 3, Conv2DOptions{.activation = "relu", .seed = 2})
      .add<AveragePooling2D>(2)
      .add<Flatten>()
      .add<Dense>(2, DenseOptions{.seed = 3});
  double first = 0.0;
  double last = 0.0;
  for (int step = 0; step < 150; ++step) {
    const Tensor loss = sparse_categorical_crossentropy(model(images), targets, true);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    sgd_step(model, 0.3);
  }
  EXPECT_LT(last, first / 4.0) << "first " << first << ", last " << last;
  const NoGradGuard no_grad;
  EXPECT_DOUBLE_EQ(sparse_categorical_accuracy(model(images), targets), 1.0);
}

}  // namespace
}  // namespace nabla::nn
