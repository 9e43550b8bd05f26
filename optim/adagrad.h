// Adagrad with Keras' defaults and update form (initial accumulator 0.1, epsilon inside the root).
#pragma once

#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace nabla::optim {

struct AdagradOptions {
  double learning_rate = 1e-3;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
  double weight_decay = 0.0;  // L2, added to the gradient
};

// keras.optimizers.Adagrad:
//   g = grad + weight_decay * p
//   acc += g^2                          (acc starts at initial_accumulator_value)
//   p -= lr * g / sqrt(acc + eps)
// NOTE: Keras' defaults and form, like RMSprop here. PyTorch's Adagrad uses lr 1e-2, accumulator
// 0, eps 1e-10 outside the root (sqrt(acc) + eps) and an lr_decay; with eps = 0 and the same
// accumulator start the updates coincide. The positive initial accumulator keeps the first steps
// finite without relying on eps (with acc 0 the first step is lr * sign(g) whatever |g| is).
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});
  void step() override;
  [[nodiscard]] const AdagradOptions& options() const { return options_; }

 private:
  AdagradOptions options_;
};

}  // namespace nabla::optim
