// Adam, AMSGrad and AdamW: hand-computed steps, the epsilon placement and bias correction chosen
// (the paper's Algorithm 1, as PyTorch), per-parameter step counts, PyTorch trajectories,
// convergence, float32 and hyper-parameter errors.
#include <gtest/gtest.h>

#include <algorithm>
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

// Three steps of Adam on kGrads, by hand, for element i. `decoupled_decay` is AdamW's,
// `l2` Adam's.
double adam_by_hand(size_t i, double lr, double beta1, double beta2, double eps, bool amsgrad,
                    double l2, double decoupled_decay) {
  double p = kW0[i];
  double m = 0.0;
  double v = 0.0;
  double v_max = 0.0;
  for (int s = 0; s < 3; ++s) {
    const double t = s + 1;
    p *= 1.0 - lr * decoupled_decay;
    const double g = kGrads[s][i] + l2 * p;
    m = beta1 * m + (1.0 - beta1) * g;
    v = beta2 * v + (1.0 - beta2) * g * g;
    v_max = std::max(v_max, v);
    const double v_used = amsgrad ? v_max : v;
    const double m_hat = m / (1.0 - std::pow(beta1, t));
    const double v_hat = v_used / (1.0 - std::pow(beta2, t));
    p -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
  return p;
}

TEST(Adam, DefaultsAreKerasEpsilonAndPaperBetas) {
  const Adam adam(std::vector<Tensor>{});
  EXPECT_EQ(adam.learning_rate(), 1e-3);
  EXPECT_EQ(adam.options().beta1, 0.9);
  EXPECT_EQ(adam.options().beta2, 0.999);
  EXPECT_EQ(adam.options().epsilon, 1e-7);
  EXPECT_FALSE(adam.options().amsgrad);
  const AdamW adamw(std::vector<Tensor>{});
  EXPECT_EQ(adamw.options().weight_decay, 1e-2);
  EXPECT_EQ(adamw.options().epsilon, 1e-7);
}

TEST(Adam, FirstStepIsLearningRateTimesSign) {
  // m_hat = g and v_hat = g^2 after bias correction: the first step is lr * g / (|g| + eps).
  Tensor w = start();
  Adam adam({w}, {.learning_rate = 0.1});
  w.set_grad(tensor({0.5, -1.0}, kFloat64));
  adam.step();
  expect_values(w, {1.0 - 0.1 * 0.5 / (0.5 + 1e-7), -2.0 + 0.1 * 1.0 / (1.0 + 1e-7)}, 1e-15);
}

TEST(Adam, ThreeStepsMatchHandComputation) {
  Tensor w = start();
  Adam adam({w}, {.learning_rate = 0.1});
  run_three_steps(adam, w);
  expect_values(w,
                {adam_by_hand(0, 0.1, 0.9, 0.999, 1e-7, false, 0.0, 0.0),
                 adam_by_hand(1, 0.1, 0.9, 0.999, 1e-7, false, 0.0, 0.0)},
                1e-15);
  // Element 0 after step 2 by hand: m = 0.9 * 0.05 + 0.03 = 0.075, v = 0.999 * 0.00025 + 0.00009,
  // so the moments are kept unnormalized in the state.
  EXPECT_NEAR(adam.state(0, "m").to_vector<double>()[0], 0.9 * 0.075 + 0.1 * -0.4, 1e-16);
  EXPECT_NEAR(adam.state(0, "v").to_vector<double>()[0],
              0.999 * (0.999 * 0.00025 + 0.00009) + 0.001 * 0.16, 1e-16);
}

TEST(Adam, EpsilonIsAddedToTheBiasCorrectedRoot) {
  // With |g| = eps the first step is lr * g / (|g| + eps) = lr / 2. Keras' form
  // (lr * sqrt(1 - beta2) / (1 - beta1) * m / (sqrt(v) + eps)) would give lr * 0.0306.
  Tensor w = tensor({0.0}, kFloat64).requires_grad_();
  Adam adam({w}, {.learning_rate = 0.1});
  w.set_grad(tensor({1e-7}, kFloat64));
  adam.step();
  EXPECT_NEAR(w.item(), -0.05, 1e-12);
}

TEST(Adam, AmsgradUsesTheLargestSecondMoment) {
  // beta2 = 0.5 makes v fall at step 2 for both elements (0.125 -> 0.1075 and 0.5 -> 0.27), so
  // v_max differs from v.
  Tensor w = start();
  Adam adam({w}, {.learning_rate = 0.1, .beta2 = 0.5, .amsgrad = true});
  run_three_steps(adam, w);
  expect_values(w,
                {adam_by_hand(0, 0.1, 0.9, 0.5, 1e-7, true, 0.0, 0.0),
                 adam_by_hand(1, 0.1, 0.9, 0.5, 1e-7, true, 0.0, 0.0)},
                1e-15);
  EXPECT_EQ(adam.state(0, "v_max").to_vector<double>()[1], 0.5);  // still step 1's v
  EXPECT_NE(adam_by_hand(0, 0.1, 0.9, 0.5, 1e-7, true, 0.0, 0.0),
            adam_by_hand(0, 0.1, 0.9, 0.5, 1e-7, false, 0.0, 0.0));
}

TEST(Adam, L2WeightDecayIsAddedToTheGradient) {
  Tensor w = start();
  Adam adam({w}, {.learning_rate = 0.1, .weight_decay = 0.2});
  run_three_steps(adam, w);
  expect_values(w,
                {adam_by_hand(0, 0.1, 0.9, 0.999, 1e-7, false, 0.2, 0.0),
                 adam_by_hand(1, 0.1, 0.9, 0.999, 1e-7, false, 0.2, 0.0)},
                1e-15);
}

TEST(AdamW, DecayIsDecoupledFromTheGradient) {
  Tensor w = start();
  AdamW adamw({w}, {.learning_rate = 0.1, .amsgrad = true, .weight_decay = 0.2});
  run_three_steps(adamw, w);
  expect_values(w,
                {adam_by_hand(0, 0.1, 0.9, 0.999, 1e-7, true, 0.0, 0.2),
                 adam_by_hand(1, 0.1, 0.9, 0.999, 1e-7, true, 0.0, 0.2)},
                1e-15);
}

TEST(AdamW, ZeroGradientOnlyShrinksTheWeights) {
  // m stays 0, so the update is the decay alone: p *= (1 - lr * wd) per step. (Adam's L2 term
  // would instead become a gradient and move p by about lr per step.)
  Tensor w = tensor({2.0, -4.0}, kFloat64).requires_grad_();
  AdamW adamw({w}, {.learning_rate = 0.1});
  for (int s = 0; s < 3; ++s) {
    w.set_grad(zeros_like(w));
    adamw.step();
  }
  const double shrink = std::pow(1.0 - 0.1 * 0.01, 3);
  expect_values(w, {2.0 * shrink, -4.0 * shrink}, 1e-15);
}

TEST(Adam, StepCountIsPerParameter) {
  // b gets its first gradient at the optimizer's third iteration; its first update is still a
  // full lr * sign(g) step, i.e. bias-corrected with t = 1.
  Tensor a = tensor({1.0}, kFloat64).requires_grad_();
  Tensor b = tensor({1.0}, kFloat64).requires_grad_();
  Adam adam({a, b}, {.learning_rate = 0.1});
  for (int s = 0; s < 2; ++s) {
    a.set_grad(ones_like(a));
    adam.step();
  }
  a.set_grad(ones_like(a));
  b.set_grad(tensor({2.0}, kFloat64));
  adam.step();
  EXPECT_EQ(adam.iterations(), 3);
  EXPECT_EQ(adam.parameter_steps(0), 3);
  EXPECT_EQ(adam.parameter_steps(1), 1);
  EXPECT_NEAR(b.item(), 1.0 - 0.1 * 2.0 / (2.0 + 1e-7), 1e-15);
}

// PyTorch 1.13 references (the script is in sgd_test.cpp): torch.optim.Adam / AdamW with
// eps=1e-7 (PyTorch adds eps where we do, so no adjustment is needed), 5 steps on
// sum(s * (w - t)^2).
TEST(Adam, MatchesPyTorchTrajectories) {
  struct Case {
    const char* what;
    AdamOptions options;
    std::vector<double> torch;
  };
  const std::vector<Case> cases{
      {"Adam(lr=0.1, eps=1e-7)",
       {.learning_rate = 0.1},
       {0.50796368323025, -1.5017794582231108, 0.004358202672684053}},
      {"Adam(lr=0.1, eps=1e-7, amsgrad=True, weight_decay=0.1)",
       {.learning_rate = 0.1, .amsgrad = true, .weight_decay = 0.1},
       {0.5079636819622126, -1.5017912561543159, 0.004760391512146037}},
      {"Adam(lr=0.1, betas=(0.9, 0.5), eps=1e-7)",
       {.learning_rate = 0.1, .beta2 = 0.5},
       {0.47413967270798196, -1.4925572196907857, -0.01599876456482989}},
      {"Adam(lr=0.1, betas=(0.9, 0.5), eps=1e-7, amsgrad=True)",
       {.learning_rate = 0.1, .beta2 = 0.5, .amsgrad = true},
       {0.5010972303285308, -1.4942717335829248, -0.004080013526950629}},
  };
  for (const Case& c : cases) {
    Tensor w = tensor({1.0, -2.0, 0.5}, kFloat64).requires_grad_();
    Adam adam({w}, c.options);
    const std::vector<double> got = run_quadratic(adam, w, 5);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[i], c.torch[i], 1e-13) << c.what << " " << i;
  }
  Tensor w = tensor({1.0, -2.0, 0.5}, kFloat64).requires_grad_();
  AdamW adamw({w}, {.learning_rate = 0.1, .weight_decay = 0.01});  // AdamW(lr=0.1, eps=1e-7)
  const std::vector<double> got = run_quadratic(adamw, w, 5);
  const std::vector<double> torch{0.5040801140212513, -1.492837685707745, 0.0028827064922421902};
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[i], torch[i], 1e-13) << "AdamW " << i;
}

void expect_converges(Optimizer& optimizer, const Tensor& w, const Tensor& target, int steps,
                      double tolerance) {
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    sum(square(w - target)).backward();
    optimizer.step();
  }
  const std::vector<double> got = w.to(kFloat64).to_vector<double>();
  const std::vector<double> want = target.to(kFloat64).to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tolerance) << optimizer.name();
}

TEST(Adam, ConvergesOnQuadratic) {
  const Tensor target = tensor({1.0, 2.0, -3.0, 0.5}, kFloat64);
  Tensor w = tensor({3.0, -1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  Adam adam({w}, {.learning_rate = 0.1});
  expect_converges(adam, w, target, 1000, 1e-4);
  Tensor v = tensor({3.0, -1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  Adam amsgrad({v}, {.learning_rate = 0.1, .amsgrad = true});
  expect_converges(amsgrad, v, target, 1000, 1e-4);
}

TEST(AdamW, ConvergesNearTheTargetOnQuadratic) {
  // The decoupled decay pulls towards 0, so the fixed point sits slightly inside the target.
  const Tensor target = tensor({1.0, 2.0, -3.0, 0.5}, kFloat64);
  Tensor w = tensor({3.0, -1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  AdamW adamw({w}, {.learning_rate = 0.1, .weight_decay = 1e-3});
  expect_converges(adamw, w, target, 1000, 1e-2);
}

TEST(Adam, Float32ParametersWork) {
  const Tensor target = tensor({1.0, 2.0, -3.0, 0.5}, kFloat32);
  Tensor w = tensor({3.0, -1.0, 0.0, 2.0}, kFloat32).requires_grad_();
  Adam adam({w}, {.learning_rate = 0.1});
  expect_converges(adam, w, target, 1000, 1e-3);
  EXPECT_EQ(w.dtype(), kFloat32);
  EXPECT_EQ(adam.state(0, "v").dtype(), kFloat32);
}

TEST(Adam, RejectsBadHyperParameters) {
  const std::vector<Tensor> none;
  EXPECT_EQ(message_of([&] { Adam(none, {.beta1 = 1.0}); }),
            "Adam: beta1 must be in [0, 1), got 1");
  EXPECT_EQ(message_of([&] { Adam(none, {.beta2 = -0.5}); }),
            "Adam: beta2 must be in [0, 1), got -0.5");
  EXPECT_EQ(message_of([&] { Adam(none, {.epsilon = -1.0}); }),
            "Adam: epsilon must be finite and >= 0, got -1");
  EXPECT_EQ(message_of([&] { AdamW(none, {.weight_decay = -0.01}); }),
            "AdamW: weight_decay must be finite and >= 0, got -0.01");
  EXPECT_EQ(message_of([&] { AdamW(none, {.learning_rate = -1e-3}); }),
            "AdamW: learning_rate must be finite and >= 0, got -0.001");
}

}  // namespace
}  // namespace nabla::optim
