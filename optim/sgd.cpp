// SGD's update (see optim/sgd.h for the formulas).
#include "optim/sgd.h"

#include <cmath>

#include "optim/fused.h"

namespace nabla::optim {

namespace {
constexpr size_t kMomentumBuffer = 0;
}  // namespace

SGD::SGD(std::vector<Tensor> params, const SgdOptions& options)
    : Optimizer("SGD", std::move(params), options.learning_rate, {"momentum_buffer"}),
      options_(options) {
  check(std::isfinite(options.momentum) && options.momentum >= 0.0, "momentum", "finite and >= 0",
        options.momentum);
  check(options.dampening >= 0.0 && options.dampening <= 1.0, "dampening", "in [0, 1]",
        options.dampening);
  check(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0, "weight_decay",
        "finite and >= 0", options.weight_decay);
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0)) {
    throw error(
        "SGD: nesterov requires momentum > 0 and dampening 0, got momentum {} and "
        "dampening {}",
        options.momentum, options.dampening);
  }
}

void SGD::step() {
  SgdOptions o = options_;
  o.learning_rate = learning_rate();  // a schedule may have changed it
  for_each_gradient([&](size_t index, Tensor& p, const Tensor& grad) {
    bool first_step = false;
    Tensor no_buffer;
    Tensor& buf = o.momentum != 0.0 ? slot(index, kMomentumBuffer) : no_buffer;
    if (o.momentum != 0.0 && !buf.defined()) {
      buf = Tensor::empty(p.shape(), p.dtype());
      first_step = true;
    }
    fused::sgd({o, first_step}, p, grad, buf);
  });
}

}  // namespace nabla::optim
