// Adagrad's update (see optim/adagrad.h for the formulas).
#include "optim/adagrad.h"

#include <cmath>

#include "optim/fused.h"

namespace nabla::optim {

namespace {
constexpr size_t kAccumulator = 0;
}  // namespace

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : Optimizer("Adagrad", std::move(params), options.learning_rate, {"accumulator"}),
      options_(options) {
  check(
      std::isfinite(options.initial_accumulator_value) && options.initial_accumulator_value >= 0.0,
      "initial_accumulator_value", "finite and >= 0", options.initial_accumulator_value);
  check(std::isfinite(options.epsilon) && options.epsilon >= 0.0, "epsilon", "finite and >= 0",
        options.epsilon);
  check(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0, "weight_decay",
        "finite and >= 0", options.weight_decay);
}

void Adagrad::step() {
  AdagradOptions o = options_;
  o.learning_rate = learning_rate();  // a schedule may have changed it
  for_each_gradient([&](size_t index, Tensor& p, const Tensor& grad) {
    fused::adagrad(o, p, grad, slot_or_fill(index, kAccumulator, o.initial_accumulator_value));
  });
}

}  // namespace nabla::optim
