// RMSprop's update (see optim/rmsprop.h for the formulas).
#include "optim/rmsprop.h"

#include <cmath>

#include "autograd/ops.h"
#include "optim/fused.h"

namespace nabla::optim {

namespace {
constexpr size_t kVelocity = 0;
constexpr size_t kAverageGradient = 1;
constexpr size_t kMomentum = 2;
}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, const RmspropOptions& options)
    : Optimizer("RMSprop", std::move(params), options.learning_rate,
                {"velocity", "average_gradient", "momentum"}),
      options_(options) {
  check(options.rho >= 0.0 && options.rho < 1.0, "rho", "in [0, 1)", options.rho);
  check(std::isfinite(options.epsilon) && options.epsilon >= 0.0, "epsilon", "finite and >= 0",
        options.epsilon);
  check(options.momentum >= 0.0 && options.momentum <= 1.0, "momentum", "in [0, 1]",
        options.momentum);
  check(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0, "weight_decay",
        "finite and >= 0", options.weight_decay);
}

void RMSprop::step() {
  const RmspropOptions& o = options_;
  const double lr = learning_rate();
  for_each_gradient([&](size_t index, Tensor& p, const Tensor& grad) {
    if (fused::can_fuse(p)) {
      const Tensor no_state;
      const Tensor& v = slot_or_fill(index, kVelocity);
      const Tensor& a = o.centered ? slot_or_fill(index, kAverageGradient) : no_state;
      const Tensor& b = o.momentum > 0.0 ? slot_or_fill(index, kMomentum) : no_state;
      fused::rmsprop({.learning_rate = lr,
                      .rho = o.rho,
                      .epsilon = o.epsilon,
                      .momentum = o.momentum,
                      .centered = o.centered,
                      .weight_decay = o.weight_decay},
                     p, fused::fusable_gradient(grad, {&p, &v, &a, &b}), v, a, b);
      return;
    }
    // A non-contiguous parameter (a view) takes the tensor ops, which compute the same roundings.
    const Tensor g = o.weight_decay != 0.0 ? grad + p * o.weight_decay : grad;
    Tensor& v = slot_or_fill(index, kVelocity);
    v.mul_(o.rho).add_(g * g, 1.0 - o.rho);
    Tensor den;
    if (o.centered) {
      Tensor& a = slot_or_fill(index, kAverageGradient);
      a.mul_(o.rho).add_(g, 1.0 - o.rho);
      den = v - a * a + o.epsilon;
    } else {
      den = v + o.epsilon;
    }
    const Tensor increment = g * lr / sqrt(den);
    if (o.momentum > 0.0) {
      Tensor& b = slot_or_fill(index, kMomentum);
      b.mul_(o.momentum).add_(increment);
      p.sub_(b);
    } else {
      p.sub_(increment);
    }
  });
}

}  // namespace nabla::optim
