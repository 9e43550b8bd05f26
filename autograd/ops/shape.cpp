// Differentiable views, copies, concatenation and indexing. Views share storage with their input;
// their derivatives are the inverse view (or its adjoint: sum_to, slice_backward, scatter_add).
#include <algorithm>

#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla {

using autograd::Grads;
using autograd::record;

namespace {
Grads reshape_back(const Tensor& g, const Shape& shape) { return {reshape(g, shape)}; }
}  // namespace

Tensor reshape(const Tensor& a, const Shape& shape) {
  return record("reshape", kernels::reshape(a, shape), {a},
                [in = a.shape()](const Tensor& g) { return reshape_back(g, in); });
}

Tensor view(const Tensor& a, const Shape& shape) {
  return record("view", kernels::view(a, shape), {a},
                [in = a.shape()](const Tensor& g) { return reshape_back(g, in); });
}

Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  if (a.dim() == 0) return reshape(a, {1});
  const int64_t start = normalize_dim("flatten", start_dim, a.dim());
  const int64_t end = normalize_dim("flatten", end_dim, a.dim());
  if (start > end) throw error("flatten: start_dim {} comes after end_dim {}", start_dim, end_dim);
  Shape shape(a.shape().begin(), a.shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= a.shape()[static_cast<size_t>(d)];
  shape.push_back(merged);
  shape.insert(shape.end(), a.shape().begin() + end + 1, a.shape().end());
  return reshape(a, shape);
}

Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1) {
  return record("transpose", kernels::transpose(a, dim0, dim1), {a},
                [dim0, dim1](const Tensor& g) -> Grads { return {transpose(g, dim0, dim1)}; });
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& dims) {
  Tensor out = kernels::permute(a, dims);
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    inverse[static_cast<size_t>(normalize_dim("permute", dims[i], a.dim()))] =
        static_cast<int64_t>(i);
  }
  return record("permute", out, {a},
                [inverse](const Tensor& g) -> Grads { return {permute(g, inverse)}; });
}

Tensor squeeze(const Tensor& a, std::optional<int64_t> dim) {
  return record("squeeze", kernels::squeeze(a, dim), {a},
                [in = a.shape()](const Tensor& g) { return reshape_back(g, in); });
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  return record("unsqueeze", kernels::unsqueeze(a, dim), {a},
                [in = a.shape()](const Tensor& g) { return reshape_back(g, in); });
}

Tensor expand(const Tensor& a, const Shape& shape) {
  return record("expand", kernels::expand(a, shape), {a},
                [in = a.shape()](const Tensor& g) -> Grads { return {sum_to(g, in)}; });
}

Tensor broadcast_to(const Tensor& a, const Shape& shape) { return expand(a, shape); }

Tensor slice(const Tensor& a, int64_t dim, std::optional<int64_t> start,
             std::optional<int64_t> stop, int64_t step) {
  Tensor out = kernels::slice(a, dim, start, stop, step);
  const int64_t d = normalize_dim("slice", dim, a.dim());
  const int64_t extent = a.shape()[static_cast<size_t>(d)];
  int64_t begin = start.value_or(0);
  if (begin < 0) begin += extent;
  begin = std::clamp<int64_t>(begin, 0, extent);
  const int64_t taken = out.shape()[static_cast<size_t>(d)];
  const int64_t end = begin + taken * step;
  return record("slice", out, {a}, [in = a.shape(), d, begin, end, step](const Tensor& g) -> Grads {
    return {slice_backward(g, in, d, begin, end, step)};
  });
}

Tensor slice_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start,
                      int64_t stop, int64_t step) {
  Tensor out = zeros(input_shape, grad.dtype());
  kernels::copy_(kernels::slice(out, dim, start, stop, step), grad);
  return record("slice_backward", out, {grad}, [dim, start, stop, step](const Tensor& g) -> Grads {
    return {slice(g, dim, start, stop, step)};
  });
}

Tensor select(const Tensor& a, int64_t dim, int64_t index) {
  Tensor out = kernels::select(a, dim, index);
  const int64_t d = normalize_dim("select", dim, a.dim());
  const int64_t resolved = index < 0 ? index + a.shape()[static_cast<size_t>(d)] : index;
  return record("select", out, {a}, [in = a.shape(), d, resolved](const Tensor& g) -> Grads {
    return {select_backward(g, in, d, resolved)};
  });
}

Tensor select_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t index) {
  Tensor out = zeros(input_shape, grad.dtype());
  kernels::copy_(kernels::select(out, dim, index), grad);
  return record("select_backward", out, {grad},
                [dim, index](const Tensor& g) -> Grads { return {select(g, dim, index)}; });
}

Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) {
  const int64_t d = normalize_dim("narrow", dim, a.dim());
  const int64_t extent = a.shape()[static_cast<size_t>(d)];
  if (start < 0) start += extent;
  if (start < 0 || length < 0 || start > extent || length > extent - start) {
    throw error("narrow: start {} and length {} do not fit dim {} of size {}", start, length, dim,
                extent);
  }
  return slice(a, d, start, start + length, 1);
}

Tensor contiguous(const Tensor& a) {
  return record("contiguous", kernels::contiguous(a), {a},
                [](const Tensor& g) -> Grads { return {g}; });
}

Tensor clone(const Tensor& a) {
  return record("clone", kernels::clone(a), {a}, [](const Tensor& g) -> Grads { return {g}; });
}

Tensor to(const Tensor& a, DType dtype) {
  return record("to", kernels::to_dtype(a, dtype), {a},
                [from = a.dtype()](const Tensor& g) -> Grads { return {to(g, from)}; });
}

// d cat = the slices of g that each input filled
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor out = kernels::cat(tensors, dim);
  const int64_t d = normalize_dim("cat", dim, tensors.front().dim());
  std::vector<int64_t> extents;
  extents.reserve(tensors.size());
  for (const Tensor& t : tensors) extents.push_back(t.shape()[static_cast<size_t>(d)]);
  return record("cat", out, tensors, [d, extents](const Tensor& g) -> Grads {
    Grads grads;
    int64_t offset = 0;
    for (const int64_t extent : extents) {
      grads.push_back(slice(g, d, offset, offset + extent, 1));
      offset += extent;
    }
    return grads;
  });
}

// d stack = the slice of g each input became
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor out = kernels::stack(tensors, dim);  // checks the list and the shapes
  const int64_t d = normalize_dim("stack", dim, tensors.front().dim() + 1);
  return record("stack", out, tensors, [d, count = tensors.size()](const Tensor& g) -> Grads {
    Grads grads;
    grads.reserve(count);
    for (size_t i = 0; i < count; ++i) grads.push_back(select(g, d, static_cast<int64_t>(i)));
    return grads;
  });
}

// d gather = scatter_add of g at the gathered positions
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  return record("gather", kernels::gather(a, dim, index), {a},
                [in = a.shape(), dim, index](const Tensor& g) -> Grads {
                  return {scatter_add(in, dim, index, g)};
                });
}

// d scatter_add w.r.t. source = gather of g
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source) {
  return record("scatter_add", kernels::scatter_add(shape, dim, index, source), {source},
                [dim, index](const Tensor& g) -> Grads { return {gather(g, dim, index)}; });
}

// d index_select = index_add of g at the selected positions
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  return record("index_select", kernels::index_select(a, dim, index), {a},
                [in = a.shape(), dim, index](const Tensor& g) -> Grads {
                  return {index_add(in, dim, index, g)};
                });
}

// d index_add w.r.t. source = index_select of g
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source) {
  return record("index_add", kernels::index_add(shape, dim, index, source), {source},
                [dim, index](const Tensor& g) -> Grads { return {index_select(g, dim, index)}; });
}

}  // namespace nabla
