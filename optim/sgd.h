// SGD with momentum, dampening, Nesterov momentum and L2 weight decay, with PyTorch's semantics.
#pragma once

#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace nabla::optim {

struct SgdOptions {
  double learning_rate = 0.01;  // Keras' default (PyTorch has none)
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

// torch.optim.SGD:
//   g = grad + weight_decay * p
//   buf = g at a parameter's first update, then buf = momentum * buf + (1 - dampening) * g
//   d = nesterov ? g + momentum * buf : buf          (d = g without momentum)
//   p -= lr * d
// NOTE: Keras' SGD keeps v = momentum * v - lr * g instead; with a constant learning rate and no
// dampening the two give the same trajectory, they differ once a schedule changes lr.
class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, const SgdOptions& options = {});
  void step() override;
  [[nodiscard]] const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
};

}  // namespace nabla::optim
