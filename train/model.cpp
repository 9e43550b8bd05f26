// Model::fit and friends: batching, the training step, validation, logs and callbacks.
#include "train/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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

// Every tensor of xs and ys has a batch dim and as many samples as xs[0]; the error names the
// tensor (x[i] or y[i]) and both shapes.
void check_samples(std::string_view op, const std::vector<Tensor>& xs,
                   const std::vector<Tensor>& ys) {
  if (xs.empty()) throw error("{}: no x tensors", op);
  const auto check = [&](const char* group, size_t i, const Tensor& t) {
    if (!t.defined()) throw error("{}: {}[{}] is an undefined tensor", op, group, i);
    if (t.dim() == 0) {
      throw error("{}: {}[{}] is a 0-d tensor; samples are along dim 0", op, group, i);
    }
    if (t.size(0) != xs.front().size(0)) {
      throw error(
          "{}: {}[{}] of shape {} and x[0] of shape {} must have the same number of samples "
          "(dim 0)",
          op, group, i, shape_str(t.shape()), shape_str(xs.front().shape()));
    }
  };
  for (size_t i = 0; i < xs.size(); ++i) check("x", i, xs[i]);
  for (size_t i = 0; i < ys.size(); ++i) check("y", i, ys[i]);
}

// sample_weight: float, shape [n], every weight finite and non-negative.
void check_sample_weight(std::string_view op, const Tensor& w, int64_t n) {
  if (!w.is_floating_point()) {
    throw error("{}: sample_weight must be float32 or float64, got {}", op, dtype_name(w.dtype()));
  }
  if (w.dim() != 1 || w.size(0) != n) {
    throw error("{}: sample_weight of shape {} must have shape [{}] (one weight per sample)", op,
                shape_str(w.shape()), n);
  }
  const auto values = w.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(std::isfinite(values[i]) && values[i] >= 0.0)) {
      throw error("{}: sample_weight[{}] is {}; weights must be finite and non-negative", op, i,
                  values[i]);
    }
  }
}

// Keras's class_weight as sample weights [n] (float32) from the targets y.
Tensor class_sample_weights(std::string_view op, const std::map<int64_t, double>& class_weight,
                            const Tensor& y) {
  for (const auto& [index, weight] : class_weight) {
    if (index < 0) {
      throw error("{}: class_weight has class index {}; class indices are non-negative", op, index);
    }
    if (!(std::isfinite(weight) && weight >= 0.0)) {
      throw error("{}: class_weight[{}] is {}; weights must be finite and non-negative", op, index,
                  weight);
    }
  }
  const bool one_hot = y.dim() == 2 && y.size(1) > 1;
  if (y.dim() < 1 || y.dim() > 2 || (y.dim() == 2 && y.size(1) < 1)) {
    throw error("{}: class_weight needs targets of shape [N], [N, 1] or [N, C], got {}", op,
                shape_str(y.shape()));
  }
  const int64_t n = y.size(0);
  if (one_hot) {
    const int64_t classes = y.size(1);
    for (const auto& [index, weight] : class_weight) {
      if (index >= classes) {
        throw error("{}: class_weight has class index {}, out of range for targets of {} classes",
                    op, index, classes);
      }
    }
  }
  const auto values = y.to_vector<double>();
  const int64_t width = one_hot ? y.size(1) : 1;
  std::vector<float> weights;
  weights.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto first = values.begin() + i * width;
    if (!one_hot && !(std::isfinite(*first) && std::abs(*first) < 9.0e15)) {
      // Casting NaN, inf or beyond int64 would be undefined: such a label names no class.
      throw error("{}: class_weight: target {} of sample {} is not a class index", op, *first, i);
    }
    const auto label = static_cast<int64_t>(
        one_hot ? static_cast<double>(std::max_element(first, first + width) - first)
                : std::round(*first));
    const auto it = class_weight.find(label);
    weights.push_back(it == class_weight.end() ? 1.0f : static_cast<float>(it->second));
  }
  return tensor(weights, {n});
}

// Every rank's rows of t (undefined or empty on a rank without rows), in rank order, on every
// rank. Only a sum is available, so each rank writes its rows at its offset into zeros and the
// sum assembles them; values pass through double, exact for float32, float64 and int64 labels.
Tensor gather_rows(const Tensor& t, const data::Replicas& replicas) {
  constexpr int64_t kMaxDims = 8;
  constexpr int64_t kHeader = 3 + kMaxDims;  // rows, dtype, dims, extents
  const int64_t size = replicas.size();
  const int64_t rank = replicas.rank();
  const bool has_rows = t.defined() && t.dim() > 0 && t.size(0) > 0;
  if (has_rows && t.dim() > kMaxDims) {
    throw error("gather_rows: tensors of more than {} dims are not supported, got shape {}",
                kMaxDims, shape_str(t.shape()));
  }
  std::vector<double> header(static_cast<size_t>(size * kHeader), 0.0);
  if (has_rows) {
    double* h = &header[static_cast<size_t>(rank * kHeader)];
    h[0] = static_cast<double>(t.size(0));
    h[1] = static_cast<double>(static_cast<int>(t.dtype()));
    h[2] = static_cast<double>(t.dim());
    for (int64_t d = 0; d < t.dim(); ++d) h[3 + d] = static_cast<double>(t.size(d));
  }
  replicas.sum(header);
  int64_t total = 0;
  int64_t offset = 0;
  const double* first = nullptr;
  for (int64_t r = 0; r < size; ++r) {
    const double* h = &header[static_cast<size_t>(r * kHeader)];
    const auto rows = static_cast<int64_t>(h[0]);
    if (r < rank) offset += rows;
    total += rows;
    if (first == nullptr && rows > 0) first = h;
  }
  if (first == nullptr) return t;
  Shape shape{total};
  int64_t width = 1;
  for (int64_t d = 1; d < static_cast<int64_t>(first[2]); ++d) {
    shape.push_back(static_cast<int64_t>(first[3 + d]));
    width *= shape.back();
  }
  std::vector<double> payload(static_cast<size_t>(total * width), 0.0);
  if (has_rows) {
    const std::vector<double> mine = t.to_vector<double>();
    std::copy(mine.begin(), mine.end(), payload.begin() + offset * width);
  }
  replicas.sum(payload);
  return tensor(payload, shape, static_cast<DType>(static_cast<int>(first[1])));
}

// `per_output`, or `all` repeated `outputs` times when it holds one entry.
template <typename T>
std::vector<T> per_output(std::string_view what, std::vector<T> all, size_t outputs) {
  if (all.size() == outputs) return all;
  if (all.size() == 1) return std::vector<T>(outputs, all.front());
  throw error("compile: the model has {} output{}, got {} {} (give one per output, or one for all)",
              outputs, outputs == 1 ? "" : "s", all.size(), what);
}

// The log keys of a model with these outputs and metrics: "loss", then each output's loss (several
// outputs only), then the metrics ("<output>_<metric>" with several outputs).
std::vector<std::string> keys_of(const std::vector<std::string>& output_names,
                                 const std::vector<std::vector<Metric>>& metrics) {
  const bool several = output_names.size() > 1;
  std::vector<std::string> keys{"loss"};
  if (several) {
    for (const std::string& name : output_names) keys.push_back(name + "_loss");
  }
  for (size_t k = 0; k < metrics.size(); ++k) {
    for (const Metric& metric : metrics[k]) {
      keys.push_back(several ? output_names[k] + "_" + metric.name : metric.name);
    }
  }
  return keys;
}

// Logs are maps: two values under one key would silently keep only one. fit also logs "val_"
// with each key and "lr", so those must not collide either (an output named "val" would log its
// loss as "val_loss").
void check_unique_keys(const std::vector<std::string>& keys) {
  std::map<std::string, std::string> seen{{"lr", "the learning rate"}};
  for (const std::string& key : keys) {
    for (const std::string& logged : {key, "val_" + key}) {
      const auto [it, fresh] = seen.emplace(logged, key);
      if (!fresh) {
        throw error(
            "compile: two logs would both be named '{}' (from '{}' and '{}'); rename an output "
            "layer (set_name) or drop the repeated metric",
            logged, it->second, key);
      }
    }
  }
}

}  // namespace

Model::Model(std::shared_ptr<nn::Module> network) : network_(std::move(network)) {
  if (!network_) throw error("Model: the network is null");
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, Loss loss,
                    std::vector<Metric> metrics) {
  compile(std::move(optimizer), std::vector<Loss>{std::move(loss)},
          std::vector<std::vector<Metric>>{std::move(metrics)});
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, const std::string& loss,
                    const std::vector<std::string>& metrics) {
  compile(std::move(optimizer), std::vector<std::string>{loss},
          std::vector<std::vector<std::string>>{metrics});
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, std::vector<Loss> losses,
                    std::vector<std::vector<Metric>> metrics, std::vector<double> loss_weights) {
  if (!optimizer) throw error("compile: the optimizer is null");
  const size_t outputs = network_->output_count();
  std::vector<std::string> names = network_->output_names();
  if (names.size() != outputs) {
    throw error("compile: the network has {} outputs but {} output names", outputs, names.size());
  }
  if (losses.empty()) throw error("compile: no loss given");
  for (const Loss& loss : losses) {
    if (!loss.fn) throw error("compile: the loss '{}' has no function", loss.name);
  }
  losses = per_output("losses", std::move(losses), outputs);
  metrics = metrics.empty() ? std::vector<std::vector<Metric>>(outputs)
                            : per_output("metric lists", std::move(metrics), outputs);
  if (loss_weights.empty()) loss_weights.assign(outputs, 1.0);
  if (loss_weights.size() != outputs) {
    throw error("compile: the model has {} output{}, got {} loss_weights", outputs,
                outputs == 1 ? "" : "s", loss_weights.size());
  }
  for (size_t k = 0; k < loss_weights.size(); ++k) {
    if (!std::isfinite(loss_weights[k])) {
      throw error("compile: loss_weights[{}] is {}; loss weights must be finite", k,
                  loss_weights[k]);
    }
  }
  check_unique_keys(keys_of(names, metrics));
  optimizer_ = std::move(optimizer);
  losses_ = std::move(losses);
  metrics_ = std::move(metrics);
  loss_weights_ = std::move(loss_weights);
  output_names_ = std::move(names);
  if (network_->built() && optimizer_->parameters().empty()) {
    optimizer_->set_parameters(network_->parameters());
  }
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer,
                    const std::vector<std::string>& losses,
                    const std::vector<std::vector<std::string>>& metrics,
                    std::vector<double> loss_weights) {
  std::vector<Loss> resolved_losses;
  resolved_losses.reserve(losses.size());
  for (const std::string& name : losses) resolved_losses.push_back(loss_by_name(name));
  std::vector<std::vector<Metric>> resolved;
  resolved.reserve(metrics.size());
  for (const auto& list : metrics) {
    resolved.emplace_back();
    for (const std::string& name : list) resolved.back().push_back(metric_by_name(name));
  }
  compile(std::move(optimizer), std::move(resolved_losses), std::move(resolved),
          std::move(loss_weights));
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer,
                    std::initializer_list<std::string> losses,
                    const std::vector<std::vector<std::string>>& metrics,
                    std::vector<double> loss_weights) {
  compile(std::move(optimizer), std::vector<std::string>(losses), metrics, std::move(loss_weights));
}

optim::Optimizer& Model::optimizer() {
  check_compiled("optimizer");
  return *optimizer_;
}

void Model::check_compiled(std::string_view op) const {
  if (!optimizer_) throw error("{}: call compile(optimizer, loss, metrics) first", op);
}

void Model::check_counts(std::string_view op, const std::vector<Tensor>& xs,
                         const std::vector<Tensor>* ys) const {
  const size_t inputs = network_->input_count();
  if (xs.size() != inputs) {
    throw error("{}: the model takes {} input{}, got {} x tensor{}", op, inputs,
                inputs == 1 ? "" : "s", xs.size(), xs.size() == 1 ? "" : "s");
  }
  const size_t outputs = network_->output_count();
  if (ys != nullptr && ys->size() != outputs) {
    throw error("{}: the model has {} output{}, got {} y tensor{}", op, outputs,
                outputs == 1 ? "" : "s", ys->size(), ys->size() == 1 ? "" : "s");
  }
  check_samples(op, xs, ys != nullptr ? *ys : std::vector<Tensor>{});
}

void Model::prepare(const std::vector<Tensor>& xs) {
  if (!network_->built()) {
    std::vector<Shape> shapes;
    shapes.reserve(xs.size());
    for (const Tensor& x : xs) shapes.push_back(x.shape());
    network_->build_all(shapes);
  }
  if (optimizer_ && optimizer_->parameters().empty()) {
    optimizer_->set_parameters(network_->parameters());
  }
}

bool Model::distributed() const { return distributed_ && data::replicas().size() > 1; }

bool Model::is_chief() const { return !distributed() || data::replicas().rank() == 0; }

std::vector<std::string> Model::log_keys() const { return keys_of(output_names_, metrics_); }

void Model::check_weighted(std::string_view op) const {
  for (const Loss& loss : losses_) {
    if (!loss.per_sample) {
      throw error(
          "{}: loss '{}' has no per-sample form (Loss::per_sample), so it cannot be weighted by "
          "sample_weight or class_weight",
          op, loss.name);
    }
  }
}

Model::BatchLoss Model::batch_loss(std::string_view op, const std::vector<Tensor>& y_pred,
                                   const std::vector<Tensor>& y_true, const Tensor& weights) const {
  if (y_pred.size() != losses_.size()) {
    throw error("{}: the network returned {} outputs, compile was given {}", op, y_pred.size(),
                losses_.size());
  }
  BatchLoss out;
  for (size_t k = 0; k < losses_.size(); ++k) {
    Tensor loss;
    if (weights.defined()) {
      // Keras's SUM_OVER_BATCH_SIZE: sum_i(w_i * l_i) / batch size.
      const Tensor per_sample = losses_[k].per_sample(y_pred[k], y_true[k]);
      const int64_t n = weights.size(0);
      if (per_sample.shape() != Shape{n}) {
        throw error("{}: the per-sample form of loss '{}' returned shape {}, expected [{}]", op,
                    losses_[k].name, shape_str(per_sample.shape()), n);
      }
      const Tensor w =
          weights.dtype() == per_sample.dtype() ? weights : to(weights, per_sample.dtype());
      loss = sum(per_sample * w) / static_cast<double>(n);
    } else {
      loss = losses_[k].fn(y_pred[k], y_true[k]);
      if (loss.numel() != 1) {
        throw error("{}: loss '{}' returned shape {}, expected one value", op, losses_[k].name,
                    shape_str(loss.shape()));
      }
    }
    // NOTE: a weight of 1 is not multiplied in, so one output's loss is what it was before
    // multi-output training existed (x * 1 is exact anyway; this saves the graph node).
    const Tensor weighted = loss_weights_[k] == 1.0 ? loss : loss * loss_weights_[k];
    out.total = k == 0 ? weighted : out.total + weighted;
    out.per_output.push_back(std::move(loss));
  }
  return out;
}

Logs Model::batch_logs(const std::vector<Tensor>& y_pred, const std::vector<Tensor>& y_true,
                       const BatchLoss& loss) const {
  Logs logs;
  logs["loss"] = loss.total.item();
  if (multi_output()) {
    for (size_t k = 0; k < output_names_.size(); ++k) {
      logs[output_names_[k] + "_loss"] = loss.per_output[k].item();
    }
  }
  const NoGradGuard no_grad;
  for (size_t k = 0; k < metrics_.size(); ++k) {
    if (metrics_[k].empty()) continue;
    const Tensor prediction = y_pred[k].detach();
    for (const Metric& metric : metrics_[k]) {
      const std::string key = multi_output() ? output_names_[k] + "_" + metric.name : metric.name;
      logs[key] = metric.fn(prediction, y_true[k]);
    }
  }
  return logs;
}

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  check_compiled("train_on_batch");
  check_pair("train_on_batch", x, y);
  return train_on_batch(std::vector<Tensor>{x}, std::vector<Tensor>{y});
}

bool Model::has_over_epoch_metrics() const {
  for (const auto& list : metrics_) {
    for (const Metric& metric : list) {
      if (metric.over_epoch) return true;
    }
  }
  return false;
}

void Model::collect(EpochSamples& samples, const std::vector<Tensor>& y_pred,
                    const std::vector<Tensor>& y_true) const {
  samples.predictions.resize(metrics_.size());
  samples.targets.resize(metrics_.size());
  for (size_t k = 0; k < metrics_.size(); ++k) {
    if (std::none_of(metrics_[k].begin(), metrics_[k].end(),
                     [](const Metric& metric) { return metric.over_epoch; })) {
      continue;
    }
    samples.predictions[k].push_back(y_pred[k].detach());
    samples.targets[k].push_back(y_true[k]);
  }
}

void Model::over_epoch_logs(const EpochSamples& samples, bool distributed, Logs& logs) const {
  const NoGradGuard no_grad;
  for (size_t k = 0; k < metrics_.size(); ++k) {
    if (std::none_of(metrics_[k].begin(), metrics_[k].end(),
                     [](const Metric& metric) { return metric.over_epoch; })) {
      continue;
    }
    const bool seen = k < samples.predictions.size() && !samples.predictions[k].empty();
    Tensor prediction = seen ? cat(samples.predictions[k], 0) : Tensor();
    Tensor target = seen ? cat(samples.targets[k], 0) : Tensor();
    if (distributed) {
      prediction = gather_rows(prediction, data::replicas());
      target = gather_rows(target, data::replicas());
    }
    if (!prediction.defined()) continue;
    for (const Metric& metric : metrics_[k]) {
      if (!metric.over_epoch) continue;
      logs[multi_output() ? output_names_[k] + "_" + metric.name : metric.name] =
          metric.fn(prediction, target);
    }
  }
}

Logs Model::train_on_batch(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                           const Tensor& sample_weight) {
  check_compiled("train_on_batch");
  check_counts("train_on_batch", xs, &ys);
  if (sample_weight.defined()) {
    check_sample_weight("train_on_batch", sample_weight, xs.front().size(0));
    check_weighted("train_on_batch");
  }
  return train_step(xs, ys, sample_weight, nullptr);
}

Logs Model::train_step(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                       const Tensor& sample_weight, std::vector<Tensor>* predictions) {
  prepare(xs);
  network_->train();
  optimizer_->zero_grad();
  const std::vector<Tensor> y_pred = network_->forward_all(xs);
  const BatchLoss loss = batch_loss("train_on_batch", y_pred, ys, sample_weight);
  loss.total.backward();
  optimizer_->step();
  if (predictions != nullptr) *predictions = y_pred;
  return batch_logs(y_pred, ys, loss);
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  check_compiled("fit");
  check_pair("fit", x, y);
  return fit(std::vector<Tensor>{x}, std::vector<Tensor>{y}, options);
}

History Model::fit(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                   const FitOptions& options) {
  check_compiled("fit");
  check_counts("fit", xs, &ys);
  if (options.epochs < 0) throw error("fit: epochs must be non-negative, got {}", options.epochs);
  if (options.initial_epoch < 0 || options.initial_epoch > options.epochs) {
    throw error("fit: initial_epoch must be in [0, epochs = {}], got {}", options.epochs,
                options.initial_epoch);
  }
  // A pending checkpoint resumes at its own epoch only: its shuffle seed and callback state belong
  // there. Checked before anything changes (the loader would draw a seed), so a corrected fit
  // still resumes bit for bit.
  if (resume_ && resume_->epoch != options.initial_epoch) {
    throw error(
        "fit: the checkpoint loaded from '{}' resumes at epoch {}, but initial_epoch is {}{}; pass "
        "initial_epoch = {} (what load_checkpoint returned) to resume it",
        resume_->path, resume_->epoch, options.initial_epoch,
        options.initial_epoch == 0
            ? " (not set? starting at 0 would replay the shuffle order of trained epochs)"
            : "",
        resume_->epoch);
  }
  if (options.batch_size <= 0) {
    throw error("fit: batch_size must be positive, got {}", options.batch_size);
  }
  if (options.validation_split < 0.0 || options.validation_split >= 1.0) {
    throw error("fit: validation_split must be in [0, 1), got {}", options.validation_split);
  }
  if (options.sample_weight.defined() && !options.class_weight.empty()) {
    throw error("fit: give sample_weight or class_weight, not both");
  }
  if (!options.class_weight.empty() && ys.size() != 1) {
    throw error("fit: class_weight is only supported for a model with one output; this one has {}",
                ys.size());
  }
  Tensor weights = options.sample_weight;
  if (weights.defined()) check_sample_weight("fit", weights, xs.front().size(0));
  if (!options.class_weight.empty()) {
    weights = class_sample_weights("fit", options.class_weight, ys.front());
  }
  if (weights.defined()) check_weighted("fit");
  Tensor validation_weights;
  if (options.validation_data) {
    const ValidationData& validation = *options.validation_data;
    check_counts("fit (validation_data)", validation.xs, &validation.ys);
    validation_weights = validation.sample_weight;
    if (validation_weights.defined()) {
      check_sample_weight("fit (validation_data)", validation_weights,
                          validation.xs.front().size(0));
      check_weighted("fit (validation_data)");
    }
  }
  prepare(xs);

  // The weights travel as one more target, so shuffling and validation_split take them along.
  const bool weighted = weights.defined();
  std::vector<Tensor> targets = ys;
  if (weighted) targets.push_back(weights);
  data::TensorDataset train_set(xs, targets);
  std::optional<data::TensorDataset> validation_set;
  std::vector<Tensor> validation_ys;
  if (options.validation_data) {
    validation_set.emplace(options.validation_data->xs, options.validation_data->ys);
    validation_ys = options.validation_data->ys;
  } else if (options.validation_split > 0.0) {
    auto [head, tail] = data::split(train_set, options.validation_split);
    train_set = std::move(head);
    validation_set.emplace(std::move(tail));
    validation_ys = validation_set->ys();
    if (weighted) {
      // As Keras: sample_weight is split with the samples; class_weight weighs training only.
      if (options.sample_weight.defined()) validation_weights = validation_ys.back();
      validation_ys.pop_back();
    }
  }
  // A resumed fit shuffles with the seed of the run it continues, drawing nothing from the
  // default generator (whose restored state already accounts for that draw).
  const bool resuming = resume_.has_value();
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
    EpochSamples samples;
    const bool keep_samples = has_over_epoch_metrics();
    std::vector<Tensor> predictions;
    int64_t batch_index = 0;
    for (const data::Batch& batch : loader) {
      std::vector<Tensor> batch_targets = batch.targets();
      Tensor batch_weights;
      if (weighted) {
        batch_weights = batch_targets.back();
        batch_targets.pop_back();
      }
      Logs logs = train_step(batch.inputs(), batch_targets, batch_weights,
                             keep_samples ? &predictions : nullptr);
      if (keep_samples) collect(samples, predictions, batch_targets);
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
    if (keep_samples) over_epoch_logs(samples, distributed, epoch_logs);
    if (validation_set) {
      const Logs validation =
          evaluate(validation_set->xs(), validation_ys, options.batch_size, 0, validation_weights);
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

Logs Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size, int verbose,
                     const Tensor& sample_weight) {
  check_compiled("evaluate");
  check_pair("evaluate", x, y);
  return evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}, batch_size, verbose,
                  sample_weight);
}

Logs Model::evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                     int64_t batch_size, int verbose, const Tensor& sample_weight) {
  check_compiled("evaluate");
  check_counts("evaluate", xs, &ys);
  const bool weighted = sample_weight.defined();
  if (weighted) {
    check_sample_weight("evaluate", sample_weight, xs.front().size(0));
    check_weighted("evaluate");
  }
  std::vector<Tensor> targets = ys;
  if (weighted) targets.push_back(sample_weight);
  if (batch_size <= 0) throw error("evaluate: batch_size must be positive, got {}", batch_size);
  prepare(xs);
  const NoGradGuard no_grad;
  const bool was_training = network_->is_training();
  network_->eval();
  Averages averages;
  const bool distributed = this->distributed();
  const data::Replicas& replicas = data::replicas();
  // Distributed: rank r evaluates rows [r n / N, (r + 1) n / N).
  int64_t first = 0;
  int64_t n = xs.front().size(0);
  if (distributed) {
    const int64_t total = n;
    first = total * replicas.rank() / replicas.size();
    n = total * (replicas.rank() + 1) / replicas.size();
  }
  ProgressBar bar((n - first + batch_size - 1) / batch_size, is_chief() ? verbose : 0);
  int64_t step = 0;
  EpochSamples samples;
  const bool keep_samples = has_over_epoch_metrics();
  try {
    for (int64_t begin = first; begin < n; begin += batch_size) {
      data::Batch batch = data::take(xs, targets, begin, std::min(n, begin + batch_size));
      Tensor batch_weights;
      if (weighted) {
        batch_weights = batch.ys.back();
        batch.ys.pop_back();
      }
      const std::vector<Tensor> y_pred = network_->forward_all(batch.xs);
      averages.add(
          batch_logs(y_pred, batch.ys, batch_loss("evaluate", y_pred, batch.ys, batch_weights)),
          batch.x.size(0));
      if (keep_samples) collect(samples, y_pred, batch.ys);
      bar.update(++step, averages.means());
    }
  } catch (...) {
    network_->train(was_training);
    throw;
  }
  network_->train(was_training);
  Logs logs = distributed ? averages.global_means(log_keys(), replicas) : averages.means();
  if (keep_samples) over_epoch_logs(samples, distributed, logs);
  bar.finish(logs);
  return logs;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  if (x.dim() == 0) {
    throw error("predict: x must have a batch dim, got shape {}", shape_str(x.shape()));
  }
  if (network_->output_count() != 1) {
    throw error(
        "predict: the model has {} outputs; predict(std::vector<Tensor>) returns one tensor per "
        "output",
        network_->output_count());
  }
  return predict(std::vector<Tensor>{x}, batch_size).front();
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& xs, int64_t batch_size) {
  check_counts("predict", xs, nullptr);
  if (batch_size <= 0) throw error("predict: batch_size must be positive, got {}", batch_size);
  const int64_t n = xs.front().size(0);
  if (n == 0) throw error("predict: x has no samples");
  prepare(xs);
  const NoGradGuard no_grad;
  const bool was_training = network_->is_training();
  network_->eval();
  std::vector<std::vector<Tensor>> outputs(network_->output_count());
  try {
    for (int64_t begin = 0; begin < n; begin += batch_size) {
      const std::vector<Tensor> batch_outputs =
          network_->forward_all(data::take(xs, {}, begin, std::min(n, begin + batch_size)).xs);
      if (batch_outputs.size() != outputs.size()) {
        throw error("predict: the network returned {} outputs, expected {}", batch_outputs.size(),
                    outputs.size());
      }
      for (size_t k = 0; k < outputs.size(); ++k) outputs[k].push_back(batch_outputs[k]);
    }
  } catch (...) {
    network_->train(was_training);
    throw;
  }
  network_->train(was_training);
  std::vector<Tensor> out;
  out.reserve(outputs.size());
  for (const std::vector<Tensor>& pieces : outputs) out.push_back(cat(pieces, 0));
  return out;
}

}  // namespace nabla::train
