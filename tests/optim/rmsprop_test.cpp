// RMSprop: Keras' form (epsilon inside the root) against hand-computed values, the centered and
// momentum variants, PyTorch trajectories with eps = 0 (where the two forms coincide),
// convergence, float32 and hyper-parameter errors.
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

TEST(Rmsprop, DefaultsAreKeras) {
  const RMSprop rmsprop(std::vector<Tensor>{});
  EXPECT_EQ(rmsprop.learning_rate(), 1e-3);
  EXPECT_EQ(rmsprop.options().rho, 0.9);
  EXPECT_EQ(rmsprop.options().epsilon, 1e-7);
  EXPECT_EQ(rmsprop.options().momentum, 0.0);
  EXPECT_FALSE(rmsprop.options().centered);
}

TEST(Rmsprop, PlainStepsMatchHandComputation) {
  Tensor w = start();
  RMSprop rmsprop({w}, {.learning_rate = 0.01});
  std::vector<double> expected(2);
  for (size_t i = 0; i < 2; ++i) {
    double p = kW0[i];
    double v = 0.0;
    for (int s = 0; s < 3; ++s) {
      const double g = kGrads[s][i];
      v = 0.9 * v + 0.1 * g * g;
      p -= 0.01 * g / std::sqrt(v + 1e-7);
    }
    expected[i] = p;
  }
  // First step by hand: v = 0.1 * 0.25 = 0.025, p = 1 - 0.01 * 0.5 / sqrt(0.0250001).
  w.set_grad(tensor({0.5, -1.0}, kFloat64));
  rmsprop.step();
  expect_values(w,
                {1.0 - 0.01 * 0.5 / std::sqrt(0.0250001), -2.0 + 0.01 * 1.0 / std::sqrt(0.1000001)},
                1e-15);
  for (int s = 1; s < 3; ++s) {
    w.set_grad(tensor({kGrads[s][0], kGrads[s][1]}, kFloat64));
    rmsprop.step();
  }
  expect_values(w, expected, 1e-15);
}

TEST(Rmsprop, EpsilonSitsInsideTheSquareRoot) {
  // A tiny gradient shows the placement: Keras' sqrt(v + eps) gives a step of 0.31 lr here,
  // PyTorch's sqrt(v) + eps would give 3.15 lr.
  Tensor w = tensor({0.0}, kFloat64).requires_grad_();
  RMSprop rmsprop({w}, {.learning_rate = 0.01});
  w.set_grad(tensor({1e-4}, kFloat64));
  rmsprop.step();
  EXPECT_NEAR(w.item(), -0.01 * 1e-4 / std::sqrt(0.1 * 1e-8 + 1e-7), 1e-17);
  EXPECT_NEAR(w.item(), -0.01 * 0.31466, 1e-6);
}

TEST(Rmsprop, CenteredWithMomentumAndWeightDecayMatchesHandComputation) {
  Tensor w = start();
  RMSprop rmsprop({w}, {.learning_rate = 0.01,
                        .rho = 0.8,
                        .epsilon = 1e-6,
                        .momentum = 0.5,
                        .centered = true,
                        .weight_decay = 0.1});
  std::vector<double> expected(2);
  for (size_t i = 0; i < 2; ++i) {
    double p = kW0[i];
    double v = 0.0;  // mean of g^2
    double a = 0.0;  // mean of g
    double b = 0.0;  // momentum of the lr-scaled increments
    for (int s = 0; s < 3; ++s) {
      const double g = kGrads[s][i] + 0.1 * p;
      v = 0.8 * v + 0.2 * g * g;
      a = 0.8 * a + 0.2 * g;
      b = 0.5 * b + 0.01 * g / std::sqrt(v - a * a + 1e-6);
      p -= b;
    }
    expected[i] = p;
  }
  run_three_steps(rmsprop, w);
  expect_values(w, expected, 1e-15);
  EXPECT_TRUE(rmsprop.state(0, "average_gradient").defined());
  EXPECT_TRUE(rmsprop.state(0, "momentum").defined());
}

// PyTorch 1.13 references (the script is in sgd_test.cpp): torch.optim.RMSprop([w], lr=0.01,
// alpha=0.9, eps=0.0, ...), 5 steps on sum(s * (w - t)^2). With eps = 0 the Keras and PyTorch
// forms coincide, and with a constant lr so do their momentum buffers.
TEST(Rmsprop, MatchesPyTorchWithZeroEpsilon) {
  struct Case {
    RmspropOptions options;
    std::vector<double> torch;
  };
  const std::vector<Case> cases{
      {{.learning_rate = 0.01, .epsilon = 0.0},
       {0.895506709815873, -1.894184247220895, 0.39483733861063697}},
      {{.learning_rate = 0.01, .epsilon = 0.0, .momentum = 0.9},
       {0.6997286055250196, -1.6941258364090457, 0.1968591267354796}},
      {{.learning_rate = 0.01, .epsilon = 0.0, .momentum = 0.5, .centered = true},
       {0.8022453160744182, -1.7982178704222405, 0.3001868745963001}},
  };
  for (const Case& c : cases) {
    Tensor w = tensor({1.0, -2.0, 0.5}, kFloat64).requires_grad_();
    RMSprop rmsprop({w}, c.options);
    const std::vector<double> got = run_quadratic(rmsprop, w, 5);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(got[i], c.torch[i], 1e-13)
          << "momentum " << c.options.momentum << " element " << i;
    }
  }
}

TEST(Rmsprop, ConvergesOnQuadratic) {
  Tensor w = tensor({3.0, -1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  const Tensor target = tensor({1.0, 2.0, -3.0, 0.5}, kFloat64);
  RMSprop rmsprop({w}, {.learning_rate = 0.05});
  // RMSprop's steps stay about lr long near the minimum, so anneal the rate to settle there.
  CosineDecay schedule(rmsprop, 600);
  for (int i = 0; i < 600; ++i) {
    rmsprop.zero_grad();
    sum(square(w - target)).backward();
    rmsprop.step();
    schedule.step();
  }
  const std::vector<double> got = w.to_vector<double>();
  const std::vector<double> want = target.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-3);
}

TEST(Rmsprop, Float32ParametersWork) {
  Tensor w = tensor({1.0, -2.0}, kFloat32).requires_grad_();
  RMSprop rmsprop({w}, {.learning_rate = 0.01, .momentum = 0.5, .centered = true});
  for (int i = 0; i < 3; ++i) {
    rmsprop.zero_grad();
    sum(square(w)).backward();
    rmsprop.step();
  }
  Tensor w64 = tensor({1.0, -2.0}, kFloat64).requires_grad_();
  RMSprop reference({w64}, {.learning_rate = 0.01, .momentum = 0.5, .centered = true});
  for (int i = 0; i < 3; ++i) {
    reference.zero_grad();
    sum(square(w64)).backward();
    reference.step();
  }
  EXPECT_EQ(w.dtype(), kFloat32);
  EXPECT_EQ(rmsprop.state(0, "velocity").dtype(), kFloat32);
  const std::vector<float> got = w.to_vector<float>();
  const std::vector<double> want = w64.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6);
}

TEST(Rmsprop, RejectsBadHyperParameters) {
  const std::vector<Tensor> none;
  EXPECT_EQ(message_of([&] { RMSprop(none, {.rho = 1.0}); }),
            "RMSprop: rho must be in [0, 1), got 1");
  EXPECT_EQ(message_of([&] { RMSprop(none, {.rho = -0.1}); }),
            "RMSprop: rho must be in [0, 1), got -0.1");
  EXPECT_EQ(message_of([&] { RMSprop(none, {.epsilon = -1e-7}); }),
            "RMSprop: epsilon must be finite and >= 0, got -1e-07");
  EXPECT_EQ(message_of([&] { RMSprop(none, {.momentum = 1.5}); }),
            "RMSprop: momentum must be in [0, 1], got 1.5");
  EXPECT_EQ(message_of([&] { RMSprop(none, {.weight_decay = -1.0}); }),
            "RMSprop: weight_decay must be finite and >= 0, got -1");
}

}  // namespace
}  // namespace nabla::optim
