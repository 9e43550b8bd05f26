// Callbacks for Model::fit: early stopping, checkpoints, learning-rate scheduling, CSV logging.
#pragma once

#include <functional>
#include <limits>
#include <string>

#include "nn/module.h"
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
};

enum class Mode { Auto, Min, Max };

// Keeps the best value of a monitored log entry; "auto" minimizes unless the name says accuracy.
class Monitor {
 public:
  Monitor(std::string key, Mode mode, double min_delta);
  // True when `logs[key]` improves on the best so far by more than min_delta (and records it).
  bool improved(const Logs& logs);
  [[nodiscard]] double best() const { return best_; }
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
};

// Saves the network's weights (safetensors) after epochs; "{epoch}" in the path is replaced by
// the 1-based epoch number.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;

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
