// Learning-rate schedules: they act on an Optimizer& and write the rate for the current step (or
// the monitored metric, for ReduceLROnPlateau) into it with set_learning_rate().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "optim/optimizer.h"

namespace nabla::optim {

// A rate that is a function of a step count. The caller decides what a step is (a batch or an
// epoch) and calls step() after the optimizer's step, as in PyTorch. The initial rate is the
// optimizer's rate when the schedule is constructed; learning_rate_at(0) is that rate, so building
// a schedule does not change the optimizer. The schedule keeps a pointer to the optimizer, which
// must outlive it.
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  LearningRateSchedule(const LearningRateSchedule&) = delete;
  LearningRateSchedule& operator=(const LearningRateSchedule&) = delete;

  // Advances one step and sets the optimizer's rate to learning_rate_at(step_count()).
  void step();
  // The rate for the current step (what step() last wrote into the optimizer).
  [[nodiscard]] double current() const { return learning_rate_at(step_); }
  [[nodiscard]] int64_t step_count() const { return step_; }
  // Moves to `step` (>= 0): how a resumed run puts a schedule back where its checkpoint left it.
  // With `set_rate` the optimizer's rate becomes learning_rate_at(step); without, it is left alone
  // (a resumed optimizer has its own saved rate, which another callback may have changed since).
  void set_step_count(int64_t step, bool set_rate = true);
  [[nodiscard]] double initial_learning_rate() const { return initial_; }
  // The rate after `step` calls to step(); a pure function of `step`.
  [[nodiscard]] virtual double learning_rate_at(int64_t step) const = 0;
  [[nodiscard]] const std::string& name() const { return name_; }

 protected:
  LearningRateSchedule(std::string name, Optimizer& optimizer);
  // Throws "<name>: <what> must be <requirement>, got <value>" unless `ok`.
  void check(bool ok, std::string_view what, std::string_view requirement, double value) const;
  [[nodiscard]] Optimizer& optimizer() const { return *optimizer_; }

 private:
  std::string name_;
  Optimizer* optimizer_;
  double initial_;
  int64_t step_ = 0;
};

// lr = initial * gamma^floor(step / step_size)  (PyTorch's StepLR).
class StepDecay : public LearningRateSchedule {
 public:
  StepDecay(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  [[nodiscard]] double learning_rate_at(int64_t step) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

struct ExponentialDecayOptions {
  int64_t decay_steps = 0;  // required: > 0
  double decay_rate = 0.0;  // required: > 0 (< 1 to decay)
  bool staircase = false;   // floor(step / decay_steps): the rate drops in whole decades
  double min_learning_rate = 0.0;
};

// lr = min + (initial - min) * decay_rate^(step / decay_steps)
// With min 0 this is TensorFlow's ExponentialDecay; a floor gives the TensorFlow codelab's
// `min + (max - min) * exp(-step / 2000)` with decay_steps 2000 and decay_rate exp(-1).
class ExponentialDecay : public LearningRateSchedule {
 public:
  ExponentialDecay(Optimizer& optimizer, const ExponentialDecayOptions& options);
  [[nodiscard]] double learning_rate_at(int64_t step) const override;
  [[nodiscard]] const ExponentialDecayOptions& options() const { return options_; }

 private:
  ExponentialDecayOptions options_;
};

// lr = min + (initial - min) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2, then min
// after decay_steps (PyTorch's CosineAnnealingLR eta_min as an absolute floor; Keras' CosineDecay
// expresses the same floor as the fraction alpha = min / initial).
class CosineDecay : public LearningRateSchedule {
 public:
  CosineDecay(Optimizer& optimizer, int64_t decay_steps, double min_learning_rate = 0.0);
  [[nodiscard]] double learning_rate_at(int64_t step) const override;

 private:
  int64_t decay_steps_;
  double min_learning_rate_;
};

// lr = initial * gamma^(number of milestones <= step)  (PyTorch's MultiStepLR). Milestones are
// positive and strictly increasing.
class MultiStepDecay : public LearningRateSchedule {
 public:
  MultiStepDecay(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  [[nodiscard]] double learning_rate_at(int64_t step) const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// A linear warmup in front of another schedule (PyTorch's LinearLR followed by the wrapped one in
// a SequentialLR): with base = after->learning_rate_at(0) and W = warmup_steps,
//   lr = base * (start_factor + (1 - start_factor) * step / W)   for step < W
//   lr = after->learning_rate_at(step - W)                          for step >= W
// The wrapped schedule is only queried (learning_rate_at), never stepped; it should be built on
// the same optimizer. The optimizer's rate is set to learning_rate_at(0) at construction, since
// the warmup starts below the rate the optimizer was built with.
class LinearWarmup : public LearningRateSchedule {
 public:
  LinearWarmup(Optimizer& optimizer, std::shared_ptr<const LearningRateSchedule> after,
               int64_t warmup_steps, double start_factor = 0.0);
  [[nodiscard]] double learning_rate_at(int64_t step) const override;

 private:
  std::shared_ptr<const LearningRateSchedule> after_;
  int64_t warmup_steps_;
  double start_factor_;
};

// PyTorch's defaults (three_phase=False, anneal_strategy="cos").
struct OneCycleOptions {
  double max_learning_rate = 0.0;  // required: > 0
  int64_t total_steps = 0;         // required: > 1
  double pct_start = 0.3;          // fraction of the steps spent raising the rate, in (0, 1)
  double div_factor = 25.0;        // initial = max / div_factor
  double final_div_factor = 1e4;   // final = initial / final_div_factor
};

// PyTorch's OneCycleLR with cosine annealing: the rate rises from initial = max / div_factor to
// max over the steps 0 .. pct_start * total_steps - 1, then falls to initial / final_div_factor at
// total_steps - 1, each phase following cos_anneal(start, end, pct) =
// end + (start - end) / 2 * (1 + cos(pi * pct)) with pct the fraction of the phase done.
// As in PyTorch the optimizer's rate is set to the initial rate at construction, and a step
// beyond total_steps throws.
class OneCycle : public LearningRateSchedule {
 public:
  OneCycle(Optimizer& optimizer, const OneCycleOptions& options);
  [[nodiscard]] double learning_rate_at(int64_t step) const override;
  [[nodiscard]] const OneCycleOptions& options() const { return options_; }

 private:
  OneCycleOptions options_;
};

enum class PlateauMode { Min, Max };  // whether the monitored metric should fall or rise

// Keras' defaults.
struct PlateauOptions {
  PlateauMode mode = PlateauMode::Min;
  double factor = 0.1;      // new lr = max(lr * factor, min_learning_rate)
  int64_t patience = 10;    // steps without improvement after which the rate is reduced
  double min_delta = 1e-4;  // an improvement must beat the best value by more than this (absolute)
  int64_t cooldown = 0;     // steps after a reduction during which bad steps are not counted
  double min_learning_rate = 0.0;
};

// Reduces the rate when a metric has stopped improving, with keras.callbacks.ReduceLROnPlateau's
// rules: a step improves if metric < best - min_delta (Min mode) or metric > best + min_delta
// (Max); after `patience` steps in a row without improvement the rate is multiplied by factor
// (never below min_learning_rate); the `cooldown` steps after a reduction do not count as bad.
// NOTE: PyTorch reduces after patience + 1 bad epochs and measures min_delta relatively by
// default; we follow Keras there. For cooldown we follow PyTorch: in Keras the step that ends the
// cooldown already counts, so its cooldown = 1 behaves like 0. A NaN metric never counts as an
// improvement.
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, const PlateauOptions& options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;
  ~ReduceLROnPlateau() = default;

  // Reports the metric of one step (usually an epoch's validation loss); returns true if the rate
  // was reduced.
  bool step(double metric);
  // The optimizer's current rate.
  [[nodiscard]] double current() const;
  // Best metric so far (+inf in Min mode and -inf in Max mode before the first step).
  [[nodiscard]] double best() const { return best_; }
  // Steps without improvement counted towards patience.
  [[nodiscard]] int64_t wait() const { return wait_; }
  [[nodiscard]] bool in_cooldown() const { return cooldown_counter_ > 0; }
  [[nodiscard]] int64_t reductions() const { return reductions_; }
  [[nodiscard]] const PlateauOptions& options() const { return options_; }

 private:
  [[nodiscard]] bool improves(double metric) const;

  Optimizer* optimizer_;
  PlateauOptions options_;
  double best_;
  int64_t wait_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t reductions_ = 0;
};

}  // namespace nabla::optim
