// Accuracy variants and the confusion matrix, computed on argmax indices without recording.
#include "nn/metrics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/ops.h"

namespace nabla::nn {
namespace {

void check_floating(const char* who, const char* what, const Tensor& t) {
  if (!t.defined()) throw error("{}: {} is undefined", who, what);
  if (!t.is_floating_point()) {
    throw error("{}: {} must be float32 or float64, got {}", who, what, dtype_name(t.dtype()));
  }
}

// A floating y_pred and a y_true of its shape.
void check_same_shape(const char* who, const Tensor& y_pred, const Tensor& y_true) {
  check_floating(who, "y_pred", y_pred);
  if (!y_true.defined()) throw error("{}: y_true is undefined", who);
  if (y_pred.shape() != y_true.shape()) {
    throw error("{}: y_pred of shape {} and y_true of shape {} differ", who,
                shape_str(y_pred.shape()), shape_str(y_true.shape()));
  }
}

void check_class_dim(const char* who, const Tensor& y_pred) {
  if (y_pred.dim() < 1 || y_pred.shape().back() < 1) {
    throw error("{}: y_pred of shape {} has no class dim", who, shape_str(y_pred.shape()));
  }
}

double fraction_equal(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.empty()) return 0.0;
  int64_t hits = 0;
  for (size_t i = 0; i < a.size(); ++i) hits += a[i] == b[i] ? 1 : 0;
  return static_cast<double>(hits) / static_cast<double>(a.size());
}

// Scores [..., classes] against int64 labels of shape [...] or [..., 1].
void check_sparse_inputs(const char* who, const Tensor& y_pred, const Tensor& labels) {
  check_floating(who, "y_pred", y_pred);
  check_class_dim(who, y_pred);
  if (!labels.defined() || labels.dtype() != kInt64) {
    throw error("{}: labels must be int64 class indices", who);
  }
  const Shape outer(y_pred.shape().begin(), y_pred.shape().end() - 1);
  Shape outer_with_one = outer;
  outer_with_one.push_back(1);
  if (labels.shape() != outer && labels.shape() != outer_with_one) {
    throw error("{}: labels of shape {} do not match y_pred of shape {}", who,
                shape_str(labels.shape()), shape_str(y_pred.shape()));
  }
}

}  // namespace

double categorical_accuracy(const Tensor& y_pred, const Tensor& y_true) {
  const char* who = "categorical_accuracy";
  check_floating(who, "y_pred", y_pred);
  if (!y_true.defined()) throw error("{}: y_true is undefined", who);
  check_class_dim(who, y_pred);
  if (y_pred.shape() != y_true.shape()) {
    throw error("{}: y_pred of shape {} and y_true of shape {} differ", who,
                shape_str(y_pred.shape()), shape_str(y_true.shape()));
  }
  const NoGradGuard no_grad;
  return fraction_equal(argmax(y_pred, -1).to_vector<int64_t>(),
                        argmax(y_true, -1).to_vector<int64_t>());
}

double sparse_categorical_accuracy(const Tensor& y_pred, const Tensor& labels) {
  const char* who = "sparse_categorical_accuracy";
  check_sparse_inputs(who, y_pred, labels);
  const NoGradGuard no_grad;
  return fraction_equal(argmax(y_pred, -1).to_vector<int64_t>(), labels.to_vector<int64_t>());
}

double binary_accuracy(const Tensor& y_pred, const Tensor& y_true, double threshold) {
  check_same_shape("binary_accuracy", y_pred, y_true);
  const std::vector<double> pred = y_pred.to_vector<double>();
  const std::vector<double> truth = y_true.to_vector<double>();
  std::vector<int64_t> a(pred.size());
  std::vector<int64_t> b(truth.size());
  for (size_t i = 0; i < pred.size(); ++i) {
    a[i] = pred[i] > threshold ? 1 : 0;
    b[i] = truth[i] > 0.5 ? 1 : 0;
  }
  return fraction_equal(a, b);
}

double accuracy(const Tensor& y_pred, const Tensor& y_true) {
  check_floating("accuracy", "y_pred", y_pred);
  if (!y_true.defined()) throw error("accuracy: y_true is undefined");
  if (y_pred.dim() <= 1 || y_pred.shape().back() == 1) return binary_accuracy(y_pred, y_true);
  if (y_true.dtype() == kInt64 && y_true.shape() != y_pred.shape()) {
    return sparse_categorical_accuracy(y_pred, y_true);
  }
  return categorical_accuracy(y_pred, y_true);
}

Tensor confusion_matrix(const Tensor& true_labels, const Tensor& pred_labels, int64_t num_classes) {
  const char* who = "confusion_matrix";
  if (num_classes < 1) throw error("{}: num_classes must be positive, got {}", who, num_classes);
  if (!true_labels.defined() || !pred_labels.defined() || true_labels.dtype() != kInt64 ||
      pred_labels.dtype() != kInt64) {
    throw error("{}: labels must be int64 tensors", who);
  }
  if (true_labels.shape() != pred_labels.shape()) {
    throw error("{}: true labels of shape {} and predicted labels of shape {} differ", who,
                shape_str(true_labels.shape()), shape_str(pred_labels.shape()));
  }
  const std::vector<int64_t> truth = true_labels.to_vector<int64_t>();
  const std::vector<int64_t> pred = pred_labels.to_vector<int64_t>();
  std::vector<int64_t> counts(static_cast<size_t>(num_classes * num_classes), 0);
  for (size_t i = 0; i < truth.size(); ++i) {
    for (const int64_t label : {truth[i], pred[i]}) {
      if (label < 0 || label >= num_classes) {
        throw error("{}: label {} is out of range for {} classes", who, label, num_classes);
      }
    }
    ++counts[static_cast<size_t>(truth[i] * num_classes + pred[i])];
  }
  return tensor(counts, {num_classes, num_classes});
}

namespace {

struct Binary {
  std::vector<double> scores;
  std::vector<bool> positive;
};

Binary binary_pairs(const char* who, const Tensor& y_pred, const Tensor& y_true) {
  check_same_shape(who, y_pred, y_true);
  Binary b;
  b.scores = y_pred.to_vector<double>();
  for (const double t : y_true.to_vector<double>()) b.positive.push_back(t != 0.0);
  return b;
}

double ratio(int64_t num, int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

// Fraction of rows whose target's score is beaten by fewer than k scores.
double in_top_k(const char* who, const Tensor& y_pred, const std::vector<int64_t>& targets,
                int64_t k) {
  if (k < 1) throw error("{}: k must be positive, got {}", who, k);
  const std::vector<double> scores = y_pred.to_vector<double>();
  const int64_t classes = y_pred.shape().back();
  if (targets.empty()) return 0.0;
  int64_t hits = 0;
  for (size_t row = 0; row < targets.size(); ++row) {
    const double* s = scores.data() + row * static_cast<size_t>(classes);
    const double target = s[targets[row]];
    int64_t above = 0;
    for (int64_t c = 0; c < classes; ++c) above += s[c] > target ? 1 : 0;
    hits += above < k && !std::isnan(target) ? 1 : 0;
  }
  return static_cast<double>(hits) / static_cast<double>(targets.size());
}

}  // namespace

double precision(const Tensor& y_pred, const Tensor& y_true, double threshold) {
  const Binary b = binary_pairs("precision", y_pred, y_true);
  int64_t tp = 0;
  int64_t predicted = 0;
  for (size_t i = 0; i < b.scores.size(); ++i) {
    if (b.scores[i] > threshold) {
      ++predicted;
      tp += b.positive[i] ? 1 : 0;
    }
  }
  return ratio(tp, predicted);
}

double recall(const Tensor& y_pred, const Tensor& y_true, double threshold) {
  const Binary b = binary_pairs("recall", y_pred, y_true);
  int64_t tp = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < b.scores.size(); ++i) {
    if (b.positive[i]) {
      ++positives;
      tp += b.scores[i] > threshold ? 1 : 0;
    }
  }
  return ratio(tp, positives);
}

double top_k_categorical_accuracy(const Tensor& y_pred, const Tensor& y_true, int64_t k) {
  const char* who = "top_k_categorical_accuracy";
  check_floating(who, "y_pred", y_pred);
  check_class_dim(who, y_pred);
  if (!y_true.defined() || y_pred.shape() != y_true.shape()) {
    throw error("{}: y_true must have y_pred's shape {}", who, shape_str(y_pred.shape()));
  }
  const NoGradGuard no_grad;
  return in_top_k(who, y_pred, argmax(y_true, -1).to_vector<int64_t>(), k);
}

double sparse_top_k_categorical_accuracy(const Tensor& y_pred, const Tensor& labels, int64_t k) {
  const char* who = "sparse_top_k_categorical_accuracy";
  check_sparse_inputs(who, y_pred, labels);
  const std::vector<int64_t> targets = labels.to_vector<int64_t>();
  for (const int64_t t : targets) {
    if (t < 0 || t >= y_pred.shape().back()) {
      throw error("{}: label {} is out of range for {} classes", who, t, y_pred.shape().back());
    }
  }
  return in_top_k(who, y_pred, targets, k);
}

double auc(const Tensor& y_pred, const Tensor& y_true) {
  const Binary b = binary_pairs("auc", y_pred, y_true);
  for (size_t i = 0; i < b.scores.size(); ++i) {
    if (std::isnan(b.scores[i])) throw error("auc: y_pred holds NaN at flat position {}", i);
  }
  std::vector<size_t> order(b.scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return b.scores[x] < b.scores[y]; });
  // Walk groups of equal scores upwards: each positive beats every negative below its group and
  // ties half of those within it.
  double wins = 0.0;
  int64_t negatives_below = 0;
  int64_t positives = 0;
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin;
    int64_t group_pos = 0;
    int64_t group_neg = 0;
    while (end < order.size() && b.scores[order[end]] == b.scores[order[begin]]) {
      (b.positive[order[end]] ? group_pos : group_neg) += 1;
      ++end;
    }
    wins += static_cast<double>(group_pos) *
            (static_cast<double>(negatives_below) + 0.5 * static_cast<double>(group_neg));
    negatives_below += group_neg;
    positives += group_pos;
    begin = end;
  }
  const int64_t negatives = negatives_below;
  if (positives == 0 || negatives == 0) return 0.0;
  return wins / (static_cast<double>(positives) * static_cast<double>(negatives));
}

}  // namespace nabla::nn
