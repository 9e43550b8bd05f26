// Learning-rate schedules: values at given steps, what they write into the optimizer, the TF
// codelab's decay with a floor, ReduceLROnPlateau's patience/cooldown/min_lr/mode rules, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/optim.h"
#include "tests/optim/optim_test_support.h"

namespace nabla::optim {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the shared fixture

const std::vector<Tensor> kNoParameters;

TEST(StepDecay, MultipliesByGammaEveryStepSize) {
  SGD sgd(kNoParameters, {.learning_rate = 0.1});
  StepDecay schedule(sgd, 3, 0.5);
  EXPECT_EQ(schedule.current(), 0.1);
  const std::vector<double> expected{0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125};
  for (double lr : expected) {  // after steps 1..9
    schedule.step();
    EXPECT_DOUBLE_EQ(sgd.learning_rate(), lr) << "step " << schedule.step_count();
    EXPECT_DOUBLE_EQ(schedule.current(), lr);
  }
  EXPECT_DOUBLE_EQ(schedule.learning_rate_at(30), 0.1 * std::pow(0.5, 10));
  EXPECT_EQ(schedule.name(), "StepDecay");
}

TEST(ExponentialDecay, ContinuousAndStaircase) {
  SGD sgd(kNoParameters, {.learning_rate = 0.1});
  const ExponentialDecay smooth(sgd, {.decay_steps = 10, .decay_rate = 0.5});
  EXPECT_DOUBLE_EQ(smooth.learning_rate_at(0), 0.1);
  EXPECT_DOUBLE_EQ(smooth.learning_rate_at(5), 0.1 * std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(smooth.learning_rate_at(10), 0.05);
  EXPECT_DOUBLE_EQ(smooth.learning_rate_at(25), 0.1 * std::pow(0.5, 2.5));
  const ExponentialDecay stairs(sgd, {.decay_steps = 10, .decay_rate = 0.5, .staircase = true});
  EXPECT_DOUBLE_EQ(stairs.learning_rate_at(9), 0.1);
  EXPECT_DOUBLE_EQ(stairs.learning_rate_at(10), 0.05);
  EXPECT_DOUBLE_EQ(stairs.learning_rate_at(25), 0.025);
}

TEST(ExponentialDecay, ExpressesTheCodelabDecayWithFloor) {
  // TensorFlow codelab: lr = 0.0001 + 0.003 * exp(-step / 2000).
  SGD sgd(kNoParameters, {.learning_rate = 0.0001 + 0.003});
  ExponentialDecay schedule(
      sgd, {.decay_steps = 2000, .decay_rate = std::exp(-1.0), .min_learning_rate = 0.0001});
  for (int64_t step : {0, 1, 600, 2000, 5000, 100000}) {
    EXPECT_NEAR(schedule.learning_rate_at(step),
                0.0001 + 0.003 * std::exp(-static_cast<double>(step) / 2000.0), 1e-15)
        << "step " << step;
  }
  for (int i = 0; i < 600; ++i) schedule.step();
  EXPECT_NEAR(sgd.learning_rate(), 0.0001 + 0.003 * std::exp(-0.3), 1e-15);
}

TEST(CosineDecay, FallsToTheMinimumAndStaysThere) {
  Adam adam(kNoParameters, {.learning_rate = 0.1});
  CosineDecay schedule(adam, 10, 0.01);
  EXPECT_DOUBLE_EQ(schedule.learning_rate_at(0), 0.1);
  EXPECT_DOUBLE_EQ(schedule.learning_rate_at(5), 0.01 + 0.09 * 0.5);
  EXPECT_DOUBLE_EQ(schedule.learning_rate_at(2),
                   0.01 + 0.09 * 0.5 * (1.0 + std::cos(std::numbers::pi * 0.2)));
  EXPECT_DOUBLE_EQ(schedule.learning_rate_at(10), 0.01);
  EXPECT_DOUBLE_EQ(schedule.learning_rate_at(15), 0.01);
  double previous = adam.learning_rate();
  for (int i = 0; i < 12; ++i) {
    schedule.step();
    EXPECT_LE(adam.learning_rate(), previous);
    previous = adam.learning_rate();
  }
  EXPECT_DOUBLE_EQ(adam.learning_rate(), 0.01);
  EXPECT_EQ(schedule.step_count(), 12);
}

TEST(MultiStepDecay, MultipliesByGammaAtEachMilestone) {
  SGD sgd(kNoParameters, {.learning_rate = 0.2});
  MultiStepDecay schedule(sgd, {2, 5, 6}, 0.1);
  // PyTorch's MultiStepLR: lr = initial * gamma^(milestones passed), a milestone passed at its
  // step.
  const std::vector<double> expected{0.2, 0.2, 0.02, 0.02, 0.02, 0.002, 0.0002, 0.0002};
  for (size_t step = 0; step < expected.size(); ++step) {
    EXPECT_DOUBLE_EQ(schedule.learning_rate_at(static_cast<int64_t>(step)), expected[step]) << step;
  }
  schedule.step();
  schedule.step();
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.02);
  EXPECT_THROW(MultiStepDecay(sgd, {3, 3}), Error);
  EXPECT_THROW(MultiStepDecay(sgd, {0, 3}), Error);
  EXPECT_THROW(MultiStepDecay(sgd, {2}, 0.0), Error);
}

TEST(LinearWarmup, RampsLinearlyThenFollowsTheWrappedSchedule) {
  SGD sgd(kNoParameters, {.learning_rate = 0.1});
  auto cosine = std::make_shared<CosineDecay>(sgd, 10, 0.0);
  LinearWarmup warmup(sgd, cosine, 4, 0.25);
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.025);  // set at construction: the warmup's start
  // PyTorch's LinearLR(start_factor=0.25, total_iters=4) then CosineAnnealingLR(T_max=10) in a
  // SequentialLR with milestone 4.
  for (int64_t step = 0; step < 16; ++step) {
    double expected = 0.0;
    if (step < 4) {
      expected = 0.1 * (0.25 + 0.75 * static_cast<double>(step) / 4.0);
    } else {
      const double t = static_cast<double>(std::min<int64_t>(step - 4, 10));
      expected = 0.1 * 0.5 * (1.0 + std::cos(std::numbers::pi * t / 10.0));
    }
    EXPECT_NEAR(warmup.learning_rate_at(step), expected, 1e-15) << "step " << step;
  }
  for (int i = 0; i < 4; ++i) warmup.step();
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.1);
  EXPECT_THROW(LinearWarmup(sgd, nullptr, 4), Error);
  EXPECT_THROW(LinearWarmup(sgd, cosine, 0), Error);
  EXPECT_THROW(LinearWarmup(sgd, cosine, 3, 1.5), Error);
}

// torch.optim.lr_scheduler.OneCycleLR(anneal_strategy="cos", three_phase=False), from its docs:
// the rate goes from max / div_factor up to max over the first pct_start * total - 1 steps, then
// down to max / div_factor / final_div_factor at step total - 1, each phase by cosine annealing.
double one_cycle_reference(int64_t step, double max_lr, int64_t total, double pct_start,
                           double div_factor, double final_div_factor) {
  const double initial = max_lr / div_factor;
  const double minimum = initial / final_div_factor;
  const double up_end = pct_start * static_cast<double>(total) - 1.0;
  const double down_end = static_cast<double>(total) - 1.0;
  const auto t = static_cast<double>(step);
  double from = max_lr;
  double to = minimum;
  double fraction = (t - up_end) / (down_end - up_end);
  if (t <= up_end) {
    from = initial;
    to = max_lr;
    fraction = t / up_end;
  }
  const double cos_out = std::cos(std::numbers::pi * fraction) + 1.0;
  return to + (from - to) / 2.0 * cos_out;
}

TEST(OneCycle, RisesToTheMaximumThenAnnealsToTheFloor) {
  SGD sgd(kNoParameters, {.learning_rate = 123.0});
  OneCycle cycle(sgd, {.max_learning_rate = 1.0, .total_steps = 10});
  EXPECT_NEAR(sgd.learning_rate(), 0.04, 1e-15);  // max / 25, set at construction as PyTorch does
  for (int64_t step = 0; step <= 10; ++step) {
    EXPECT_NEAR(cycle.learning_rate_at(step), one_cycle_reference(step, 1.0, 10, 0.3, 25.0, 1e4),
                1e-15)
        << "step " << step;
  }
  // Fixed points of the definition: the peak at step pct_start * total - 1, the floor at the end.
  EXPECT_DOUBLE_EQ(cycle.learning_rate_at(2), 1.0);
  EXPECT_DOUBLE_EQ(cycle.learning_rate_at(9), 0.04 / 1e4);
  EXPECT_THROW((void)cycle.learning_rate_at(11), Error);

  SGD other(kNoParameters, {.learning_rate = 0.1});
  OneCycle custom(other, {.max_learning_rate = 0.5,
                          .total_steps = 37,
                          .pct_start = 0.25,
                          .div_factor = 10.0,
                          .final_div_factor = 100.0});
  for (int64_t step = 0; step < 37; ++step) {
    custom.step();
    EXPECT_NEAR(other.learning_rate(), one_cycle_reference(step + 1, 0.5, 37, 0.25, 10.0, 100.0),
                1e-15);
  }
  EXPECT_THROW(OneCycle(other, {.max_learning_rate = 0.0, .total_steps = 10}), Error);
  EXPECT_THROW(OneCycle(other, {.max_learning_rate = 1.0, .total_steps = 1}), Error);
  EXPECT_THROW(OneCycle(other, {.max_learning_rate = 1.0, .total_steps = 3, .pct_start = 0.3}),
               Error);
}

TEST(Schedule, SetStepCountRestoresThePosition) {
  SGD sgd(kNoParameters, {.learning_rate = 0.1});
  StepDecay schedule(sgd, 2, 0.5);
  schedule.set_step_count(5);
  EXPECT_EQ(schedule.step_count(), 5);
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.025);
  sgd.set_learning_rate(0.7);
  schedule.set_step_count(2, /*set_rate=*/false);
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.7);
  schedule.step();
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.05);
  EXPECT_THROW(schedule.set_step_count(-1), Error);
}

TEST(Schedule, KeepsOptimizerStateAndDrivesTheUpdate) {
  // The rate written by the schedule is the one the next step uses.
  Tensor w = tensor({1.0}, kFloat64).requires_grad_();
  SGD sgd({w}, {.learning_rate = 0.1});
  StepDecay schedule(sgd, 1, 0.5);
  w.set_grad(ones_like(w));
  sgd.step();  // lr 0.1
  schedule.step();
  sgd.step();  // lr 0.05
  EXPECT_DOUBLE_EQ(w.item(), 1.0 - 0.1 - 0.05);
}

TEST(Schedule, RejectsBadArguments) {
  SGD sgd(kNoParameters, {.learning_rate = 0.1});
  EXPECT_EQ(message_of([&] { StepDecay(sgd, 0); }), "StepDecay: step_size must be > 0, got 0");
  EXPECT_EQ(message_of([&] { StepDecay(sgd, 5, -0.5); }),
            "StepDecay: gamma must be finite and > 0, got -0.5");
  EXPECT_EQ(message_of([&] { ExponentialDecay(sgd, {.decay_rate = 0.5}); }),
            "ExponentialDecay: decay_steps must be > 0, got 0");
  EXPECT_EQ(message_of([&] { ExponentialDecay(sgd, {.decay_steps = 10}); }),
            "ExponentialDecay: decay_rate must be finite and > 0, got 0");
  EXPECT_EQ(message_of([&] {
              ExponentialDecay(sgd,
                               {.decay_steps = 10, .decay_rate = 0.5, .min_learning_rate = 0.5});
            }),
            "ExponentialDecay: min_learning_rate must be in [0, initial rate 0.1], got 0.5");
  EXPECT_EQ(message_of([&] { CosineDecay(sgd, -3); }),
            "CosineDecay: decay_steps must be > 0, got -3");
  EXPECT_EQ(message_of([&] { ReduceLROnPlateau(sgd, {.factor = 1.0}); }),
            "ReduceLROnPlateau: factor must be in (0, 1), got 1");
  EXPECT_EQ(message_of([&] { ReduceLROnPlateau(sgd, {.patience = -1}); }),
            "ReduceLROnPlateau: patience must be >= 0, got -1");
  EXPECT_EQ(message_of([&] { ReduceLROnPlateau(sgd, {.cooldown = -2}); }),
            "ReduceLROnPlateau: cooldown must be >= 0, got -2");
  EXPECT_EQ(message_of([&] { ReduceLROnPlateau(sgd, {.min_learning_rate = -1.0}); }),
            "ReduceLROnPlateau: min_learning_rate must be finite and >= 0, got -1");
}

TEST(ReduceLROnPlateau, DefaultsAreKeras) {
  SGD sgd(kNoParameters);
  const ReduceLROnPlateau plateau(sgd);
  EXPECT_EQ(plateau.options().mode, PlateauMode::Min);
  EXPECT_EQ(plateau.options().factor, 0.1);
  EXPECT_EQ(plateau.options().patience, 10);
  EXPECT_EQ(plateau.options().min_delta, 1e-4);
  EXPECT_EQ(plateau.options().cooldown, 0);
  EXPECT_EQ(plateau.best(), std::numeric_limits<double>::infinity());
}

TEST(ReduceLROnPlateau, ReducesAfterPatienceBadStepsAndHonoursMinDelta) {
  SGD sgd(kNoParameters, {.learning_rate = 1.0});
  ReduceLROnPlateau plateau(sgd, {.factor = 0.5, .patience = 2, .min_delta = 1e-3});
  EXPECT_FALSE(plateau.step(10.0));
  EXPECT_FALSE(plateau.step(9.0));
  EXPECT_EQ(plateau.best(), 9.0);
  EXPECT_FALSE(plateau.step(8.9995));  // better, but not by more than min_delta
  EXPECT_EQ(plateau.wait(), 1);
  EXPECT_EQ(plateau.best(), 9.0);
  EXPECT_TRUE(plateau.step(9.5));  // second bad step: reduce
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.5);
  EXPECT_DOUBLE_EQ(plateau.current(), 0.5);
  EXPECT_EQ(plateau.wait(), 0);
  EXPECT_FALSE(plateau.step(8.0));  // improvement resets the count
  EXPECT_FALSE(plateau.step(8.0));
  EXPECT_TRUE(plateau.step(8.0));
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.25);
  EXPECT_EQ(plateau.reductions(), 2);
}

TEST(ReduceLROnPlateau, CooldownIgnoresBadStepsAfterAReduction) {
  SGD sgd(kNoParameters, {.learning_rate = 1.0});
  ReduceLROnPlateau plateau(sgd, {.factor = 0.5, .patience = 1, .cooldown = 2});
  EXPECT_FALSE(plateau.step(1.0));
  EXPECT_TRUE(plateau.step(1.0));  // patience 1: the first bad step reduces
  EXPECT_TRUE(plateau.in_cooldown());
  EXPECT_FALSE(plateau.step(1.0));  // cooldown 1 of 2
  EXPECT_FALSE(plateau.step(1.0));  // cooldown 2 of 2
  EXPECT_FALSE(plateau.in_cooldown());
  EXPECT_EQ(plateau.wait(), 0);
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.5);
  EXPECT_TRUE(plateau.step(1.0));  // counted again
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.25);
}

TEST(ReduceLROnPlateau, NeverGoesBelowMinLearningRate) {
  SGD sgd(kNoParameters, {.learning_rate = 1.0});
  ReduceLROnPlateau plateau(sgd, {.factor = 0.5, .patience = 0, .min_learning_rate = 0.2});
  std::vector<double> rates;
  for (int i = 0; i < 5; ++i) {
    plateau.step(1.0);
    rates.push_back(sgd.learning_rate());
  }
  // patience 0 reduces at every step that does not improve, the first one sets best.
  EXPECT_EQ(rates, (std::vector<double>{1.0, 0.5, 0.25, 0.2, 0.2}));
  EXPECT_EQ(plateau.reductions(), 3);
}

TEST(ReduceLROnPlateau, MaxModeWaitsForARise) {
  SGD sgd(kNoParameters, {.learning_rate = 0.1});
  ReduceLROnPlateau plateau(sgd, {.mode = PlateauMode::Max, .factor = 0.1, .patience = 2});
  EXPECT_EQ(plateau.best(), -std::numeric_limits<double>::infinity());
  EXPECT_FALSE(plateau.step(0.80));
  EXPECT_FALSE(plateau.step(0.85));
  EXPECT_FALSE(plateau.step(0.84));
  EXPECT_TRUE(plateau.step(0.85));  // equal is not better
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.01);
  EXPECT_EQ(plateau.best(), 0.85);
}

TEST(ReduceLROnPlateau, NanMetricCountsAsNoImprovement) {
  SGD sgd(kNoParameters, {.learning_rate = 1.0});
  ReduceLROnPlateau plateau(sgd, {.factor = 0.5, .patience = 2});
  EXPECT_FALSE(plateau.step(std::nan("")));
  EXPECT_EQ(plateau.wait(), 1);
  EXPECT_EQ(plateau.best(), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(plateau.step(std::nan("")));
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.5);
  EXPECT_FALSE(plateau.step(3.0));
  EXPECT_EQ(plateau.best(), 3.0);
}

}  // namespace
}  // namespace nabla::optim
