// Adam (optionally AMSGrad) and AdamW (decoupled weight decay), with Keras' default epsilon and
// the bias-corrected form of the Adam paper's Algorithm 1 (as PyTorch).
#pragma once

#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace nabla::optim {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;  // Keras' default (PyTorch's is 1e-8)
  bool amsgrad = false;
  double weight_decay = 0.0;  // L2, added to the gradient (use AdamW for decoupled decay)
};

struct AdamWOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  double weight_decay = 1e-2;  // decoupled (PyTorch's default; Keras' is 4e-3)
};

// With t the parameter's own step count (1 at its first update):
//   g = grad + weight_decay * p                           (Adam; AdamW: p *= 1 - lr * weight_decay)
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2     (m, v start at 0)
//   amsgrad: v_max = max(v_max, v) and v_max replaces v below
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// NOTE: eps is added to the bias-corrected sqrt(v) (the paper's Algorithm 1, PyTorch). Keras adds
// it to the uncorrected sqrt(v) and folds both corrections into the step size
// (lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)), which amounts to our form with
// eps / sqrt(1 - beta2^t): at the first steps Keras' eps acts about 30 times larger. We keep eps
// meaning the same thing at every step; the trajectories agree to within eps-sized terms.
// NOTE: the step count is per parameter (PyTorch), not the optimizer's iterations (Keras), so a
// parameter that first receives a gradient late still gets the full bias correction.
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  void step() override;
  [[nodiscard]] const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_;  // weight_decay is AdamW's decoupled decay rather than L2
};

// Loshchilov & Hutter's AdamW: the decay shrinks the weights directly, scaled by the learning
// rate (as PyTorch and Keras do), so it is not rescaled by Adam's per-coordinate step sizes.
// options() reports the AdamWOptions as AdamOptions; there weight_decay is the decoupled rate.
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
};

}  // namespace nabla::optim
