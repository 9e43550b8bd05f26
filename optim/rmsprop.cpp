// RMSprop's update (see optim/rmsprop.h for the formulas).
#include "optim/rmsprop.h"

#include <cmath>

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
  RmspropOptions o = options_;
  o.learning_rate = learning_rate();  // a schedule may have changed it
  for_each_gradient([&](size_t index, Tensor& p, const Tensor& grad) {
    const Tensor no_state;
    fused::rmsprop(o, p, grad, slot_or_fill(index, kVelocity),
                   o.centered ? slot_or_fill(index, kAverageGradient) : no_state,
                   o.momentum > 0.0 ? slot_or_fill(index, kMomentum) : no_state);
  });
}

}  // namespace nabla::optim
