// Model::fit and friends: batching, the training step, validation, logs and callbacks.
#include "train/model.h"

#include <fmt/format.h>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/replicas.h"
#include "train/progress.h"

namespace nabla::train {
namespace {

// Running means over batches weighted by batch size, so an epoch's value is exact.
class Averages {
 public:
  void add(const Logs& logs, int64_t count) {
    for (const auto& [key, value] : logs) {
      auto& [sum, weight] = sums_[key];
      sum += value * static_cast<double>(count);
      weight += static_cast<double>(count);
    }
  }
  [[nodiscard]] Logs means(const std::string& prefix = "") const {
    Logs out;
    for (const auto& [key, entry] : sums_) out[prefix + key] = entry.first / entry.second;
    return out;
  }
  // The means over every replica's samples: the sums and weights of `keys` (a rank may have seen
  // none) are added over the replicas in rank order, so each gets the same bits.
  [[nodiscard]] Logs global_means(const std::vector<std::string>& keys,
                                  const data::Replicas& replicas) const {
    std::vector<double> totals;
    for (const std::string& key : keys) {
      const auto it = sums_.find(key);
      totals.push_back(it == sums_.end() ? 0.0 : it->second.first);
      totals.push_back(it == sums_.end() ? 0.0 : it->second.second);
    }
    replicas.sum(totals);
    Logs out;
    for (size_t k = 0; k < keys.size(); ++k) {
      if (totals[2 * k + 1] > 0.0) out[keys[k]] = totals[2 * k] / totals[2 * k + 1];
    }
    return out;
  }

 private:
  std::map<std::string, std::pair<double, double>> sums_;
};

void check_pair(std::string_view op, const Tensor& x, const Tensor& y) {
  if (x.dim() == 0 || y.dim() == 0 || x.size(0) != y.size(0)) {
    throw error("{}: x of shape {} and y of shape {} must have the same number of samples", op,
                shape_str(x.shape()), shape_str(y.shape()));
  }
}

}  // namespace

Model::Model(std::shared_ptr<nn::Module> network) : network_(std::move(network)) {
  if (!network_) throw error("Model: the network is null");
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, Loss loss,
                    std::vector<Metric> metrics) {
  if (!optimizer) throw error("compile: the optimizer is null");
  if (!loss.fn) throw error("compile: the loss '{}' has no function", loss.name);
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(metrics);
  if (network_->built() && optimizer_->parameters().empty()) {
    optimizer_->set_parameters(network_->parameters());
  }
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, const std::string& loss,
                    const std::vector<std::string>& metrics) {
  std::vector<Metric> resolved;
  resolved.reserve(metrics.size());
  for (const std::string& name : metrics) resolved.push_back(metric_by_name(name));
  compile(std::move(optimizer), loss_by_name(loss), std::move(resolved));
}

optim::Optimizer& Model::optimizer() {
  check_compiled("optimizer");
  return *optimizer_;
}

void Model::check_compiled(std::string_view op) const {
  if (!optimizer_) throw error("{}: call compile(optimizer, loss, metrics) first", op);
}

void Model::prepare(const Tensor& x) {
  if (!network_->built()) network_->build(x.shape());
  if (optimizer_ && optimizer_->parameters().empty()) {
    optimizer_->set_parameters(network_->parameters());
  }
}

bool Model::distributed() const { return distributed_ && data::replicas().size() > 1; }

bool Model::is_chief() const { return !distributed() || data::replicas().rank() == 0; }

std::vector<std::string> Model::log_keys() const {
  std::vector<std::string> keys{"loss"};
  for (const Metric& metric : metrics_) keys.push_back(metric.name);
  return keys;
}

Logs Model::batch_logs(const Tensor& y_pred, const Tensor& y_true, const Tensor& loss) const {
  Logs logs;
  logs["loss"] = loss.item();
  const NoGradGuard no_grad;
  const Tensor prediction = y_pred.detach();
  for (const Metric& metric : metrics_) logs[metric.name] = metric.fn(prediction, y_true);
  return logs;
}

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  check_compiled("train_on_batch");
  check_pair("train_on_batch", x, y);
  prepare(x);
  network_->train();
  optimizer_->zero_grad();
  const Tensor y_pred = (*network_)(x);
  const Tensor loss = loss_.fn(y_pred, y);
  if (loss.numel() != 1) {
    throw error("train_on_batch: loss '{}' returned shape {}, expected one value", loss_.name,
                shape_str(loss.shape()));
  }
  loss.backward();
  optimizer_->step();
  return batch_logs(y_pred, y, loss);
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  check_compiled("fit");
  check_pair("fit", x, y);
  if (options.epochs < 0) throw error("fit: epochs must be non-negative, got {}", options.epochs);
  if (options.initial_epoch < 0 || options.initial_epoch > options.epochs) {
    throw error("fit: initial_epoch must be in [0, epochs = {}], got {}", options.epochs,
                options.initial_epoch);
  }
  if (options.batch_size <= 0) {
    throw error("fit: batch_size must be positive, got {}", options.batch_size);
  }
  if (options.validation_split < 0.0 || options.validation_split >= 1.0) {
    throw error("fit: validation_split must be in [0, 1), got {}", options.validation_split);
  }
  prepare(x);

  data::TensorDataset train_set(x, y);
  std::optional<data::TensorDataset> validation_set;
  if (options.validation_data) {
    check_pair("fit (validation_data)", options.validation_data->first,
               options.validation_data->second);
    validation_set.emplace(options.validation_data->first, options.validation_data->second);
  } else if (options.validation_split > 0.0) {
    auto [head, tail] = data::split(train_set, options.validation_split);
    train_set = std::move(head);
    validation_set.emplace(std::move(tail));
  }
  // A resumed fit shuffles with the seed of the run it continues, drawing nothing from the
  // default generator (whose restored state already accounts for that draw).
  const bool resuming = resume_ && resume_->epoch == options.initial_epoch;
  std::optional<uint64_t> seed = options.seed;
  if (!seed && resuming) seed = resume_->shuffle_seed;
  data::DataLoader loader(train_set, options.batch_size, options.shuffle, false, seed);
  const bool distributed = this->distributed();
  const data::Replicas& replicas = data::replicas();
  // Every rank must shuffle alike: rank 0's seed (drawn from its default generator if unset).
  if (distributed) {
    const bool root = replicas.rank() == 0;
    std::vector<double> halves{root ? static_cast<double>(loader.seed() >> 32) : 0.0,
                               root ? static_cast<double>(loader.seed() & 0xFFFFFFFFU) : 0.0};
    replicas.sum(halves);  // exact: 32-bit halves, zeros elsewhere
    const uint64_t shared_seed =
        (static_cast<uint64_t>(halves[0]) << 32) | static_cast<uint64_t>(halves[1]);
    loader = data::DataLoader(train_set, options.batch_size, options.shuffle, false, shared_seed);
    loader.shard(replicas.size(), replicas.rank());
  }
  loader.set_epoch(options.initial_epoch);
  shuffle_seed_ = loader.seed();
  epochs_done_ = options.initial_epoch;
  callbacks_ = options.callbacks;
  const int verbose = is_chief() ? options.verbose : 0;

  history_ = History();
  stop_training_ = false;
  for (const auto& callback : options.callbacks) callback->on_train_begin(*this);
  if (resuming) restore_callbacks(options.callbacks);
  resume_.reset();
  int64_t global_step = options.initial_epoch * loader.size();
  for (int64_t epoch = options.initial_epoch; epoch < options.epochs && !stop_training_; ++epoch) {
    if (verbose > 0) fmt::print("Epoch {}/{}\n", epoch + 1, options.epochs);
    for (const auto& callback : options.callbacks) callback->on_epoch_begin(*this, epoch);
    ProgressBar bar(loader.size(), verbose);
    Averages averages;
    int64_t batch_index = 0;
    for (const data::Batch& batch : loader) {
      Logs logs = train_on_batch(batch.x, batch.y);
      averages.add(logs, batch.x.size(0));
      ++batch_index;
      bar.update(batch_index, averages.means());
      logs["step"] = static_cast<double>(global_step++);
      for (const auto& callback : options.callbacks) {
        callback->on_batch_end(*this, batch_index - 1, logs);
      }
      if (stop_training_) break;  // as Keras 3: TerminateOnNaN stops within the epoch
    }
    Logs epoch_logs = distributed ? averages.global_means(log_keys(), replicas) : averages.means();
    if (validation_set) {
      const Logs validation =
          evaluate(validation_set->x(), validation_set->y(), options.batch_size);
      for (const auto& [key, value] : validation) epoch_logs["val_" + key] = value;
    }
    epoch_logs["lr"] = optimizer_->learning_rate();
    bar.finish(epoch_logs);
    epochs_done_ = epoch + 1;
    for (const auto& callback : options.callbacks) callback->on_epoch_end(*this, epoch, epoch_logs);
    history_.append(epoch, epoch_logs);
  }
  for (const auto& callback : options.callbacks) callback->on_train_end(*this, history_);
  return history_;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size, int verbose) {
  check_compiled("evaluate");
  check_pair("evaluate", x, y);
  if (batch_size <= 0) throw error("evaluate: batch_size must be positive, got {}", batch_size);
  prepare(x);
  const NoGradGuard no_grad;
  const bool was_training = network_->is_training();
  network_->eval();
  Averages averages;
  const bool distributed = this->distributed();
  const data::Replicas& replicas = data::replicas();
  // Distributed: rank r evaluates rows [r n / N, (r + 1) n / N).
  int64_t first = 0;
  int64_t n = x.size(0);
  if (distributed) {
    const int64_t total = n;
    first = total * replicas.rank() / replicas.size();
    n = total * (replicas.rank() + 1) / replicas.size();
  }
  ProgressBar bar((n - first + batch_size - 1) / batch_size, is_chief() ? verbose : 0);
  int64_t step = 0;
  for (int64_t begin = first; begin < n; begin += batch_size) {
    const data::Batch batch = data::take(x, y, begin, std::min(n, begin + batch_size));
    const Tensor y_pred = (*network_)(batch.x);
    averages.add(batch_logs(y_pred, batch.y, loss_.fn(y_pred, batch.y)), batch.x.size(0));
    bar.update(++step, averages.means());
  }
  network_->train(was_training);
  Logs logs = distributed ? averages.global_means(log_keys(), replicas) : averages.means();
  bar.finish(logs);
  return logs;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  if (x.dim() == 0) {
    throw error("predict: x must have a batch dim, got shape {}", shape_str(x.shape()));
  }
  if (batch_size <= 0) throw error("predict: batch_size must be positive, got {}", batch_size);
  prepare(x);
  const NoGradGuard no_grad;
  const bool was_training = network_->is_training();
  network_->eval();
  std::vector<Tensor> outputs;
  const int64_t n = x.size(0);
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    outputs.push_back((*network_)(slice(x, 0, begin, std::min(n, begin + batch_size), 1)));
  }
  network_->train(was_training);
  if (outputs.empty()) throw error("predict: x has no samples");
  return cat(outputs, 0);
}

}  // namespace nabla::train
