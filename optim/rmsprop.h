// RMSprop with Keras' defaults and update form (epsilon inside the square root), optionally
// centered and with momentum.
#pragma once

#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace nabla::optim {

struct RmspropOptions {
  double learning_rate = 1e-3;
  double rho = 0.9;  // decay of the running mean of squared gradients (PyTorch's alpha)
  double epsilon = 1e-7;
  double momentum = 0.0;
  bool centered = false;
  double weight_decay = 0.0;  // L2, added to the gradient
};

// keras.optimizers.RMSprop:
//   g = grad + weight_decay * p
//   v = rho * v + (1 - rho) * g^2                         (v starts at 0)
//   centered: a = rho * a + (1 - rho) * g; den = v - a^2 + eps, else den = v + eps
//   inc = lr * g / sqrt(den)
//   momentum > 0: b = momentum * b + inc; p -= b, else p -= inc
// NOTE: epsilon sits inside the square root, as in Keras and TensorFlow's ApplyRMSProp; PyTorch
// divides by sqrt(v) + eps instead (and defaults to eps 1e-8, alpha 0.99, lr 1e-2). Keras'
// eps = 1e-7 inside the root floors the denominator at about 3e-4, so the Keras default only keeps
// its meaning in the Keras form. With eps = 0 the two coincide; with momentum they also coincide
// while lr is constant (PyTorch's buffer holds g / den and is multiplied by lr afterwards, Keras'
// holds lr-scaled increments).
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RmspropOptions& options = {});
  void step() override;
  [[nodiscard]] const RmspropOptions& options() const { return options_; }

 private:
  RmspropOptions options_;
};

}  // namespace nabla::optim
