// Losses and metrics by their Keras names, resolved to the functions in nn/.
#include <cmath>

#include "nn/losses.h"
#include "nn/metrics.h"
#include "tensor/kernels/kernels.h"
#include "train/model.h"

namespace nabla::train {

Loss loss_by_name(const std::string& name, bool from_logits) {
  if (name == "categorical_crossentropy") {
    return {name,
            [from_logits](const Tensor& p, const Tensor& t) {
              return nn::categorical_crossentropy(p, t, from_logits);
            },
            [from_logits](const Tensor& p, const Tensor& t) {
              return nn::categorical_crossentropy_per_sample(p, t, from_logits);
            }};
  }
  if (name == "sparse_categorical_crossentropy") {
    return {name,
            [from_logits](const Tensor& p, const Tensor& t) {
              return nn::sparse_categorical_crossentropy(p, t, from_logits);
            },
            [from_logits](const Tensor& p, const Tensor& t) {
              return nn::sparse_categorical_crossentropy_per_sample(p, t, from_logits);
            }};
  }
  if (name == "binary_crossentropy") {
    return {name,
            [from_logits](const Tensor& p, const Tensor& t) {
              return nn::binary_crossentropy(p, t, from_logits);
            },
            [from_logits](const Tensor& p, const Tensor& t) {
              return nn::binary_crossentropy_per_sample(p, t, from_logits);
            }};
  }
  // The losses without options: the mean and the per-sample function.
  const auto plain = [&name](Tensor (*mean_fn)(const Tensor&, const Tensor&),
                             Tensor (*per_sample_fn)(const Tensor&, const Tensor&)) {
    return Loss{name, mean_fn, per_sample_fn};
  };
  if (name == "mean_squared_error" || name == "mse") {
    return plain(nn::mean_squared_error, nn::mean_squared_error_per_sample);
  }
  if (name == "mean_absolute_error" || name == "mae") {
    return plain(nn::mean_absolute_error, nn::mean_absolute_error_per_sample);
  }
  if (name == "huber" || name == "huber_loss") {
    return {name, [](const Tensor& p, const Tensor& t) { return nn::huber(p, t); },
            [](const Tensor& p, const Tensor& t) { return nn::huber_per_sample(p, t); }};
  }
  if (name == "kl_divergence" || name == "kld" || name == "kullback_leibler_divergence") {
    return plain(nn::kl_divergence, nn::kl_divergence_per_sample);
  }
  if (name == "hinge") return plain(nn::hinge, nn::hinge_per_sample);
  if (name == "squared_hinge") return plain(nn::squared_hinge, nn::squared_hinge_per_sample);
  throw error(
      "loss_by_name: unknown loss '{}' (known: categorical_crossentropy, "
      "sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error, mse, "
      "mean_absolute_error, mae, huber, kl_divergence, kld, hinge, squared_hinge)",
      name);
}

Metric metric_by_name(const std::string& name) {
  if (name == "accuracy" || name == "acc") {
    return {"accuracy", [](const Tensor& p, const Tensor& t) { return nn::accuracy(p, t); }};
  }
  if (name == "categorical_accuracy") {
    return {name, [](const Tensor& p, const Tensor& t) { return nn::categorical_accuracy(p, t); }};
  }
  if (name == "sparse_categorical_accuracy") {
    return {name,
            [](const Tensor& p, const Tensor& t) { return nn::sparse_categorical_accuracy(p, t); }};
  }
  if (name == "binary_accuracy") {
    return {name, [](const Tensor& p, const Tensor& t) { return nn::binary_accuracy(p, t); }};
  }
  if (name == "mse" || name == "mean_squared_error") {
    return {name,
            [](const Tensor& p, const Tensor& t) { return nn::mean_squared_error(p, t).item(); }};
  }
  if (name == "mae" || name == "mean_absolute_error") {
    return {name,
            [](const Tensor& p, const Tensor& t) { return nn::mean_absolute_error(p, t).item(); }};
  }
  // Over the epoch, as Keras's stateful Precision, Recall and AUC (see Metric::over_epoch); the
  // AUC is the exact ROC area of the epoch's samples (Keras interpolates over 200 thresholds).
  if (name == "precision") {
    return {name, [](const Tensor& p, const Tensor& t) { return nn::precision(p, t); }, true};
  }
  if (name == "recall") {
    return {name, [](const Tensor& p, const Tensor& t) { return nn::recall(p, t); }, true};
  }
  if (name == "auc") {
    return {name, [](const Tensor& p, const Tensor& t) { return nn::auc(p, t); }, true};
  }
  if (name == "top_k_categorical_accuracy") {
    return {name,
            [](const Tensor& p, const Tensor& t) { return nn::top_k_categorical_accuracy(p, t); }};
  }
  if (name == "sparse_top_k_categorical_accuracy") {
    return {name, [](const Tensor& p, const Tensor& t) {
              return nn::sparse_top_k_categorical_accuracy(p, t);
            }};
  }
  throw error(
      "metric_by_name: unknown metric '{}' (known: accuracy, categorical_accuracy, "
      "sparse_categorical_accuracy, binary_accuracy, mse, mae, precision, recall, auc, "
      "top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)",
      name);
}

}  // namespace nabla::train
