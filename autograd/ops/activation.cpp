// Activation functions and their derivatives.
#include <cmath>
#include <numbers>

#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla {

using autograd::Grads;
using autograd::record;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {
Tensor positive_mask(const Tensor& a) {
  return kernels::binary(BinaryOp::Gt, a, kernels::scalar_like(a, 0.0));
}

// A plain backward with g matching `saved` in shape and dtype takes a fused one-pass kernel; a
// recorded backward (create_graph), or a g the kernels refuse (another dtype), stays a
// differentiable expression.
bool fused_backward_applies(const Tensor& g, const Tensor& saved) {
  return !autograd::is_grad_enabled() && g.dtype() == saved.dtype() && g.shape() == saved.shape() &&
         is_floating(saved.dtype());
}

// g where a > 0, else g * slope.
Tensor relu_grad(const Tensor& g, const Tensor& a, double negative_slope) {
  if (fused_backward_applies(g, a)) return kernels::relu_backward(g, a, negative_slope);
  if (negative_slope == 0.0) return g * positive_mask(a);
  return where(positive_mask(a), g, g * negative_slope);
}
}  // namespace

// d relu(a) = g * (a > 0)
Tensor relu(const Tensor& a) {
  return record("relu", kernels::unary(UnaryOp::Relu, a), {a},
                [a](const Tensor& g) -> Grads { return {relu_grad(g, a, 0.0)}; }, {a});
}

// leaky_relu(a) = a > 0 ? a : a * slope, which is relu_backward with a as its own gradient (one
// pass) but for slope 0, where that kernel gives 0 and a * 0 gives NaN at NaN and -0 below 0.
// d leaky_relu(a) = g * (a > 0 ? 1 : slope)
Tensor leaky_relu(const Tensor& a, double negative_slope) {
  Tensor value = is_floating(a.dtype()) && negative_slope != 0.0
                     ? kernels::relu_backward(a, a, negative_slope)
                     : kernels::where(positive_mask(a), a,
                                      kernels::binary(BinaryOp::Mul, a,
                                                      kernels::scalar_like(a, negative_slope)));
  return record(
      "leaky_relu", value, {a},
      [a, negative_slope](const Tensor& g) -> Grads { return {relu_grad(g, a, negative_slope)}; },
      {a});
}

// d sigmoid(a) = g * s * (1 - s)
Tensor sigmoid(const Tensor& a) {
  Tensor out = kernels::unary(UnaryOp::Sigmoid, a);
  const Tensor saved = autograd::alias_without_graph(out);
  return record("sigmoid", out, {a},
                [a, saved](const Tensor& g) -> Grads {
                  if (fused_backward_applies(g, saved)) {
                    return {kernels::activation_backward(UnaryOp::Sigmoid, g, saved)};
                  }
                  const Tensor s = autograd::is_grad_enabled() ? sigmoid(a) : saved;
                  return {g * s * (1.0 - s)};
                },
                {saved});
}

// d tanh(a) = g * (1 - t^2)
Tensor tanh(const Tensor& a) {
  Tensor out = kernels::unary(UnaryOp::Tanh, a);
  const Tensor saved = autograd::alias_without_graph(out);
  return record("tanh", out, {a},
                [a, saved](const Tensor& g) -> Grads {
                  if (fused_backward_applies(g, saved)) {
                    return {kernels::activation_backward(UnaryOp::Tanh, g, saved)};
                  }
                  const Tensor t = autograd::is_grad_enabled() ? tanh(a) : saved;
                  return {g * (1.0 - t * t)};
                },
                {saved});
}

// gelu(x) = x * Phi(x) = x/2 * (1 + erf(x/sqrt(2))), or its tanh approximation; composites, so
// their derivatives are automatic.
Tensor gelu(const Tensor& a, const std::string& approximate) {
  if (approximate == "none") return a * 0.5 * (erf(a * (1.0 / std::numbers::sqrt2)) + 1.0);
  if (approximate == "tanh") {
    const double k = std::sqrt(2.0 / std::numbers::pi);
    // tanh's argument is clamped where tanh is already exactly +-1 in float64 (|x| >= 10 gives
    // |u| > 43 > 19.1): the same values and gradients, but no x^3 overflowing to inf, whose
    // derivative would be 0 * inf = NaN for |x| > 1.8e19 in float32.
    const Tensor c = clamp(a, -10.0, 10.0);
    return a * 0.5 * (tanh((c + c * c * c * 0.044715) * k) + 1.0);
  }
  throw error(R"(gelu: approximate must be "none" or "tanh", got "{}")", approximate);
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), stable for any x; d softplus = g * sigmoid(x)
Tensor softplus(const Tensor& a) {
  Tensor value = [&] {
    const NoGradGuard no_grad;
    return relu(a) + log1p(exp(neg(abs(a))));
  }();
  return record("softplus", value, {a}, [a](const Tensor& g) -> Grads { return {g * sigmoid(a)}; },
                {a});
}

// elu(x) = x for x > 0, alpha * (exp(x) - 1) otherwise; exp sees min(x, 0) so it cannot overflow.
Tensor elu(const Tensor& a, double alpha) {
  return where(positive_mask(a), a, (exp(clamp(a, std::nullopt, 0.0)) - 1.0) * alpha);
}

}  // namespace nabla
