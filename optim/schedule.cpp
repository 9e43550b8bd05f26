// Learning-rate schedules (see optim/schedule.h for the formulas and the Keras/PyTorch choices).
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

namespace nabla::optim {

LearningRateSchedule::LearningRateSchedule(std::string name, Optimizer& optimizer)
    : name_(std::move(name)), optimizer_(&optimizer), initial_(optimizer.learning_rate()) {}

void LearningRateSchedule::step() {
  ++step_;
  optimizer_->set_learning_rate(learning_rate_at(step_));
}

void LearningRateSchedule::set_step_count(int64_t step, bool set_rate) {
  check(step >= 0, "the step count", ">= 0", static_cast<double>(step));
  const double lr = learning_rate_at(step);
  if (set_rate) optimizer_->set_learning_rate(lr);
  step_ = step;
}

void LearningRateSchedule::check(bool ok, std::string_view what, std::string_view requirement,
                                 double value) const {
  if (!ok) throw error("{}: {} must be {}, got {}", name_, what, requirement, value);
}

StepDecay::StepDecay(Optimizer& optimizer, int64_t step_size, double gamma)
    : LearningRateSchedule("StepDecay", optimizer), step_size_(step_size), gamma_(gamma) {
  check(step_size > 0, "step_size", "> 0", static_cast<double>(step_size));
  check(std::isfinite(gamma) && gamma > 0.0, "gamma", "finite and > 0", gamma);
}

double StepDecay::learning_rate_at(int64_t step) const {
  const int64_t decays = step / step_size_;  // whole periods only: a staircase
  return initial_learning_rate() * std::pow(gamma_, static_cast<double>(decays));
}

ExponentialDecay::ExponentialDecay(Optimizer& optimizer, const ExponentialDecayOptions& options)
    : LearningRateSchedule("ExponentialDecay", optimizer), options_(options) {
  check(options.decay_steps > 0, "decay_steps", "> 0", static_cast<double>(options.decay_steps));
  check(std::isfinite(options.decay_rate) && options.decay_rate > 0.0, "decay_rate",
        "finite and > 0", options.decay_rate);
  check(options.min_learning_rate >= 0.0 && options.min_learning_rate <= initial_learning_rate(),
        "min_learning_rate", fmt::format("in [0, initial rate {}]", initial_learning_rate()),
        options.min_learning_rate);
}

double ExponentialDecay::learning_rate_at(int64_t step) const {
  double exponent = static_cast<double>(step) / static_cast<double>(options_.decay_steps);
  if (options_.staircase) exponent = std::floor(exponent);
  const double floor = options_.min_learning_rate;
  return floor + (initial_learning_rate() - floor) * std::pow(options_.decay_rate, exponent);
}

CosineDecay::CosineDecay(Optimizer& optimizer, int64_t decay_steps, double min_learning_rate)
    : LearningRateSchedule("CosineDecay", optimizer),
      decay_steps_(decay_steps),
      min_learning_rate_(min_learning_rate) {
  check(decay_steps > 0, "decay_steps", "> 0", static_cast<double>(decay_steps));
  check(min_learning_rate >= 0.0 && min_learning_rate <= initial_learning_rate(),
        "min_learning_rate", fmt::format("in [0, initial rate {}]", initial_learning_rate()),
        min_learning_rate);
}

double CosineDecay::learning_rate_at(int64_t step) const {
  const double progress =
      static_cast<double>(std::min(step, decay_steps_)) / static_cast<double>(decay_steps_);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return min_learning_rate_ + (initial_learning_rate() - min_learning_rate_) * cosine;
}

MultiStepDecay::MultiStepDecay(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LearningRateSchedule("MultiStepDecay", optimizer),
      milestones_(std::move(milestones)),
      gamma_(gamma) {
  check(std::isfinite(gamma) && gamma > 0.0, "gamma", "finite and > 0", gamma);
  for (size_t i = 0; i < milestones_.size(); ++i) {
    check(milestones_[i] > 0, fmt::format("milestone {}", i), "> 0",
          static_cast<double>(milestones_[i]));
    if (i > 0) {
      check(milestones_[i] > milestones_[i - 1], fmt::format("milestone {}", i),
            fmt::format("> the previous milestone {}", milestones_[i - 1]),
            static_cast<double>(milestones_[i]));
    }
  }
}

double MultiStepDecay::learning_rate_at(int64_t step) const {
  const auto passed =
      std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return initial_learning_rate() * std::pow(gamma_, static_cast<double>(passed));
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, std::shared_ptr<const LearningRateSchedule> after,
                           int64_t warmup_steps, double start_factor)
    : LearningRateSchedule("LinearWarmup", optimizer),
      after_(std::move(after)),
      warmup_steps_(warmup_steps),
      start_factor_(start_factor) {
  if (!after_) throw error("LinearWarmup: the schedule to wrap is null");
  check(warmup_steps > 0, "warmup_steps", "> 0", static_cast<double>(warmup_steps));
  check(start_factor >= 0.0 && start_factor <= 1.0, "start_factor", "in [0, 1]", start_factor);
  LearningRateSchedule::optimizer().set_learning_rate(learning_rate_at(0));
}

double LinearWarmup::learning_rate_at(int64_t step) const {
  if (step >= warmup_steps_) return after_->learning_rate_at(step - warmup_steps_);
  const double fraction = static_cast<double>(step) / static_cast<double>(warmup_steps_);
  return after_->learning_rate_at(0) * (start_factor_ + (1.0 - start_factor_) * fraction);
}

OneCycle::OneCycle(Optimizer& optimizer, const OneCycleOptions& options)
    : LearningRateSchedule("OneCycle", optimizer), options_(options) {
  check(std::isfinite(options.max_learning_rate) && options.max_learning_rate > 0.0,
        "max_learning_rate", "finite and > 0", options.max_learning_rate);
  check(options.total_steps > 1, "total_steps", "> 1", static_cast<double>(options.total_steps));
  check(options.pct_start > 0.0 && options.pct_start < 1.0, "pct_start", "in (0, 1)",
        options.pct_start);
  check(std::isfinite(options.div_factor) && options.div_factor > 0.0, "div_factor",
        "finite and > 0", options.div_factor);
  check(std::isfinite(options.final_div_factor) && options.final_div_factor > 0.0,
        "final_div_factor", "finite and > 0", options.final_div_factor);
  // PyTorch: the first phase ends at step pct_start * total_steps - 1, which must lie after 0 for
  // its fraction to be defined.
  check(options.pct_start * static_cast<double>(options.total_steps) - 1.0 > 0.0,
        "pct_start * total_steps", "> 1",
        options.pct_start * static_cast<double>(options.total_steps));
  LearningRateSchedule::optimizer().set_learning_rate(learning_rate_at(0));
}

double OneCycle::learning_rate_at(int64_t step) const {
  const OneCycleOptions& o = options_;
  if (step < 0 || step > o.total_steps) {
    throw error("OneCycle: step {} is outside [0, total_steps = {}]", step, o.total_steps);
  }
  const double initial = o.max_learning_rate / o.div_factor;
  const double final_rate = initial / o.final_div_factor;
  const auto anneal = [](double start, double end, double pct) {
    return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
  };
  const auto t = static_cast<double>(step);
  const double warm_end = o.pct_start * static_cast<double>(o.total_steps) - 1.0;
  if (t <= warm_end) return anneal(initial, o.max_learning_rate, t / warm_end);
  const double last = static_cast<double>(o.total_steps) - 1.0;
  return anneal(o.max_learning_rate, final_rate, (t - warm_end) / (last - warm_end));
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const PlateauOptions& options)
    : optimizer_(&optimizer),
      options_(options),
      best_(options.mode == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                             : -std::numeric_limits<double>::infinity()) {
  const auto check = [](bool ok, std::string_view what, std::string_view requirement,
                        double value) {
    if (!ok) throw error("ReduceLROnPlateau: {} must be {}, got {}", what, requirement, value);
  };
  check(options.factor > 0.0 && options.factor < 1.0, "factor", "in (0, 1)", options.factor);
  check(options.patience >= 0, "patience", ">= 0", static_cast<double>(options.patience));
  check(std::isfinite(options.min_delta) && options.min_delta >= 0.0, "min_delta",
        "finite and >= 0", options.min_delta);
  check(options.cooldown >= 0, "cooldown", ">= 0", static_cast<double>(options.cooldown));
  check(std::isfinite(options.min_learning_rate) && options.min_learning_rate >= 0.0,
        "min_learning_rate", "finite and >= 0", options.min_learning_rate);
}

double ReduceLROnPlateau::current() const { return optimizer_->learning_rate(); }

bool ReduceLROnPlateau::improves(double metric) const {
  // NOTE: written so that a NaN metric compares false, i.e. is never an improvement.
  return options_.mode == PlateauMode::Min ? metric < best_ - options_.min_delta
                                           : metric > best_ + options_.min_delta;
}

bool ReduceLROnPlateau::step(double metric) {
  const bool cooling = in_cooldown();
  if (cooling) --cooldown_counter_;
  if (improves(metric)) {
    best_ = metric;
    wait_ = 0;
    return false;
  }
  if (cooling) return false;
  ++wait_;
  if (wait_ < options_.patience) return false;
  const double old_lr = optimizer_->learning_rate();
  if (old_lr <= options_.min_learning_rate) return false;
  optimizer_->set_learning_rate(std::max(old_lr * options_.factor, options_.min_learning_rate));
  cooldown_counter_ = options_.cooldown;
  wait_ = 0;
  ++reductions_;
  return true;
}

}  // namespace nabla::optim
