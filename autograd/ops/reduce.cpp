// Reductions and softmax family with their derivatives.
#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla {

using autograd::Grads;
using autograd::record;

namespace {

// The shape of a reduction's result with keepdim, so a gradient can broadcast back.
Shape keepdim_shape(std::string_view op, const Tensor& a, const std::vector<int64_t>& dims) {
  Shape shape = a.shape();
  for (const int64_t d : normalize_dims(op, dims, a.dim())) shape[static_cast<size_t>(d)] = 1;
  return shape;
}

int64_t reduced_count(std::string_view op, const Tensor& a, const std::vector<int64_t>& dims) {
  int64_t count = 1;
  for (const int64_t d : normalize_dims(op, dims, a.dim())) {
    count *= a.shape()[static_cast<size_t>(d)];
  }
  return count;
}

// Gradient of max/min: shared equally among the elements equal to the result.
Tensor extreme_op(std::string_view name, const Tensor& a, const std::vector<int64_t>& dims,
                  bool keepdim, bool is_max) {
  Tensor out = is_max ? kernels::amax(a, dims, keepdim) : kernels::amin(a, dims, keepdim);
  const Tensor saved = autograd::alias_without_graph(out);
  const Shape kept = keepdim_shape(name, a, dims);
  return record(name, out, {a},
                [a, saved, kept, dims](const Tensor& g) -> Grads {
                  const Tensor hits = kernels::to_dtype(
                      kernels::binary(kernels::BinaryOp::Eq, a, reshape(saved, kept)), g.dtype());
                  return {reshape(g, kept) * hits / kernels::sum(hits, dims, true)};
                },
                {a, saved});
}

}  // namespace

// d sum = g broadcast back over the reduced dims
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  const Shape kept = keepdim_shape("sum", a, dims);
  return record("sum", kernels::sum(a, dims, keepdim), {a},
                [kept, shape = a.shape()](const Tensor& g) -> Grads {
                  return {expand(reshape(g, kept), shape)};
                });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  const Tensor source = a.dtype() == kInt64 ? to(a, kFloat32) : a;
  const auto count = static_cast<double>(reduced_count("mean", a, dims));
  return sum(source, dims, keepdim) / count;
}

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_op("amax", a, dims, keepdim, true);
}
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_op("amin", a, dims, keepdim, false);
}
Tensor max(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return amax(a, dims, keepdim);
}
Tensor min(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return amin(a, dims, keepdim);
}

Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return kernels::argmax(a, dim, keepdim);
}
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return kernels::argmin(a, dim, keepdim);
}

// var = sum((a - mean)^2) / (N - correction); composite, so its derivatives are automatic.
Tensor var(const Tensor& a, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  const Tensor source = a.dtype() == kInt64 ? to(a, kFloat32) : a;
  const int64_t count = reduced_count("var", a, dims);
  const Tensor centered = source - mean(source, dims, true);
  const auto denominator = static_cast<double>(std::max<int64_t>(count - correction, 0));
  return sum(centered * centered, dims, keepdim) / denominator;
}

Tensor std(const Tensor& a, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  return sqrt(var(a, dims, correction, keepdim));
}

// d logsumexp = g * exp(a - lse)
Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = kernels::logsumexp(a, dims, keepdim);
  const Shape kept = keepdim_shape("logsumexp", a, dims);
  return record("logsumexp", out, {a},
                [a, kept, dims](const Tensor& g) -> Grads {
                  const Tensor lse = logsumexp(a, dims, true);
                  return {reshape(g, kept) * exp(a - lse)};
                },
                {a});
}

// d softmax = y * (g - sum(g*y))
Tensor softmax(const Tensor& a, int64_t dim) {
  Tensor out = kernels::softmax(a, dim);
  const Tensor saved = autograd::alias_without_graph(out);
  return record("softmax", out, {a},
                [a, saved, dim](const Tensor& g) -> Grads {
                  const Tensor y = autograd::is_grad_enabled() ? softmax(a, dim) : saved;
                  const int64_t d = a.dim() == 0 ? 0 : dim;
                  return {y * (g - sum(g * y, {d}, true))};
                },
                {saved});
}

// d log_softmax = g - softmax * sum(g)
Tensor log_softmax(const Tensor& a, int64_t dim) {
  Tensor out = kernels::log_softmax(a, dim);
  const Tensor saved = autograd::alias_without_graph(out);
  return record("log_softmax", out, {a},
                [a, saved, dim](const Tensor& g) -> Grads {
                  const Tensor y = autograd::is_grad_enabled() ? log_softmax(a, dim) : saved;
                  const int64_t d = a.dim() == 0 ? 0 : dim;
                  return {g - exp(y) * sum(g, {d}, true)};
                },
                {saved});
}

// d sum_to = g broadcast back to the input's shape
Tensor sum_to(const Tensor& a, const Shape& shape) {
  return record("sum_to", kernels::sum_to(a, shape), {a},
                [shape_in = a.shape()](const Tensor& g) -> Grads { return {expand(g, shape_in)}; });
}

}  // namespace nabla
