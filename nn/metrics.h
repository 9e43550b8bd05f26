// Classification metrics (Keras's accuracy variants) and the confusion matrix. Metrics are
// plain numbers: they record no gradients.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace nabla::nn {

// Fraction of rows whose argmax over the last axis matches the argmax of the one-hot (or soft)
// targets; y_pred and y_true have the same shape [..., C].
double categorical_accuracy(const Tensor& y_pred, const Tensor& y_true);
// Fraction of rows whose argmax over the last axis equals the int64 label; labels are [...] or
// [..., 1] for y_pred [..., C].
double sparse_categorical_accuracy(const Tensor& y_pred, const Tensor& labels);
// Fraction of elements with (y_pred > threshold) == (y_true > 0.5); shapes must match.
double binary_accuracy(const Tensor& y_pred, const Tensor& y_true, double threshold = 0.5);
// Keras's "accuracy": binary when y_pred's last dim is 1 (or y_pred is 1-D), else sparse when
// y_true is int64 with one dim fewer (or a trailing 1), else categorical.
double accuracy(const Tensor& y_pred, const Tensor& y_true);

// counts[t][p] = number of i with true_labels[i] == t and pred_labels[i] == p: an int64 [C, C]
// tensor, rows indexed by the true class. Labels are int64 of equal shape with values in [0, C).
Tensor confusion_matrix(const Tensor& true_labels, const Tensor& pred_labels, int64_t num_classes);

// Keras's Precision and Recall on one batch: an element is predicted positive when
// y_pred > threshold and is positive when y_true != 0. precision = TP / (TP + FP), recall =
// TP / (TP + FN); 0 when the denominator is 0 (Keras's divide_no_nan). Shapes must match.
double precision(const Tensor& y_pred, const Tensor& y_true, double threshold = 0.5);
double recall(const Tensor& y_pred, const Tensor& y_true, double threshold = 0.5);

// Fraction of rows whose target class is among the k highest scores of y_pred [..., C]; the
// target is argmax(y_true) (one-hot y_true of y_pred's shape) or an int64 label ([...] or
// [..., 1]). As TensorFlow's in_top_k, classes tied with the k-th score count as in the top k.
double top_k_categorical_accuracy(const Tensor& y_pred, const Tensor& y_true, int64_t k = 5);
double sparse_top_k_categorical_accuracy(const Tensor& y_pred, const Tensor& labels, int64_t k = 5);

// The exact area under the ROC curve of scores y_pred against binary targets (y_true != 0): the
// probability that a random positive scores above a random negative, ties counting 1/2 (the
// Mann-Whitney statistic). 0 when one class is absent (Keras's AUC gives 0 there too).
// NOTE: Keras's AUC approximates this with 200 thresholds; this is the value it converges to.
double auc(const Tensor& y_pred, const Tensor& y_true);

}  // namespace nabla::nn
