// Built-in callbacks.
#include "train/callbacks.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <type_traits>
#include <vector>

#include "nn/serialization.h"
#include "train/model.h"

namespace nabla::train {
namespace {

bool maximizes(const std::string& key, Mode mode) {
  if (mode != Mode::Auto) return mode == Mode::Max;
  return key.find("acc") != std::string::npos;
}

double lookup(const Logs& logs, const std::string& key, std::string_view who) {
  auto it = logs.find(key);
  if (it == logs.end()) {
    std::string known;
    for (const auto& [name, value] : logs) known += (known.empty() ? "" : ", ") + name;
    throw error(
        "{}: monitored value '{}' is not in the logs ({}); validation values need "
        "validation_split or validation_data",
        who, key, known);
  }
  return it->second;
}

Tensor f64(double value) { return scalar_tensor(value, kFloat64); }
Tensor i64(int64_t value) { return tensor(std::vector<int64_t>{value}, Shape{}); }

// The scalar entry `key` of a callback's saved state, checked.
template <typename T>
T read_scalar(const nn::NamedTensors& state, const std::string& key, std::string_view who) {
  const DType dtype = std::is_same_v<T, double> ? kFloat64 : kInt64;
  for (const auto& [name, t] : state) {
    if (name != key) continue;
    if (!t.defined() || t.dim() != 0 || t.dtype() != dtype) {
      throw error("{}.load_state_dict: '{}' must be a {} scalar (shape []), got {} {}", who, key,
                  dtype_name(dtype), t.defined() ? dtype_name(t.dtype()) : "undefined",
                  t.defined() ? shape_str(t.shape()) : "");
    }
    return t.template item<T>();
  }
  throw error("{}.load_state_dict: missing '{}'", who, key);
}

int64_t read_count(const nn::NamedTensors& state, const std::string& key, std::string_view who) {
  const auto value = read_scalar<int64_t>(state, key, who);
  if (value < 0) throw error("{}.load_state_dict: '{}' must be >= 0, got {}", who, key, value);
  return value;
}

}  // namespace

Monitor::Monitor(std::string key, Mode mode, double min_delta)
    : key_(std::move(key)),
      maximize_(maximizes(key_, mode)),
      min_delta_(std::abs(min_delta)),
      best_(maximize_ ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity()) {}

bool Monitor::improved(const Logs& logs) {
  const double value = lookup(logs, key_, "Monitor");
  const bool better = maximize_ ? value > best_ + min_delta_ : value < best_ - min_delta_;
  if (better) best_ = value;
  return better;
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)), monitor_(options_.monitor, options_.mode, options_.min_delta) {
  if (options_.patience < 0) {
    throw error("EarlyStopping: patience must be non-negative, got {}", options_.patience);
  }
}

void EarlyStopping::on_train_begin(Model& /*model*/) {
  monitor_ = Monitor(options_.monitor, options_.mode, options_.min_delta);
  wait_ = 0;
  stopped_epoch_ = -1;
  best_state_.clear();
}

void EarlyStopping::on_epoch_end(Model& model, int64_t epoch, Logs& logs) {
  if (monitor_.improved(logs)) {
    wait_ = 0;
    if (options_.restore_best_weights) {
      best_state_.clear();
      const NoGradGuard no_grad;
      for (const auto& [name, tensor] : model.network().state()) {
        best_state_.emplace_back(name, clone(tensor));
      }
    }
    return;
  }
  // As Keras: stop after `patience` epochs in a row without improvement.
  if (++wait_ >= options_.patience) {
    stopped_epoch_ = epoch;
    model.stop_training();
  }
}

void EarlyStopping::on_train_end(Model& model, const History& /*history*/) {
  if (!options_.restore_best_weights || best_state_.empty() || stopped_epoch_ < 0) return;
  const NoGradGuard no_grad;
  const nn::NamedTensors current = model.network().state();
  for (size_t i = 0; i < current.size() && i < best_state_.size(); ++i) {
    Tensor target = current[i].second;
    target.copy_(best_state_[i].second);
  }
}

nn::NamedTensors EarlyStopping::state_dict() const {
  return {{"wait", i64(wait_)}, {"best", f64(monitor_.best())}};
}

void EarlyStopping::load_state_dict(const nn::NamedTensors& state) {
  const int64_t wait = read_count(state, "wait", "EarlyStopping");
  monitor_.set_best(read_scalar<double>(state, "best", "EarlyStopping"));
  wait_ = wait;
}

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions options)
    : path_(std::move(path)),
      options_(std::move(options)),
      monitor_(options_.monitor, options_.mode, 0.0) {}

void ModelCheckpoint::on_epoch_end(Model& model, int64_t epoch, Logs& logs) {
  if (options_.save_best_only && !monitor_.improved(logs)) return;
  if (!model.is_chief()) return;  // data parallel: one file, from rank 0
  std::string path = path_;
  const std::string placeholder = "{epoch}";
  if (auto at = path.find(placeholder); at != std::string::npos) {
    path.replace(at, placeholder.size(), std::to_string(epoch + 1));
  }
  if (options_.save_training_state) {
    model.save_checkpoint(path);
  } else {
    nn::save_weights(model.network(), path);
  }
}

nn::NamedTensors ModelCheckpoint::state_dict() const { return {{"best", f64(monitor_.best())}}; }

void ModelCheckpoint::load_state_dict(const nn::NamedTensors& state) {
  monitor_.set_best(read_scalar<double>(state, "best", "ModelCheckpoint"));
}

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)), maximize_(maximizes(options_.monitor, options_.mode)) {
  const auto check = [](bool ok, std::string_view what, std::string_view requirement,
                        double value) {
    if (!ok) throw error("ReduceLROnPlateau: {} must be {}, got {}", what, requirement, value);
  };
  check(options_.factor > 0.0 && options_.factor < 1.0, "factor", "in (0, 1)", options_.factor);
  check(options_.patience >= 0, "patience", ">= 0", static_cast<double>(options_.patience));
  check(std::isfinite(options_.min_delta), "min_delta", "finite", options_.min_delta);
  check(options_.cooldown >= 0, "cooldown", ">= 0", static_cast<double>(options_.cooldown));
  check(std::isfinite(options_.min_lr) && options_.min_lr >= 0.0, "min_lr", "finite and >= 0",
        options_.min_lr);
  options_.min_delta = std::abs(options_.min_delta);
  reset();
}

void ReduceLROnPlateau::on_train_begin(Model& /*model*/) { reset(); }

void ReduceLROnPlateau::reset() {
  best_ = maximize_ ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  wait_ = 0;
  cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(Model& model, int64_t /*epoch*/, Logs& logs) {
  const double current = lookup(logs, options_.monitor, "ReduceLROnPlateau");
  optim::Optimizer& optimizer = model.optimizer();
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  // NOTE: a NaN compares false: never an improvement.
  const bool better =
      maximize_ ? current > best_ + options_.min_delta : current < best_ - options_.min_delta;
  if (better) {
    best_ = current;
    wait_ = 0;
  } else if (cooldown_counter_ == 0) {
    ++wait_;
    if (wait_ >= options_.patience) {
      const double old_lr = optimizer.learning_rate();
      if (old_lr > options_.min_lr) {
        optimizer.set_learning_rate(std::max(old_lr * options_.factor, options_.min_lr));
        cooldown_counter_ = options_.cooldown;
        wait_ = 0;
      }
    }
  }
  logs["lr"] = optimizer.learning_rate();
}

nn::NamedTensors ReduceLROnPlateau::state_dict() const {
  return {{"best", f64(best_)}, {"wait", i64(wait_)}, {"cooldown_counter", i64(cooldown_counter_)}};
}

void ReduceLROnPlateau::load_state_dict(const nn::NamedTensors& state) {
  const auto best = read_scalar<double>(state, "best", "ReduceLROnPlateau");
  const int64_t wait = read_count(state, "wait", "ReduceLROnPlateau");
  const int64_t cooldown = read_count(state, "cooldown_counter", "ReduceLROnPlateau");
  best_ = best;
  wait_ = wait;
  cooldown_counter_ = cooldown;
}

void TerminateOnNaN::on_batch_end(Model& model, int64_t /*batch*/, const Logs& logs) {
  const auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  const auto step = logs.find("step");
  stopped_step_ = step == logs.end() ? 0 : static_cast<int64_t>(step->second);
  fmt::print("TerminateOnNaN: invalid loss {} at step {}, terminating training\n", it->second,
             stopped_step_);
  model.stop_training();
}

LearningRateScheduleCallback::LearningRateScheduleCallback(
    std::shared_ptr<optim::LearningRateSchedule> schedule, bool per_epoch)
    : schedule_(std::move(schedule)), per_epoch_(per_epoch) {
  if (!schedule_) throw error("LearningRateScheduleCallback: the schedule is null");
}

void LearningRateScheduleCallback::on_batch_end(Model& /*model*/, int64_t /*batch*/,
                                                const Logs& /*logs*/) {
  if (!per_epoch_) schedule_->step();
}

void LearningRateScheduleCallback::on_epoch_end(Model& /*model*/, int64_t /*epoch*/,
                                                Logs& /*logs*/) {
  if (per_epoch_) schedule_->step();
}

nn::NamedTensors LearningRateScheduleCallback::state_dict() const {
  return {{"step", i64(schedule_->step_count())}};
}

void LearningRateScheduleCallback::load_state_dict(const nn::NamedTensors& state) {
  // The optimizer's own restored rate stands (ReduceLROnPlateau may have lowered it since the
  // schedule last wrote it).
  schedule_->set_step_count(read_count(state, "step", "LearningRateScheduleCallback"),
                            /*set_rate=*/false);
}

LearningRateScheduler::LearningRateScheduler(std::function<double(int64_t, double)> schedule)
    : schedule_(std::move(schedule)) {
  if (!schedule_) throw error("LearningRateScheduler: the schedule is empty");
}

void LearningRateScheduler::on_epoch_begin(Model& model, int64_t epoch) {
  model.optimizer().set_learning_rate(schedule_(epoch, model.optimizer().learning_rate()));
}

CSVLogger::CSVLogger(std::string path, bool append) : path_(std::move(path)), append_(append) {}

void CSVLogger::on_train_begin(Model& model) {
  header_written_ = false;
  if (!model.is_chief()) return;  // data parallel: one file, from rank 0
  if (!append_) {
    std::ofstream file(path_, std::ios::trunc);
    if (!file) throw error("CSVLogger: cannot open {} for writing", path_);
  } else {
    std::ifstream existing(path_);
    header_written_ = existing.good() && existing.peek() != std::ifstream::traits_type::eof();
  }
}

void CSVLogger::on_epoch_end(Model& model, int64_t epoch, Logs& logs) {
  if (!model.is_chief()) return;
  std::ofstream file(path_, std::ios::app);
  if (!file) throw error("CSVLogger: cannot open {} for writing", path_);
  if (!header_written_) {
    file << "epoch";
    for (const auto& [key, value] : logs) file << ',' << key;
    file << '\n';
    header_written_ = true;
  }
  file << epoch;
  for (const auto& [key, value] : logs) file << ',' << fmt::format("{:.8g}", value);
  file << '\n';
  if (!file) throw error("CSVLogger: writing {} failed", path_);
}

}  // namespace nabla::train
