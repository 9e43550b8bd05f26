// Adam's and AdamW's update (see optim/adam.h for the formulas).
#include "optim/adam.h"

#include <cmath>

#include "optim/fused.h"

namespace nabla::optim {

namespace {
constexpr size_t kFirstMoment = 0;
constexpr size_t kSecondMoment = 1;
constexpr size_t kMaxSecondMoment = 2;

AdamOptions adam_options(const AdamWOptions& w) {
  return AdamOptions{.learning_rate = w.learning_rate,
                     .beta1 = w.beta1,
                     .beta2 = w.beta2,
                     .epsilon = w.epsilon,
                     .amsgrad = w.amsgrad,
                     .weight_decay = w.weight_decay};
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("Adam", std::move(params), options, /*decoupled=*/false) {}

Adam::Adam(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(name), std::move(params), options.learning_rate, {"m", "v", "v_max"}),
      options_(options),
      decoupled_(decoupled) {
  check(options.beta1 >= 0.0 && options.beta1 < 1.0, "beta1", "in [0, 1)", options.beta1);
  check(options.beta2 >= 0.0 && options.beta2 < 1.0, "beta2", "in [0, 1)", options.beta2);
  check(std::isfinite(options.epsilon) && options.epsilon >= 0.0, "epsilon", "finite and >= 0",
        options.epsilon);
  check(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0, "weight_decay",
        "finite and >= 0", options.weight_decay);
}

void Adam::step() {
  AdamOptions o = options_;
  o.learning_rate = learning_rate();  // a schedule may have changed it
  for_each_gradient([&](size_t index, Tensor& p, const Tensor& grad) {
    const auto t = static_cast<double>(parameter_steps(index));
    const Tensor no_state;
    fused::adam({o, decoupled_, /*bias_correction1=*/1.0 - std::pow(o.beta1, t),
                 /*bias_correction2=*/1.0 - std::pow(o.beta2, t)},
                p, grad, slot_or_fill(index, kFirstMoment), slot_or_fill(index, kSecondMoment),
                o.amsgrad ? slot_or_fill(index, kMaxSecondMoment) : no_state);
  });
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam("AdamW", std::move(params), adam_options(options), /*decoupled=*/true) {}

}  // namespace nabla::optim
