// Arithmetic ops and their derivatives, written with the public ops so that they are themselves
// differentiable (create_graph). Broadcast dims are summed away by the engine.
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

Tensor scalar(const Tensor& like, double value) { return kernels::scalar_like(like, value); }

// A 0/1 mask that stops gradients: comparisons are constants to autograd.
Tensor mask(BinaryOp op, const Tensor& a, const Tensor& b) { return kernels::binary(op, a, b); }

}  // namespace

// d(a+b) = (g, g)
Tensor add(const Tensor& a, const Tensor& b) {
  return record("add", kernels::binary(BinaryOp::Add, a, b), {a, b}, [](const Tensor& g) -> Grads {
    return {g, g};
  });
}

// d(a-b) = (g, -g)
Tensor sub(const Tensor& a, const Tensor& b) {
  return record("sub", kernels::binary(BinaryOp::Sub, a, b), {a, b}, [](const Tensor& g) -> Grads {
    return {g, neg(g)};
  });
}

// d(a*b) = (g*b, g*a)
Tensor mul(const Tensor& a, const Tensor& b) {
  return record("mul", kernels::binary(BinaryOp::Mul, a, b), {a, b},
                [a, b](const Tensor& g) -> Grads {
                  return {g * b, g * a};
                },
                {a, b});
}

// d(a/b) = (g/b, -g*a/b^2)
Tensor div(const Tensor& a, const Tensor& b) {
  return record("div", kernels::binary(BinaryOp::Div, a, b), {a, b},
                [a, b](const Tensor& g) -> Grads {
                  return {g / b, neg(g * a / (b * b))};
                },
                {a, b});
}

// d(a^b) = (g*b*a^(b-1), g*a^b*log(a)); as in PyTorch the first is 0 where b == 0 (b*a^(b-1) is
// 0*inf at a == 0) and the second is 0 where a == 0.
Tensor pow(const Tensor& base, const Tensor& exponent) {
  Tensor out = kernels::binary(BinaryOp::Pow, base, exponent);
  const Tensor saved = autograd::alias_without_graph(out);
  return record("pow", out, {base, exponent},
                [base, exponent, saved](const Tensor& g) -> Grads {
                  const Tensor d_base =
                      where(mask(BinaryOp::Eq, exponent, scalar(exponent, 0)), zeros({}, g.dtype()),
                            g * exponent * pow(base, exponent - 1.0));
                  const Tensor safe_log =
                      log(where(mask(BinaryOp::Eq, base, scalar(base, 0)), ones_like(base), base));
                  return {d_base, g * pow(base, exponent) * safe_log};
                },
                {base, exponent, saved});
}

// d(a^e) = g*e*a^(e-1)
Tensor pow(const Tensor& base, double exponent) {
  return record("pow", kernels::binary(BinaryOp::Pow, base, scalar(base, exponent)), {base},
                [base, exponent](const Tensor& g) -> Grads {
                  if (exponent == 0.0) return {zeros_like(g)};
                  return {g * exponent * pow(base, exponent - 1.0)};
                },
                {base});
}

// d max(a,b) = g where a wins, split equally on ties.
Tensor maximum(const Tensor& a, const Tensor& b) {
  return record("maximum", kernels::binary(BinaryOp::Maximum, a, b), {a, b},
                [a, b](const Tensor& g) -> Grads {
                  const Tensor share = mask(BinaryOp::Gt, a, b) + mask(BinaryOp::Eq, a, b) * 0.5;
                  return {g * share, g * (1.0 - share)};
                },
                {a, b});
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  return record("minimum", kernels::binary(BinaryOp::Minimum, a, b), {a, b},
                [a, b](const Tensor& g) -> Grads {
                  const Tensor share = mask(BinaryOp::Lt, a, b) + mask(BinaryOp::Eq, a, b) * 0.5;
                  return {g * share, g * (1.0 - share)};
                },
                {a, b});
}

// d(-a) = -g
Tensor neg(const Tensor& a) {
  return record("neg", kernels::unary(UnaryOp::Neg, a), {a},
                [](const Tensor& g) -> Grads { return {neg(g)}; });
}

// d|a| = g*sign(a)
Tensor abs(const Tensor& a) {
  return record("abs", kernels::unary(UnaryOp::Abs, a), {a},
                [a](const Tensor& g) -> Grads { return {g * sign(a)}; }, {a});
}

Tensor sign(const Tensor& a) { return kernels::unary(UnaryOp::Sign, a); }

// d exp(a) = g*exp(a), reusing the output
Tensor exp(const Tensor& a) {
  Tensor out = kernels::unary(UnaryOp::Exp, a);
  const Tensor saved = autograd::alias_without_graph(out);
  return record("exp", out, {a},
                [a, saved](const Tensor& g) -> Grads {
                  // The saved output has no graph; recompute only when a second derivative is
                  // being recorded.
                  return {g * (autograd::is_grad_enabled() ? exp(a) : saved)};
                },
                {saved});
}

// d log(a) = g/a
Tensor log(const Tensor& a) {
  return record("log", kernels::unary(UnaryOp::Log, a), {a},
                [a](const Tensor& g) -> Grads { return {g / a}; }, {a});
}

// d log1p(a) = g/(1+a)
Tensor log1p(const Tensor& a) {
  return record("log1p", kernels::unary(UnaryOp::Log1p, a), {a},
                [a](const Tensor& g) -> Grads { return {g / (a + 1.0)}; }, {a});
}

// d sqrt(a) = g/(2 sqrt(a))
Tensor sqrt(const Tensor& a) {
  return record("sqrt", kernels::unary(UnaryOp::Sqrt, a), {a},
                [a](const Tensor& g) -> Grads { return {g / (sqrt(a) * 2.0)}; }, {a});
}

Tensor square(const Tensor& a) { return mul(a, a); }

// d sin(a) = g*cos(a)
Tensor sin(const Tensor& a) {
  return record("sin", kernels::unary(UnaryOp::Sin, a), {a},
                [a](const Tensor& g) -> Grads { return {g * cos(a)}; }, {a});
}

// d cos(a) = -g*sin(a)
Tensor cos(const Tensor& a) {
  return record("cos", kernels::unary(UnaryOp::Cos, a), {a},
                [a](const Tensor& g) -> Grads { return {neg(g * sin(a))}; }, {a});
}

// d erf(a) = g * 2/sqrt(pi) * exp(-a^2)
Tensor erf(const Tensor& a) {
  return record("erf", kernels::unary(UnaryOp::Erf, a), {a},
                [a](const Tensor& g) -> Grads {
                  return {g * exp(neg(a * a)) * (2.0 / std::sqrt(std::numbers::pi))};
                },
                {a});
}

// d clamp(a) = g inside [min, max] (bounds included, as in PyTorch), 0 outside.
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max) {
  return record("clamp", kernels::clamp(a, min, max), {a},
                [a, min, max](const Tensor& g) -> Grads {
                  Tensor inside = ones_like(a);
                  if (min) inside = inside * mask(BinaryOp::Ge, a, scalar(a, *min));
                  if (max) inside = inside * mask(BinaryOp::Le, a, scalar(a, *max));
                  return {g * inside};
                },
                {a});
}

// d where(c, a, b) = (-, g where c, g where !c)
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  return record("where", kernels::where(condition, a, b), {condition, a, b},
                [condition](const Tensor& g) -> Grads {
                  const Tensor zero = zeros({}, g.dtype());
                  return {Tensor(), where(condition, g, zero), where(condition, zero, g)};
                },
                {condition});
}

Tensor eq(const Tensor& a, const Tensor& b) { return kernels::binary(BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return kernels::binary(BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return kernels::binary(BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return kernels::binary(BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return kernels::binary(BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return kernels::binary(BinaryOp::Ge, a, b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar(b, a), b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar(a, b)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar(a, b)); }

}  // namespace nabla
