// Shape arithmetic with checked overflow and op-naming errors.
#include "tensor/shape.h"

#include <fmt/ranges.h>

#include <algorithm>

#include "tensor/error.h"

namespace nabla {

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

void check_shape(std::string_view op, const Shape& shape) {
  for (const int64_t extent : shape) {
    if (extent < 0) throw error("{}: negative extent in shape {}", op, shape_str(shape));
  }
}

int64_t shape_numel(const Shape& shape) {
  int64_t numel = 1;
  for (const int64_t extent : shape) {
    if (extent < 0) throw error("numel: negative extent in shape {}", shape_str(shape));
    if (__builtin_mul_overflow(numel, extent, &numel)) {
      throw error("numel: shape {} has more elements than int64 can count", shape_str(shape));
    }
  }
  return numel;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    // NOTE: an empty tensor's other extents can multiply past int64 ([0, 2^32, 2^32]).
    if (i > 0 && __builtin_mul_overflow(stride, std::max<int64_t>(shape[i], 1), &stride)) {
      throw error("strides: the extents of shape {} multiply past int64", shape_str(shape));
    }
  }
  return strides;
}

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  const size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (size_t i = 0; i < ndim; ++i) {
    const int64_t ea = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
    const int64_t eb = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
    if (ea != eb && ea != 1 && eb != 1) {
      throw error("{}: shapes {} and {} cannot be broadcast", op, shape_str(a), shape_str(b));
    }
    out[i] = ea == 1 ? eb : ea;
  }
  return out;
}

int64_t normalize_dim(std::string_view op, int64_t dim, int64_t ndim) {
  const int64_t lo = ndim == 0 ? -1 : -ndim;
  const int64_t hi = ndim == 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi) {
    throw error("{}: dim {} is out of range for a tensor with {} dims (expected {} to {})", op, dim,
                ndim, lo, hi);
  }
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

std::vector<int64_t> normalize_dims(std::string_view op, const std::vector<int64_t>& dims,
                                    int64_t ndim) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (const int64_t dim : dims) {
    const int64_t d = normalize_dim(op, dim, ndim);
    if (std::find(out.begin(), out.end(), d) != out.end()) {
      throw error("{}: dim {} appears more than once", op, dim);
    }
    out.push_back(d);
  }
  std::sort(out.begin(), out.end());
  if (ndim == 0) out.clear();
  return out;
}

int64_t checked_mul(std::string_view op, std::string_view what, int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    throw error("{}: integer overflow in {} ({} * {})", op, what, a, b);
  }
  return product;
}

int64_t checked_add(std::string_view op, std::string_view what, int64_t a, int64_t b) {
  int64_t total = 0;
  if (__builtin_add_overflow(a, b, &total)) {
    throw error("{}: integer overflow in {} ({} + {})", op, what, a, b);
  }
  return total;
}

}  // namespace nabla
