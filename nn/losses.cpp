// Losses built from public ops; the stable forms (log_softmax, softplus, clipping) keep extreme
// logits and probabilities of exactly 0 or 1 finite.
#include "nn/losses.h"

#include <vector>

#include "autograd/ops.h"

namespace nabla::nn {
namespace {

void check_prediction(const char* who, const Tensor& y_pred) {
  if (!y_pred.defined()) throw error("{}: y_pred is undefined", who);
  if (!y_pred.is_floating_point()) {
    throw error("{}: y_pred must be float32 or float64, got {}", who, dtype_name(y_pred.dtype()));
  }
}

// Targets of y_pred's shape, in y_pred's dtype (one-hot targets may come as int64).
Tensor matching_targets(const char* who, const Tensor& y_pred, const Tensor& y_true) {
  check_prediction(who, y_pred);
  if (!y_true.defined()) throw error("{}: y_true is undefined", who);
  if (y_pred.shape() != y_true.shape()) {
    throw error("{}: y_pred of shape {} and y_true of shape {} differ (reshape one of them)", who,
                shape_str(y_pred.shape()), shape_str(y_true.shape()));
  }
  return y_true.dtype() == y_pred.dtype() ? y_true : to(y_true, y_pred.dtype());
}

Tensor clipped(const Tensor& p) { return clamp(p, kEpsilon, 1.0 - kEpsilon); }

// y_pred needs a batch dim for a per-sample loss (and a class dim beside it when `classes`).
void check_batch_dim(const char* who, const Tensor& y_pred, bool classes) {
  const int64_t needed = classes ? 2 : 1;
  if (y_pred.defined() && y_pred.dim() < needed) {
    throw error("{}: y_pred of shape {} needs a batch dim{} for a per-sample loss", who,
                shape_str(y_pred.shape()), classes ? " and a class dim" : "");
  }
}

// [N, ...] -> [N]: the mean over every dim but the batch dim ([N] stays as it is).
Tensor per_sample_mean(const Tensor& values) {
  if (values.dim() <= 1) return values;
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < values.dim(); ++d) dims.push_back(d);
  return mean(values, dims);
}

}  // namespace

Tensor mean_squared_error(const Tensor& y_pred, const Tensor& y_true) {
  const Tensor target = matching_targets("mean_squared_error", y_pred, y_true);
  return mean(square(y_pred - target));
}

Tensor mean_absolute_error(const Tensor& y_pred, const Tensor& y_true) {
  const Tensor target = matching_targets("mean_absolute_error", y_pred, y_true);
  return mean(abs(y_pred - target));
}

Tensor categorical_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits,
                                int64_t axis) {
  const Tensor target = matching_targets("categorical_crossentropy", y_pred, y_true);
  if (y_pred.dim() == 0 || axis < -y_pred.dim() || axis >= y_pred.dim()) {
    throw error("categorical_crossentropy: axis {} is out of range for y_pred of shape {}", axis,
                shape_str(y_pred.shape()));
  }
  Tensor log_p;
  if (from_logits) {
    log_p = log_softmax(y_pred, axis);
  } else {
    log_p = log(clipped(y_pred / sum(y_pred, {axis}, /*keepdim=*/true)));
  }
  return mean(-sum(target * log_p, {axis}));
}

namespace {

// log p[label] for every label: shape labels.shape (+ [1]); checks the inputs.
Tensor sparse_log_likelihoods(const char* who, const Tensor& y_pred, const Tensor& labels,
                              bool from_logits) {
  check_prediction(who, y_pred);
  if (!labels.defined()) throw error("{}: labels are undefined", who);
  if (labels.dtype() != kInt64) {
    throw error("{}: labels must be int64 class indices, got {}", who, dtype_name(labels.dtype()));
  }
  if (y_pred.dim() < 1) {
    throw error("{}: y_pred of shape {} has no class dim", who, shape_str(y_pred.shape()));
  }
  const Shape& pred_shape = y_pred.shape();
  const Shape outer(pred_shape.begin(), pred_shape.end() - 1);
  Shape outer_with_one = outer;
  outer_with_one.push_back(1);
  if (labels.shape() != outer && labels.shape() != outer_with_one) {
    throw error("{}: labels of shape {} do not match y_pred of shape {} (expected {} or {})", who,
                shape_str(labels.shape()), shape_str(pred_shape), shape_str(outer),
                shape_str(outer_with_one));
  }
  const int64_t classes = pred_shape.back();
  for (const int64_t label : labels.to_vector<int64_t>()) {
    if (label < 0 || label >= classes) {
      throw error("{}: label {} is out of range for {} classes", who, label, classes);
    }
  }
  const Tensor log_p = from_logits ? log_softmax(y_pred, -1)
                                   : log(clipped(y_pred / sum(y_pred, {-1}, /*keepdim=*/true)));
  return gather(log_p, -1, labels.reshape(outer_with_one));
}

}  // namespace

Tensor sparse_categorical_crossentropy(const Tensor& y_pred, const Tensor& labels,
                                       bool from_logits) {
  return -mean(
      sparse_log_likelihoods("sparse_categorical_crossentropy", y_pred, labels, from_logits));
}

Tensor binary_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits) {
  const Tensor z = matching_targets("binary_crossentropy", y_pred, y_true);
  if (from_logits) return mean(softplus(y_pred) - y_pred * z);
  const Tensor p = clipped(y_pred);
  return mean(-(z * log(p) + (1.0 - z) * log(1.0 - p)));
}

Tensor huber(const Tensor& y_pred, const Tensor& y_true, double delta) {
  const Tensor target = matching_targets("huber", y_pred, y_true);
  if (!(delta > 0.0)) throw error("huber: delta must be positive, got {}", delta);
  // With q = min(|e|, delta): 0.5 q^2 + delta (|e| - q) is both branches in one expression.
  const Tensor a = abs(y_pred - target);
  const Tensor q = clamp(a, std::nullopt, delta);
  return mean(square(q) * 0.5 + (a - q) * delta);
}

Tensor kl_divergence(const Tensor& y_pred, const Tensor& y_true) {
  const Tensor target = matching_targets("kl_divergence", y_pred, y_true);
  if (y_pred.dim() == 0) {
    throw error("kl_divergence: y_pred of shape {} has no class dim", shape_str(y_pred.shape()));
  }
  const Tensor t = clamp(target, kEpsilon, 1.0);
  const Tensor p = clamp(y_pred, kEpsilon, 1.0);
  return mean(sum(t * log(t / p), {-1}));
}

namespace {

// Hinge targets in {-1, 1}: Keras maps all-0/1 labels to -1/1.
Tensor signed_targets(const char* who, const Tensor& y_pred, const Tensor& y_true) {
  const Tensor target = matching_targets(who, y_pred, y_true);
  bool binary = true;
  for (const double v : target.to_vector<double>()) binary = binary && (v == 0.0 || v == 1.0);
  return binary ? target.detach() * 2.0 - 1.0 : target;
}

}  // namespace

Tensor hinge(const Tensor& y_pred, const Tensor& y_true) {
  const Tensor t = signed_targets("hinge", y_pred, y_true);
  return mean(relu(1.0 - t * y_pred));
}

Tensor squared_hinge(const Tensor& y_pred, const Tensor& y_true) {
  const Tensor t = signed_targets("squared_hinge", y_pred, y_true);
  return mean(square(relu(1.0 - t * y_pred)));
}

// ---- per sample ----

Tensor mean_squared_error_per_sample(const Tensor& y_pred, const Tensor& y_true) {
  const char* who = "mean_squared_error_per_sample";
  const Tensor target = matching_targets(who, y_pred, y_true);
  check_batch_dim(who, y_pred, false);
  return per_sample_mean(square(y_pred - target));
}

Tensor mean_absolute_error_per_sample(const Tensor& y_pred, const Tensor& y_true) {
  const char* who = "mean_absolute_error_per_sample";
  const Tensor target = matching_targets(who, y_pred, y_true);
  check_batch_dim(who, y_pred, false);
  return per_sample_mean(abs(y_pred - target));
}

Tensor categorical_crossentropy_per_sample(const Tensor& y_pred, const Tensor& y_true,
                                           bool from_logits) {
  const char* who = "categorical_crossentropy_per_sample";
  const Tensor target = matching_targets(who, y_pred, y_true);
  check_batch_dim(who, y_pred, true);
  const Tensor log_p = from_logits ? log_softmax(y_pred, -1)
                                   : log(clipped(y_pred / sum(y_pred, {-1}, /*keepdim=*/true)));
  return per_sample_mean(-sum(target * log_p, {-1}));
}

Tensor sparse_categorical_crossentropy_per_sample(const Tensor& y_pred, const Tensor& labels,
                                                  bool from_logits) {
  const char* who = "sparse_categorical_crossentropy_per_sample";
  check_batch_dim(who, y_pred, true);
  return per_sample_mean(-sparse_log_likelihoods(who, y_pred, labels, from_logits));
}

Tensor binary_crossentropy_per_sample(const Tensor& y_pred, const Tensor& y_true,
                                      bool from_logits) {
  const char* who = "binary_crossentropy_per_sample";
  const Tensor z = matching_targets(who, y_pred, y_true);
  check_batch_dim(who, y_pred, false);
  if (from_logits) return per_sample_mean(softplus(y_pred) - y_pred * z);
  const Tensor p = clipped(y_pred);
  return per_sample_mean(-(z * log(p) + (1.0 - z) * log(1.0 - p)));
}

Tensor huber_per_sample(const Tensor& y_pred, const Tensor& y_true, double delta) {
  const char* who = "huber_per_sample";
  const Tensor target = matching_targets(who, y_pred, y_true);
  check_batch_dim(who, y_pred, false);
  if (!(delta > 0.0)) throw error("{}: delta must be positive, got {}", who, delta);
  const Tensor a = abs(y_pred - target);
  const Tensor q = clamp(a, std::nullopt, delta);
  return per_sample_mean(square(q) * 0.5 + (a - q) * delta);
}

Tensor kl_divergence_per_sample(const Tensor& y_pred, const Tensor& y_true) {
  const char* who = "kl_divergence_per_sample";
  const Tensor target = matching_targets(who, y_pred, y_true);
  check_batch_dim(who, y_pred, true);
  const Tensor t = clamp(target, kEpsilon, 1.0);
  const Tensor p = clamp(y_pred, kEpsilon, 1.0);
  return per_sample_mean(sum(t * log(t / p), {-1}));
}

Tensor hinge_per_sample(const Tensor& y_pred, const Tensor& y_true) {
  const char* who = "hinge_per_sample";
  check_batch_dim(who, y_pred, false);
  const Tensor t = signed_targets(who, y_pred, y_true);
  return per_sample_mean(relu(1.0 - t * y_pred));
}

Tensor squared_hinge_per_sample(const Tensor& y_pred, const Tensor& y_true) {
  const char* who = "squared_hinge_per_sample";
  check_batch_dim(who, y_pred, false);
  const Tensor t = signed_targets(who, y_pred, y_true);
  return per_sample_mean(square(relu(1.0 - t * y_pred)));
}

}  // namespace nabla::nn
