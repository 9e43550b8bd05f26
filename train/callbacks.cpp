// Built-in callbacks.
#include "train/callbacks.h"

#include <cmath>
#include <fstream>

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
  nn::save_weights(model.network(), path);
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
