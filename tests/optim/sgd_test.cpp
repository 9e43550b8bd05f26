// SGD: updates against hand-computed values (plain, momentum with dampening and weight decay,
// Nesterov), a PyTorch trajectory, convergence, float32 and hyper-parameter errors.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/optim.h"
#include "tests/optim/optim_test_support.h"

namespace nabla::optim {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the shared fixture

void give_grad(const Tensor& p, int step) {
  p.set_grad(tensor({kGrads[step][0], kGrads[step][1]}, kFloat64));
}

TEST(Sgd, PlainStepsSubtractLearningRateTimesGradient) {
  Tensor w = start();
  SGD sgd({w}, {.learning_rate = 0.1});
  give_grad(w, 0);
  sgd.step();
  expect_values(w, {1.0 - 0.1 * 0.5, -2.0 + 0.1 * 1.0});
  give_grad(w, 1);
  sgd.step();
  expect_values(w, {0.95 - 0.1 * 0.3, -1.9 - 0.1 * 0.2});
  give_grad(w, 2);
  sgd.step();
  expect_values(w, {0.92 + 0.1 * 0.4, -1.92 - 0.1 * 0.6});
}

TEST(Sgd, MomentumWithDampeningAndWeightDecayMatchesHandComputation) {
  Tensor w = start();
  SGD sgd({w}, {.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.2, .weight_decay = 0.01});
  std::vector<double> expected(2);
  for (size_t i = 0; i < 2; ++i) {
    double p = kW0[i];
    double d = kGrads[0][i] + 0.01 * p;  // step 1: the buffer starts as d itself (no dampening)
    double buf = d;
    p -= 0.1 * buf;
    d = kGrads[1][i] + 0.01 * p;  // step 2
    buf = 0.9 * buf + (1.0 - 0.2) * d;
    p -= 0.1 * buf;
    d = kGrads[2][i] + 0.01 * p;  // step 3
    buf = 0.9 * buf + (1.0 - 0.2) * d;
    p -= 0.1 * buf;
    expected[i] = p;
  }
  for (int s = 0; s < 3; ++s) {
    give_grad(w, s);
    sgd.step();
  }
  expect_values(w, expected);
  // Element 0 written out: d1 = 0.51, p1 = 0.949; d2 = 0.30949, buf2 = 0.459 + 0.247592 = 0.706592.
  EXPECT_NEAR(sgd.state(0, "momentum_buffer").to_vector<double>()[0],
              0.9 * 0.706592 + 0.8 * (-0.4 + 0.01 * (0.949 - 0.1 * 0.706592)), 1e-14);
}

TEST(Sgd, NesterovMatchesHandComputation) {
  Tensor w = start();
  SGD sgd({w}, {.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  std::vector<double> expected(2);
  for (size_t i = 0; i < 2; ++i) {
    double p = kW0[i];
    double buf = kGrads[0][i];
    p -= 0.1 * (kGrads[0][i] + 0.9 * buf);
    buf = 0.9 * buf + kGrads[1][i];
    p -= 0.1 * (kGrads[1][i] + 0.9 * buf);
    buf = 0.9 * buf + kGrads[2][i];
    p -= 0.1 * (kGrads[2][i] + 0.9 * buf);
    expected[i] = p;
  }
  give_grad(w, 0);
  sgd.step();
  expect_values(w, {1.0 - 0.1 * (0.5 + 0.9 * 0.5), -2.0 - 0.1 * (-1.0 - 0.9)});  // 0.905, -1.81
  give_grad(w, 1);
  sgd.step();
  give_grad(w, 2);
  sgd.step();
  expect_values(w, expected);
}

// PyTorch 1.13, float64, w0 = [1, -2, 0.5], 5 steps on loss = sum(s * (w - t)^2) with
// t = [0, 1, -1], s = [1, 3, 0.5] (zero_grad, backward, step). Script:
//   w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
//   opt = torch.optim.SGD([w], lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)
//   for _ in range(5): opt.zero_grad(); (s * (w - t) ** 2).sum().backward(); opt.step()
// (the same script produced the RMSprop, Adam and Adagrad constants in their tests).
TEST(Sgd, MatchesPyTorchTrajectory) {
  Tensor w = tensor({1.0, -2.0, 0.5}, kFloat64).requires_grad_();
  SGD sgd({w}, {.learning_rate = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  const std::vector<double> got = run_quadratic(sgd, w, 5);
  const std::vector<double> torch{0.019318495586502903, 3.3093360222399646, -0.32351062495378385};
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[i], torch[i], 1e-13);

  Tensor v = tensor({1.0, -2.0, 0.5}, kFloat64).requires_grad_();
  SGD nesterov({v}, {.learning_rate = 0.05, .momentum = 0.9, .nesterov = true});
  const std::vector<double> got_nesterov = run_quadratic(nesterov, v, 5);
  const std::vector<double> torch_nesterov{-0.10458168390000007, 2.0435567191, -0.5260865424015626};
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got_nesterov[i], torch_nesterov[i], 1e-13);
}

TEST(Sgd, ConvergesOnQuadratic) {
  Tensor w = tensor({3.0, -1.0, 0.0, 2.0}, kFloat64).requires_grad_();
  const Tensor target = tensor({1.0, 2.0, -3.0, 0.5}, kFloat64);
  SGD sgd({w}, {.learning_rate = 0.05, .momentum = 0.9, .nesterov = true});
  for (int i = 0; i < 300; ++i) {
    sgd.zero_grad();
    sum(square(w - target)).backward();
    sgd.step();
  }
  const std::vector<double> got = w.to_vector<double>();
  const std::vector<double> want = target.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-8);
}

TEST(Sgd, Float32ParametersKeepTheirDtype) {
  Tensor w = tensor({1.0, -2.0}, kFloat32).requires_grad_();
  SGD sgd({w}, {.learning_rate = 0.1, .momentum = 0.9});
  for (int i = 0; i < 400; ++i) {
    sgd.zero_grad();
    sum(square(w)).backward();
    sgd.step();
  }
  EXPECT_EQ(w.dtype(), kFloat32);
  EXPECT_EQ(sgd.state(0, "momentum_buffer").dtype(), kFloat32);
  for (float x : w.to_vector<float>()) EXPECT_NEAR(x, 0.0F, 1e-5F);
}

TEST(Sgd, RejectsBadHyperParameters) {
  const std::vector<Tensor> none;
  EXPECT_EQ(message_of([&] { SGD(none, {.momentum = -0.5}); }),
            "SGD: momentum must be finite and >= 0, got -0.5");
  EXPECT_EQ(message_of([&] { SGD(none, {.momentum = 0.9, .dampening = 1.5}); }),
            "SGD: dampening must be in [0, 1], got 1.5");
  EXPECT_EQ(message_of([&] { SGD(none, {.weight_decay = -1e-4}); }),
            "SGD: weight_decay must be finite and >= 0, got -0.0001");
  EXPECT_EQ(message_of([&] { SGD(none, {.nesterov = true}); }),
            "SGD: nesterov requires momentum > 0 and dampening 0, got momentum 0 and dampening 0");
  EXPECT_NE(message_of([&] {
              SGD(none, {.momentum = 0.9, .dampening = 0.1, .nesterov = true});
            }).find("dampening 0.1"),
            std::string::npos);
}

}  // namespace
}  // namespace nabla::optim
