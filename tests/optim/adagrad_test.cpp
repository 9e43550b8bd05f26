// Adagrad: Keras' form (accumulator starting at 0.1, epsilon inside the root) against
// hand-computed values, a PyTorch trajectory with eps = 0, convergence, float32 and errors.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/optim.h"
#include "tests/optim/optim_test_support.h"

namespace nabla::optim {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the shared fixture

TEST(Adagrad, DefaultsAreKeras) {
  const Adagrad adagrad(std::vector<Tensor>{});
  EXPECT_EQ(adagrad.learning_rate(), 1e-3);
  EXPECT_EQ(adagrad.options().initial_accumulator_value, 0.1);
  EXPECT_EQ(adagrad.options().epsilon, 1e-7);
}

TEST(Adagrad, StepsMatchHandComputation) {
  Tensor w = tensor({kW0[0], kW0[1]}, kFloat64).requires_grad_();
  Adagrad adagrad({w}, {.learning_rate = 0.1});
  // Step 1 by hand: acc = 0.1 + 0.25 and 0.1 + 1.
  w.set_grad(tensor({0.5, -1.0}, kFloat64));
  adagrad.step();
  expect_values(
      w, {1.0 - 0.1 * 0.5 / std::sqrt(0.35 + 1e-7), -2.0 + 0.1 * 1.0 / std::sqrt(1.1 + 1e-7)},
      1e-15);
  std::vector<double> expected(2);
  for (size_t i = 0; i < 2; ++i) {
    double p = kW0[i];
    double acc = 0.1;
    for (int s = 0; s < 3; ++s) {
      const double g = kGrads[s][i];
      acc += g * g;
      p -= 0.1 * g / std::sqrt(acc + 1e-7);
    }
    expected[i] = p;
  }
  for (int s = 1; s < 3; ++s) {
    w.set_grad(tensor({kGrads[s][0], kGrads[s][1]}, kFloat64));
    adagrad.step();
  }
  expect_values(w, expected, 1e-15);
  expect_values(adagrad.state(0, "accumulator"),
                {0.1 + 0.25 + 0.09 + 0.16, 0.1 + 1.0 + 0.04 + 0.36}, 1e-15);
}

TEST(Adagrad, WeightDecayAndAccumulatorStartMatchHandComputation) {
  Tensor w = tensor({kW0[0], kW0[1]}, kFloat64).requires_grad_();
  Adagrad adagrad({w}, {.learning_rate = 0.1,
                        .initial_accumulator_value = 0.0,
                        .epsilon = 1e-3,
                        .weight_decay = 0.5});
  std::vector<double> expected(2);
  for (size_t i = 0; i < 2; ++i) {
    double p = kW0[i];
    double acc = 0.0;
    for (int s = 0; s < 3; ++s) {
      const double g = kGrads[s][i] + 0.5 * p;
      acc += g * g;
      p -= 0.1 * g / std::sqrt(acc + 1e-3);
    }
    expected[i] = p;
  }
  for (int s = 0; s < 3; ++s) {
    w.set_grad(tensor({kGrads[s][0], kGrads[s][1]}, kFloat64));
    adagrad.step();
  }
  expect_values(w, expected, 1e-15);
}

TEST(Adagrad, MatchesPyTorchWithZeroEpsilon) {
  // PyTorch 1.13 (script in sgd_test.cpp): torch.optim.Adagrad([w], lr=0.1,
  // initial_accumulator_value=0.1, eps=0.0), 5 steps on sum(s * (w - t)^2). PyTorch adds eps
  // outside the root, so the forms agree only with eps = 0.
  Tensor w = tensor({1.0, -2.0, 0.5}, kFloat64).requires_grad_();
  const Tensor target = tensor({0.0, 1.0, -1.0}, kFloat64);
  const Tensor scale = tensor({1.0, 3.0, 0.5}, kFloat64);
  Adagrad adagrad({w}, {.learning_rate = 0.1, .epsilon = 0.0});
  for (int i = 0; i < 5; ++i) {
    adagrad.zero_grad();
    sum(scale * square(w - target)).backward();
    adagrad.step();
  }
  expect_values(w, {0.6997694946708005, -1.6833669315292854, 0.19400237397988826}, 1e-13);
}

TEST(Adagrad, ConvergesOnQuadratic) {
  Tensor w = tensor({3.0, -1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  const Tensor target = tensor({1.0, 2.0, -3.0, 0.5}, kFloat64);
  Adagrad adagrad({w}, {.learning_rate = 0.5});
  for (int i = 0; i < 500; ++i) {
    adagrad.zero_grad();
    sum(square(w - target)).backward();
    adagrad.step();
  }
  expect_values(w, target.to_vector<double>(), 1e-6);
}

TEST(Adagrad, Float32ParametersWork) {
  Tensor w = tensor({1.0, -2.0}, kFloat32).requires_grad_();
  Adagrad adagrad({w}, {.learning_rate = 0.5});
  for (int i = 0; i < 300; ++i) {
    adagrad.zero_grad();
    sum(square(w)).backward();
    adagrad.step();
  }
  EXPECT_EQ(w.dtype(), kFloat32);
  EXPECT_EQ(adagrad.state(0, "accumulator").dtype(), kFloat32);
  for (float x : w.to_vector<float>()) EXPECT_NEAR(x, 0.0F, 1e-4F);
}

TEST(Adagrad, RejectsBadHyperParameters) {
  const std::vector<Tensor> none;
  EXPECT_EQ(message_of([&] { Adagrad(none, {.initial_accumulator_value = -0.1}); }),
            "Adagrad: initial_accumulator_value must be finite and >= 0, got -0.1");
  EXPECT_EQ(message_of([&] { Adagrad(none, {.epsilon = std::nan("")}); }),
            "Adagrad: epsilon must be finite and >= 0, got nan");
  EXPECT_EQ(message_of([&] { Adagrad(none, {.learning_rate = -1.0}); }),
            "Adagrad: learning_rate must be finite and >= 0, got -1");
}

}  // namespace
}  // namespace nabla::optim
