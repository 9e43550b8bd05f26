// Callbacks for Model::fit: early stopping, checkpoints, learning-rate scheduling, CSV logging.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "nn/module.h"
#include "optim/schedule.h"
#include "train/history.h"

namespace nabla::train {

class Model;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model& /*model*/) {}
  virtual void on_train_end(Model& /*model*/, const History& /*history*/) {}
  virtual void on_epoch_begin(Model& /*model*/, int64_t /*epoch*/) {}
  // `logs` holds the epoch's metrics (and validation metrics); a callback may add entries.
  virtual void on_epoch_end(Model& /*model*/, int64_t /*epoch*/, Logs& /*logs*/) {}
  // `logs` holds the batch's own loss and metrics, and "step" (the global step, from 0).
  virtual void on_batch_end(Model& /*model*/, int64_t /*batch*/, const Logs& /*logs*/) {}

  // What a resumed fit needs to continue this callback as if never interrupted (a patience count,
  // a best value, a schedule's step), as named tensors; Model::save_checkpoint stores it and a
  // resumed fit hands it back to load_state_dict right after on_train_begin. Stateless callbacks
  // keep the defaults. load_state_dict throws nabla::Error on a missing or malformed entry.
  [[nodiscard]] virtual nn::NamedTensors state_dict() const { return {}; }
  virtual void load_state_dict(const nn::NamedTensors& /*state*/) {}
};

enum class Mode { Auto, Min, Max };

// Keeps the best value of a monitored log entry; "auto" minimizes unless the name says accuracy.
class Monitor {
 public:
  Monitor(std::string key, Mode mode, double min_delta);
  // True when `logs[key]` improves on the best so far by more than min_delta (and records it).
  bool improved(const Logs& logs);
  [[nodiscard]] double best() const { return best_; }
  void set_best(double best) { best_ = best; }
  [[nodiscard]] const std::string& key() const { return key_; }

 private:
  std::string key_;
  bool maximize_;
  double min_delta_;
  double best_;
};

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int64_t patience = 0;
  Mode mode = Mode::Auto;
  bool restore_best_weights = false;
};

// Stops fit when the monitored value has not improved for `patience` epochs.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;
  void on_train_end(Model& model, const History& history) override;
  [[nodiscard]] int64_t stopped_epoch() const { return stopped_epoch_; }
  // wait and best (the best weights of restore_best_weights are not saved).
  [[nodiscard]] nn::NamedTensors state_dict() const override;
  void load_state_dict(const nn::NamedTensors& state) override;

 private:
  EarlyStoppingOptions options_;
  Monitor monitor_;
  int64_t wait_ = 0;
  int64_t stopped_epoch_ = -1;
  nn::NamedTensors best_state_;
};

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  Mode mode = Mode::Auto;
  // Saves Model::save_checkpoint's full training state (optimizer, epoch, generators, callbacks)
  // instead of the weights alone, so that Model::load_checkpoint can resume from the file.
  // NOTE: callbacks are saved as they are when this one runs: list it after the callbacks that
  // update their state at the end of an epoch (ReduceLROnPlateau, EarlyStopping).
  bool save_training_state = false;
};

// Saves the network's weights (safetensors) after epochs; "{epoch}" in the path is replaced by
// the 1-based epoch number.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;
  [[nodiscard]] nn::NamedTensors state_dict() const override;  // the monitor's best
  void load_state_dict(const nn::NamedTensors& state) override;

 private:
  std::string path_;
  ModelCheckpointOptions options_;
  Monitor monitor_;
};

// Sets the optimizer's learning rate at each epoch start from schedule(epoch, current_lr).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int64_t epoch, double lr)> schedule);
  void on_epoch_begin(Model& model, int64_t epoch) override;

 private:
  std::function<double(int64_t, double)> schedule_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;  // new lr = max(lr * factor, min_lr); in (0, 1)
  int64_t patience = 10;
  Mode mode = Mode::Auto;   // Auto: maximize when the monitored name contains "acc"
  double min_delta = 1e-4;  // absolute
  int64_t cooldown = 0;
  double min_lr = 0.0;
};

// keras.callbacks.ReduceLROnPlateau, rule for rule, at each epoch end:
//   in cooldown: cooldown_counter -= 1, wait = 0
//   if monitored < best - min_delta (Max: > best + min_delta): best = monitored, wait = 0
//   elif not in cooldown (checked again, after the decrement): wait += 1; if wait >= patience and
//     lr > min_lr: lr = max(lr * factor, min_lr), cooldown_counter = cooldown, wait = 0
// NOTE: Keras' order makes the epoch that ends a cooldown count as a bad one; optim's
// ReduceLROnPlateau (for hand-written loops) follows PyTorch there instead.
// The epoch's logs get "lr" set to the rate after this callback.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;
  [[nodiscard]] double best() const { return best_; }
  [[nodiscard]] int64_t wait() const { return wait_; }
  [[nodiscard]] int64_t cooldown_counter() const { return cooldown_counter_; }
  [[nodiscard]] nn::NamedTensors state_dict() const override;  // best, wait, cooldown_counter
  void load_state_dict(const nn::NamedTensors& state) override;

 private:
  void reset();

  ReduceLROnPlateauOptions options_;
  bool maximize_;
  double best_ = 0.0;
  int64_t wait_ = 0;
  int64_t cooldown_counter_ = 0;
};

// keras.callbacks.TerminateOnNaN: stops fit at the first batch whose loss is NaN or infinite
// (within the epoch: the remaining batches do not run).
class TerminateOnNaN : public Callback {
 public:
  void on_batch_end(Model& model, int64_t batch, const Logs& logs) override;
  // The global step at which training was stopped, or -1.
  [[nodiscard]] int64_t stopped_step() const { return stopped_step_; }

 private:
  int64_t stopped_step_ = -1;
};

// Steps an optim::LearningRateSchedule (built on the model's optimizer) after every batch, as
// PyTorch's loop calls scheduler.step() after optimizer.step(), or after every epoch with
// `per_epoch`. Its step count is saved in checkpoints.
class LearningRateScheduleCallback : public Callback {
 public:
  explicit LearningRateScheduleCallback(std::shared_ptr<optim::LearningRateSchedule> schedule,
                                        bool per_epoch = false);
  void on_batch_end(Model& model, int64_t batch, const Logs& logs) override;
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;
  [[nodiscard]] nn::NamedTensors state_dict() const override;  // "step"
  void load_state_dict(const nn::NamedTensors& state) override;
  [[nodiscard]] optim::LearningRateSchedule& schedule() { return *schedule_; }

 private:
  std::shared_ptr<optim::LearningRateSchedule> schedule_;
  bool per_epoch_;
};

// Appends one CSV row per epoch (epoch, then the logs' keys in sorted order).
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path, bool append = false);
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;

 private:
  std::string path_;
  bool append_;
  bool header_written_ = false;
};

}  // namespace nabla::train
