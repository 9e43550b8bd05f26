// Gradient clipping by global norm and by value.
#include "optim/clip.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace nabla::optim {

namespace {

// acc = step(acc, x) over the elements x of `t` in double, in index order, from acc = 0.
template <typename Step>
double fold(const Tensor& t, const Step& step) {
  const Tensor c = contiguous(t);
  const int64_t n = c.numel();
  return visit_dtype(c.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* data = c.data_ptr<T>();
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) acc = step(acc, static_cast<double>(data[i]));
    return acc;
  });
}

// Sum of squares of a tensor's elements in double. `scale` divides each element first, which
// keeps the squares finite when the plain sum would overflow.
double sum_of_squares(const Tensor& t, double scale) {
  return fold(t, [scale](double total, double x) { return total + (x / scale) * (x / scale); });
}

double max_abs(const Tensor& t) {
  return fold(t, [](double m, double x) { return std::max(m, std::abs(x)); });
}

// Replaces the gradient in place when that writes each element once; a non-contiguous gradient
// (possibly a broadcast view, which shares elements) gets a fresh tensor instead.
template <typename Fn>
void update_grad(const Tensor& param, Fn&& in_place) {
  Tensor g = param.grad();
  if (!g.is_contiguous()) {
    g = clone(g);
    param.set_grad(g);
  }
  in_place(g);
}

}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, bool error_if_nonfinite) {
  if (!(max_norm >= 0.0)) {
    throw error("clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
  }
  double total = 0.0;
  for (const Tensor& p : params) {
    if (p.grad().defined()) total += sum_of_squares(p.grad(), 1.0);
  }
  double norm = std::sqrt(total);
  if (std::isinf(norm)) {
    // Either a gradient holds an inf, or the squares overflowed: rescale by the largest magnitude
    // (inf in the first case, which keeps the norm inf).
    double scale = 0.0;
    for (const Tensor& p : params) {
      if (p.grad().defined()) scale = std::max(scale, max_abs(p.grad()));
    }
    if (std::isfinite(scale)) {
      double scaled = 0.0;
      for (const Tensor& p : params) {
        if (p.grad().defined()) scaled += sum_of_squares(p.grad(), scale);
      }
      norm = scale * std::sqrt(scaled);
    }
  }
  if (!std::isfinite(norm)) {
    if (error_if_nonfinite) {
      throw error(
          "clip_grad_norm: the total norm of the gradients is {}; the gradients were left "
          "unchanged",
          norm);
    }
    return norm;
  }
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0) {
    const NoGradGuard no_grad;
    for (const Tensor& p : params) {
      if (!p.grad().defined()) continue;
      update_grad(p, [&](Tensor& g) { g.mul_(coefficient); });
    }
  }
  return norm;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip) {
  if (!(clip >= 0.0)) throw error("clip_grad_value: clip must be >= 0, got {}", clip);
  const NoGradGuard no_grad;
  for (const Tensor& p : params) {
    if (!p.grad().defined()) continue;
    update_grad(p, [&](Tensor& g) { g.clamp_(-clip, clip); });
  }
}

}  // namespace nabla::optim
