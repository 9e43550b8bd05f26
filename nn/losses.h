// Losses as functions and as small named objects, each returning the mean over the batch (a 0-d
// tensor), and each also per sample (for sample and class weights). Arguments are
// (y_pred, y_true), PyTorch's order (Keras passes y_true first).
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace nabla::nn {

// Keras's backend epsilon: probabilities are clipped to [kEpsilon, 1 - kEpsilon] before the log.
constexpr double kEpsilon = 1e-7;

// mean((y_pred - y_true)^2) over every element; shapes must match exactly (a [N, 1] prediction
// against [N] targets would otherwise broadcast to [N, N]).
Tensor mean_squared_error(const Tensor& y_pred, const Tensor& y_true);
// mean(|y_pred - y_true|) over every element.
Tensor mean_absolute_error(const Tensor& y_pred, const Tensor& y_true);

// -sum(y_true * log p) over `axis`, averaged over the other dims. With probabilities, y_pred is
// first renormalized to sum to 1 over `axis` and clipped to [eps, 1 - eps] (as Keras does); with
// from_logits, log p = log_softmax(y_pred), stable for any logits. y_true has y_pred's shape.
Tensor categorical_crossentropy(const Tensor& y_pred, const Tensor& y_true,
                                bool from_logits = false, int64_t axis = -1);

// Cross-entropy against int64 class indices: y_pred [..., C] (probabilities or logits), labels
// [...] (or [..., 1]) with values in [0, C). The mean of -log p[label].
Tensor sparse_categorical_crossentropy(const Tensor& y_pred, const Tensor& labels,
                                       bool from_logits = false);

// -(z log p + (1 - z) log(1 - p)) averaged over every element, p clipped to [eps, 1 - eps]. With
// from_logits it is computed as softplus(x) - x z = max(x, 0) - x z + log1p(exp(-|x|)), which
// neither overflows nor loses the gradient sigmoid(x) - z at any x.
Tensor binary_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits = false);

// Huber: 0.5 e^2 where |e| <= delta, delta * (|e| - delta / 2) elsewhere, e = y_pred - y_true;
// the mean over every element (Keras's Huber, PyTorch's huber_loss). Shapes must match.
Tensor huber(const Tensor& y_pred, const Tensor& y_true, double delta = 1.0);

// Kullback-Leibler divergence sum(t * log(t / p)) over the last axis, averaged over the other dims;
// both distributions are clipped to [eps, 1] first, as Keras does (so zeros in y_true add nothing).
Tensor kl_divergence(const Tensor& y_pred, const Tensor& y_true);

// mean(max(1 - t * y_pred, 0)) with t in {-1, 1}; targets that are all 0 or 1 are mapped to -1/1
// first (as Keras does). Shapes must match.
Tensor hinge(const Tensor& y_pred, const Tensor& y_true);
// mean(max(1 - t * y_pred, 0)^2), targets as for hinge.
Tensor squared_hinge(const Tensor& y_pred, const Tensor& y_true);

// The same losses per sample, as Keras computes them before weighting and reducing: shape [N] for
// y_pred [N, ...], the mean over every dim but the first of what the losses above average (the
// cross-entropies and kl_divergence first sum over the class axis), so the mean of the result is
// the loss above up to rounding. Keras's SUM_OVER_BATCH_SIZE with weights w is
// sum(w * per_sample) / N. Inputs are checked as above; y_pred needs a batch dim (and a class
// dim for the cross-entropies and kl_divergence).
Tensor mean_squared_error_per_sample(const Tensor& y_pred, const Tensor& y_true);
Tensor mean_absolute_error_per_sample(const Tensor& y_pred, const Tensor& y_true);
Tensor categorical_crossentropy_per_sample(const Tensor& y_pred, const Tensor& y_true,
                                           bool from_logits = false);
Tensor sparse_categorical_crossentropy_per_sample(const Tensor& y_pred, const Tensor& labels,
                                                  bool from_logits = false);
Tensor binary_crossentropy_per_sample(const Tensor& y_pred, const Tensor& y_true,
                                      bool from_logits = false);
Tensor huber_per_sample(const Tensor& y_pred, const Tensor& y_true, double delta = 1.0);
Tensor kl_divergence_per_sample(const Tensor& y_pred, const Tensor& y_true);
Tensor hinge_per_sample(const Tensor& y_pred, const Tensor& y_true);
Tensor squared_hinge_per_sample(const Tensor& y_pred, const Tensor& y_true);

}  // namespace nabla::nn
