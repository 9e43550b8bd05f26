// Tensor factories: constants, ranges, random tensors and tensors from C++ data.
#include <cmath>
#include <string>
#include <vector>

#include "tensor/kernels/kernels.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace nabla {
namespace {

// Fills a fresh contiguous tensor element by element in index order (the order that makes random
// results reproducible).
template <typename Fn>
Tensor generate(const Shape& shape, DType dtype, Fn&& value_at) {
  Tensor out = Tensor::empty(shape, dtype);
  const int64_t numel = out.numel();
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* data = out.data_ptr<T>();
    for (int64_t i = 0; i < numel; ++i) data[i] = static_cast<T>(value_at(i));
  });
  return out;
}

Generator& pick(Generator* generator) {
  return generator != nullptr ? *generator : default_generator();
}

void check_floating(std::string_view op, DType dtype) {
  if (!is_floating(dtype)) throw error("{}: dtype must be float32 or float64, got int64", op);
}

}  // namespace

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor out = Tensor::empty(shape, dtype);
  kernels::fill_(out, value);
  return out;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype()); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), like.dtype()); }
Tensor full_like(const Tensor& like, double value) {
  return full(like.shape(), value, like.dtype());
}
Tensor empty_like(const Tensor& like) { return Tensor::empty(like.shape(), like.dtype()); }

Tensor arange(double stop, DType dtype) { return arange(0.0, stop, 1.0, dtype); }

Tensor arange(double start, double stop, double step, DType dtype) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw error("arange: invalid range start={} stop={} step={}", start, stop, step);
  }
  const double count = std::ceil((stop - start) / step);
  // NOTE: converting a double beyond int64's range is undefined; 2^62 elements is past any memory.
  if (!(count < 0x1p62)) {
    throw error("arange: start={} stop={} step={} gives {} elements, more than can be allocated",
                start, stop, step, count);
  }
  const auto n = static_cast<int64_t>(std::max(count, 0.0));
  return generate({n}, dtype, [&](int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor linspace(double start, double stop, int64_t steps, DType dtype) {
  if (steps < 0) throw error("linspace: steps must be non-negative, got {}", steps);
  const double delta = steps > 1 ? (stop - start) / static_cast<double>(steps - 1) : 0.0;
  // Symmetric evaluation so that both ends are exact, as NumPy does.
  return generate({steps}, dtype, [&](int64_t i) {
    return i < steps / 2 ? start + delta * static_cast<double>(i)
                         : stop - delta * static_cast<double>(steps - 1 - i);
  });
}

Tensor eye(int64_t n, std::optional<int64_t> m, DType dtype) {
  const int64_t cols = m.value_or(n);
  if (n < 0 || cols < 0) throw error("eye: sizes must be non-negative, got {} x {}", n, cols);
  return generate({n, cols}, dtype, [&](int64_t i) { return i / cols == i % cols ? 1.0 : 0.0; });
}

Tensor rand(const Shape& shape, DType dtype, Generator* generator) {
  return uniform(shape, 0.0, 1.0, dtype, generator);
}

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator* generator) {
  check_floating("uniform", dtype);
  Generator& gen = pick(generator);
  const auto lock = gen.lock();
  if (dtype == kFloat32) {
    const auto lo = static_cast<float>(low);
    const auto span = static_cast<float>(high - low);
    return generate(shape, dtype, [&](int64_t) { return lo + span * gen.uniform_float(); });
  }
  return generate(shape, dtype, [&](int64_t) { return low + (high - low) * gen.uniform(); });
}

Tensor randn(const Shape& shape, DType dtype, Generator* generator) {
  return normal(shape, 0.0, 1.0, dtype, generator);
}

Tensor normal(const Shape& shape, double mean, double stddev, DType dtype, Generator* generator) {
  check_floating("normal", dtype);
  if (stddev < 0) throw error("normal: stddev must be non-negative, got {}", stddev);
  Generator& gen = pick(generator);
  const auto lock = gen.lock();
  return generate(shape, dtype, [&](int64_t) { return mean + stddev * gen.normal(); });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* generator) {
  if (low >= high) throw error("randint: low ({}) must be less than high ({})", low, high);
  Generator& gen = pick(generator);
  const auto lock = gen.lock();
  Tensor out = Tensor::empty(shape, kInt64);
  auto* data = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < out.numel(); ++i) data[i] = gen.randint(low, high);
  return out;
}

Tensor randperm(int64_t n, Generator* generator) {
  if (n < 0) throw error("randperm: n must be non-negative, got {}", n);
  Generator& gen = pick(generator);
  const auto lock = gen.lock();
  Tensor out = arange(static_cast<double>(n));
  auto* data = out.data_ptr<int64_t>();
  // Fisher-Yates from the back.
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(gen.below(static_cast<uint64_t>(i + 1)));
    std::swap(data[i], data[j]);
  }
  return out;
}

Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor tensor(const std::vector<double>& values, const Shape& shape, DType dtype) {
  check_shape("tensor", shape);
  if (static_cast<int64_t>(values.size()) != shape_numel(shape)) {
    throw error("tensor: {} values do not fill shape {} ({} elements)", values.size(),
                shape_str(shape), shape_numel(shape));
  }
  return generate(shape, dtype, [&](int64_t i) { return values[static_cast<size_t>(i)]; });
}

Tensor tensor(const std::vector<float>& values, const Shape& shape) {
  return tensor(std::vector<double>(values.begin(), values.end()), shape, kFloat32);
}

Tensor tensor(const std::vector<int64_t>& values, const Shape& shape) {
  check_shape("tensor", shape);
  if (static_cast<int64_t>(values.size()) != shape_numel(shape)) {
    throw error("tensor: {} values do not fill shape {} ({} elements)", values.size(),
                shape_str(shape), shape_numel(shape));
  }
  return generate(shape, kInt64, [&](int64_t i) { return values[static_cast<size_t>(i)]; });
}

namespace {

// Appends the numbers under `node` (at index `path`) to `flat`, checking it against `shape`.
void flatten_nested(const NestedValues& node, const Shape& shape, std::vector<int64_t>& path,
                    std::vector<double>& flat) {
  const size_t depth = path.size();
  if (depth == shape.size()) {
    if (node.is_list()) {
      throw error("tensor: ragged nested lists: a list at {} where shape {} expects a number",
                  shape_str(path), shape_str(shape));
    }
    flat.push_back(node.value());
    return;
  }
  if (!node.is_list()) {
    throw error("tensor: ragged nested lists: a number at {} where shape {} expects a list of {}",
                shape_str(path), shape_str(shape), shape[depth]);
  }
  const auto length = static_cast<int64_t>(node.items().size());
  if (length != shape[depth]) {
    throw error("tensor: ragged nested lists: the list at {} has {} values, shape {} expects {}",
                shape_str(path), length, shape_str(shape), shape[depth]);
  }
  path.push_back(0);
  for (const NestedValues& item : node.items()) {
    flatten_nested(item, shape, path, flat);
    ++path.back();
  }
  path.pop_back();
}

}  // namespace

Tensor tensor(const NestedValues& values, DType dtype) {
  // The shape follows the first item at each depth; flatten_nested then checks all the others.
  Shape shape;
  for (const NestedValues* node = &values; node->is_list();) {
    shape.push_back(static_cast<int64_t>(node->items().size()));
    if (node->items().empty()) break;
    node = &node->items().front();
  }
  std::vector<double> flat;
  std::vector<int64_t> path;
  flatten_nested(values, shape, path, flat);
  return tensor(flat, shape, dtype);
}

}  // namespace nabla
