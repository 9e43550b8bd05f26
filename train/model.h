// train::Model: Keras-style compile/fit/evaluate/predict around any nn::Module, with an optimizer,
// a loss, metrics, callbacks and a progress bar. The hand-written loop needs none of it.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "optim/optimizer.h"
#include "train/callbacks.h"
#include "train/history.h"

namespace nabla::train {

struct Loss {
  std::string name;
  std::function<Tensor(const Tensor& y_pred, const Tensor& y_true)> fn;  // mean over the batch
  // The loss of each sample, shape [batch] (the mean over every dim but the batch dim, so its
  // mean is fn's value), which sample_weight and class_weight weigh. Optional: a Loss without it
  // cannot be weighted (fit and evaluate then throw). loss_by_name's losses all have it.
  std::function<Tensor(const Tensor& y_pred, const Tensor& y_true)> per_sample = {};
};

// A loss by its Keras name: "categorical_crossentropy", "sparse_categorical_crossentropy",
// "binary_crossentropy", "mean_squared_error"/"mse"; `from_logits` for the cross-entropies.
Loss loss_by_name(const std::string& name, bool from_logits = false);

struct Metric {
  std::string name;
  std::function<double(const Tensor& y_pred, const Tensor& y_true)> fn;  // mean over the batch
  // Keras's stateful metrics (Precision, Recall, AUC): an epoch's value is fn over all of the
  // epoch's samples at once, not the mean of its batches' values. fit and evaluate then keep the
  // epoch's predictions and targets of that output and apply fn to all of them at the end (over
  // every rank's samples when distributed); on_batch_end and the running progress bar still show
  // per-batch values. metric_by_name sets it for "precision", "recall" and "auc".
  bool over_epoch = false;
};

// "accuracy"/"acc" picks categorical, sparse or binary accuracy from the targets as Keras does;
// also "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy", "mse", "mae".
Metric metric_by_name(const std::string& name);

// FitOptions::validation_data: inputs and targets (one tensor each, or one per model input and
// output) and optional sample weights [N], as Keras's (x_val, y_val[, sample_weight_val]).
struct ValidationData {
  // NOLINTNEXTLINE(google-explicit-constructor): `.validation_data = std::pair{x, y}` as before.
  ValidationData(const std::pair<Tensor, Tensor>& xy) : xs{xy.first}, ys{xy.second} {}
  ValidationData(const Tensor& x, const Tensor& y, Tensor weights = Tensor())
      : xs{x}, ys{y}, sample_weight(std::move(weights)) {}
  ValidationData(std::vector<Tensor> inputs, std::vector<Tensor> targets, Tensor weights = Tensor())
      : xs(std::move(inputs)), ys(std::move(targets)), sample_weight(std::move(weights)) {}

  std::vector<Tensor> xs;
  std::vector<Tensor> ys;
  Tensor sample_weight;  // undefined: unweighted
};

struct FitOptions {
  int64_t epochs = 1;
  int64_t batch_size = 32;
  // The last fraction of the samples (of every x and y tensor, and of sample_weight), taken
  // before shuffling.
  double validation_split = 0.0;
  std::optional<ValidationData> validation_data;
  bool shuffle = true;
  std::vector<std::shared_ptr<Callback>> callbacks;
  int verbose = 1;               // 0 silent, 1 progress bar, 2 one line per epoch
  std::optional<uint64_t> seed;  // shuffling order; default from nabla::default_generator()
  // The epoch to start at (Keras' initial_epoch): epochs initial_epoch .. epochs - 1 run, with the
  // shuffle order and the callbacks' epoch numbers of those epochs. After load_checkpoint, pass
  // the epoch it returned: fit then also takes the checkpoint's shuffle seed (unless `seed` is
  // given) and restores the callbacks' saved state after their on_train_begin. The next fit after
  // load_checkpoint throws nabla::Error if given another initial_epoch (0 included: a forgotten
  // initial_epoch would replay the shuffle order of epochs already trained), changing nothing.
  int64_t initial_epoch = 0;
  // Keras's sample_weight: one finite, non-negative weight per sample (float32 or float64, shape
  // [N]), shuffled with its sample and split with it by validation_split. Each output's loss
  // becomes sum_i(w_i * l_i) / batch_size (Keras's SUM_OVER_BATCH_SIZE; l_i is the loss's
  // per_sample form, which a weighted Loss needs). Metrics stay unweighted (Keras's `metrics`, not
  // `weighted_metrics`).
  Tensor sample_weight = {};
  // Keras's class_weight: class index -> weight, turned into each training sample's weight from
  // its target: int64 labels [N] or [N, 1], one-hot [N, C] (the argmax), or binary [N] or [N, 1]
  // floats (rounded). A class without an entry weighs 1. Training only (validation is
  // unweighted), for a model with one output, not together with sample_weight (as Keras).
  std::map<int64_t, double> class_weight = {};
};

class Model {
 public:
  explicit Model(std::shared_ptr<nn::Module> network);

  // One loss (applied to every output of a model with several, as Keras does) and its metrics
  // (likewise computed for every output).
  void compile(std::shared_ptr<optim::Optimizer> optimizer, Loss loss,
               std::vector<Metric> metrics = {});
  void compile(std::shared_ptr<optim::Optimizer> optimizer, const std::string& loss,
               const std::vector<std::string>& metrics = {});
  // A model with several outputs, as Keras's compile(loss=[...], metrics=[[...], [...]],
  // loss_weights=[...]): one loss per output (or one for all), one list of metrics per output (or
  // one list for all, or none) and one weight per output (default 1 each). The loss fit minimizes
  // and logs as "loss" is sum_k loss_weights[k] * loss_k; with more than one output the logs also
  // hold "<output name>_loss" (unweighted) and "<output name>_<metric>", the output names being
  // network().output_names() (the output layers' names), validation's with "val_" in front.
  void compile(std::shared_ptr<optim::Optimizer> optimizer, std::vector<Loss> losses,
               std::vector<std::vector<Metric>> metrics = {},
               std::vector<double> loss_weights = {});
  void compile(std::shared_ptr<optim::Optimizer> optimizer, const std::vector<std::string>& losses,
               const std::vector<std::vector<std::string>>& metrics = {},
               std::vector<double> loss_weights = {});
  // NOTE: lets `compile(opt, {"mse", "binary_crossentropy"}, ...)` pick this form instead of
  // being ambiguous with the one-loss `const std::string&` form.
  void compile(std::shared_ptr<optim::Optimizer> optimizer,
               std::initializer_list<std::string> losses,
               const std::vector<std::vector<std::string>>& metrics = {},
               std::vector<double> loss_weights = {});

  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  // Several inputs and targets, as Keras's fit(x=[a, b], y=[c, d]): one tensor per network input
  // (network().input_count()) and per output (output_count()), every one with the same number of
  // samples; shuffling takes the same rows of each.
  History fit(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
              const FitOptions& options = {});
  // Mean loss and metrics over (x, y), in eval mode without recording a graph; with sample_weight
  // ([N], see FitOptions) the loss is weighted, the metrics are not.
  Logs evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 32, int verbose = 0,
                const Tensor& sample_weight = Tensor());
  Logs evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                int64_t batch_size = 32, int verbose = 0, const Tensor& sample_weight = Tensor());
  // The network's outputs for x, batch by batch, in eval mode (a network with one output).
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  // One tensor per output, for one tensor per input.
  std::vector<Tensor> predict(const std::vector<Tensor>& xs, int64_t batch_size = 32);
  // One optimizer step on one batch; returns its loss and metrics.
  Logs train_on_batch(const Tensor& x, const Tensor& y);
  Logs train_on_batch(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                      const Tensor& sample_weight = Tensor());

  [[nodiscard]] nn::Module& network() { return *network_; }
  [[nodiscard]] optim::Optimizer& optimizer();
  // Data parallelism (see data/replicas.h): when dist::init() has installed a job of N > 1
  // processes and this is on (the default), fit and evaluate are collectives, called on every
  // rank with the same full (x, y): fit reads 1/N of each epoch's permutation per rank (the
  // DataLoader's shard; batch_size is per rank), evaluate 1/N of the rows, and both average the
  // loss and metrics over all ranks' samples, bit-identically on every rank, so EarlyStopping
  // decides the same everywhere (on_batch_end and the bar's running values during an epoch see
  // the rank's own batches). Only rank 0 prints; ModelCheckpoint and CSVLogger write on rank 0. The
  // gradients are averaged by the optimizer (dist::DataParallel::wrap). Off: each rank trains on
  // its own, as without dist.
  void set_distributed(bool on) { distributed_ = on; }
  // True when fit and evaluate run as one job over several ranks (see above).
  [[nodiscard]] bool distributed() const;
  // The rank that prints and writes files: rank 0, or every rank when not distributed.
  [[nodiscard]] bool is_chief() const;
  // Callbacks call this to end fit after the current epoch.
  void stop_training() { stop_training_ = true; }
  [[nodiscard]] const History& history() const { return history_; }
  // Epochs completed by fit (counted from 0 across resumed runs); set before on_epoch_end.
  [[nodiscard]] int64_t epoch() const { return epochs_done_; }

  // Saves, beside the weights, everything a resumed fit needs to continue bit for bit: optimizer
  // state, epoch, shuffle seed, the default generator's and the layers' generators' states and the
  // state of the running (or last) fit's callbacks (train/checkpoint.cpp lists the layout).
  void save_checkpoint(const std::string& path) const;
  // Loads a checkpoint written by save_checkpoint into the compiled, built model and returns the
  // epoch to pass as FitOptions::initial_epoch. The file is validated completely; a failed load
  // (a corrupt file, another architecture, another optimizer type) throws nabla::Error and leaves
  // the model, optimizer and generators as they were.
  int64_t load_checkpoint(const std::string& path);

 private:
  struct Resume {
    std::string path;  // the checkpoint's, for fit's errors
    int64_t epoch = 0;
    uint64_t shuffle_seed = 0;
    std::vector<nn::NamedTensors> callbacks;  // state per callback index
    std::vector<std::string> callback_types;
  };
  void restore_callbacks(const std::vector<std::shared_ptr<Callback>>& callbacks);

  // The losses of one batch: the total that fit minimizes and each output's own.
  struct BatchLoss {
    Tensor total;
    std::vector<Tensor> per_output;
  };

  void check_compiled(std::string_view op) const;
  void check_counts(std::string_view op, const std::vector<Tensor>& xs,
                    const std::vector<Tensor>* ys) const;
  void prepare(const std::vector<Tensor>& xs);
  [[nodiscard]] bool multi_output() const { return losses_.size() > 1; }
  // "loss", then each output's loss (several outputs only), then the metrics.
  [[nodiscard]] std::vector<std::string> log_keys() const;
  // Weighted (Keras's SUM_OVER_BATCH_SIZE) when `weights` is defined.
  BatchLoss batch_loss(std::string_view op, const std::vector<Tensor>& y_pred,
                       const std::vector<Tensor>& y_true, const Tensor& weights) const;
  // Throws unless every loss has a per-sample form.
  void check_weighted(std::string_view op) const;
  Logs batch_logs(const std::vector<Tensor>& y_pred, const std::vector<Tensor>& y_true,
                  const BatchLoss& loss) const;
  // train_on_batch, also handing out the batch's (detached) predictions when asked. Checks
  // nothing: its callers (train_on_batch, and fit for its whole data) have checked the inputs and
  // sample_weight once, so fit does not re-read the weights for every batch.
  Logs train_step(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                  const Tensor& sample_weight, std::vector<Tensor>* predictions);
  // The epoch's predictions and targets of the outputs with over-epoch metrics (see Metric).
  struct EpochSamples {
    std::vector<std::vector<Tensor>> predictions;
    std::vector<std::vector<Tensor>> targets;
  };
  [[nodiscard]] bool has_over_epoch_metrics() const;
  void collect(EpochSamples& samples, const std::vector<Tensor>& y_pred,
               const std::vector<Tensor>& y_true) const;
  // Sets the over-epoch metrics' values in `logs` (collectively over the ranks when distributed).
  void over_epoch_logs(const EpochSamples& samples, bool distributed, Logs& logs) const;

  std::shared_ptr<nn::Module> network_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  std::vector<Loss> losses_;                  // one per output
  std::vector<double> loss_weights_;          // one per output
  std::vector<std::vector<Metric>> metrics_;  // one list per output
  std::vector<std::string> output_names_;
  bool stop_training_ = false;
  bool distributed_ = true;
  History history_;
  int64_t epochs_done_ = 0;
  uint64_t shuffle_seed_ = 0;
  std::vector<std::shared_ptr<Callback>> callbacks_;  // of the running or last fit
  std::optional<Resume> resume_;
};

}  // namespace nabla::train
