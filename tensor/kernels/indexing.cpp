// Index-driven kernels: gather/scatter_add along a dim, index_select/index_add, one_hot.
#include "tensor/kernels/kernels.h"

namespace nabla::kernels {
namespace {

void check_index_tensor(std::string_view op, const Tensor& index) {
  if (index.dtype() != kInt64) {
    throw error("{}: index must be int64, got {}", op, dtype_name(index.dtype()));
  }
}

// Calls fn(out_linear, a_linear_without_dim, j) for every element of `shape` (contiguous order),
// where a_linear_without_dim is the offset of all the other coordinates in `strides`.
template <typename Fn>
void for_each_index(const Shape& shape, int64_t dim, const Shape& strides, Fn&& fn) {
  const int64_t numel = shape_numel(shape);
  const auto nd = shape.size();
  Shape coord(nd, 0);
  for (int64_t linear = 0; linear < numel; ++linear) {
    int64_t other = 0;
    for (size_t d = 0; d < nd; ++d) {
      if (static_cast<int64_t>(d) != dim) other += coord[d] * strides[d];
    }
    fn(linear, other, coord[static_cast<size_t>(dim)]);
    for (size_t d = nd; d-- > 0;) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
}

}  // namespace

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  check_index_tensor("gather", index);
  const int64_t d = normalize_dim("gather", dim, a.dim());
  if (index.dim() != a.dim()) {
    throw error("gather: index of shape {} must have the rank of the input of shape {}",
                shape_str(index.shape()), shape_str(a.shape()));
  }
  for (int64_t k = 0; k < a.dim(); ++k) {
    if (k != d && index.size(k) > a.size(k)) {
      throw error("gather: index of shape {} is larger than input of shape {} in dim {}",
                  shape_str(index.shape()), shape_str(a.shape()), k);
    }
  }
  const Tensor idx = contiguous(index);
  const int64_t* pi = idx.data_ptr<int64_t>();
  const int64_t extent = a.dim() == 0 ? 1 : a.size(d);
  for (int64_t i = 0; i < idx.numel(); ++i) {
    if (pi[i] < 0 || pi[i] >= extent) {
      throw error("gather: index {} is out of range for dim {} of size {}", pi[i], dim, extent);
    }
  }
  Tensor out = Tensor::empty(index.shape(), a.dtype());
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data_ptr<T>();
    T* po = out.data_ptr<T>();
    const int64_t stride = a.dim() == 0 ? 0 : a.strides()[static_cast<size_t>(d)];
    for_each_index(index.shape(), d, a.strides(), [&](int64_t linear, int64_t other, int64_t) {
      po[linear] = pa[other + pi[linear] * stride];
    });
  });
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source) {
  check_index_tensor("scatter_add", index);
  const int64_t d = normalize_dim("scatter_add", dim, static_cast<int64_t>(shape.size()));
  if (index.shape() != source.shape()) {
    throw error("scatter_add: index shape {} differs from source shape {}",
                shape_str(index.shape()), shape_str(source.shape()));
  }
  // As in gather: the index walks the output's strides, so it must fit the output's shape.
  if (index.dim() != static_cast<int64_t>(shape.size())) {
    throw error("scatter_add: index of shape {} must have the rank of the output shape {}",
                shape_str(index.shape()), shape_str(shape));
  }
  for (int64_t k = 0; k < index.dim(); ++k) {
    if (k != d && index.size(k) > shape[static_cast<size_t>(k)]) {
      throw error("scatter_add: index of shape {} is larger than output shape {} in dim {}",
                  shape_str(index.shape()), shape_str(shape), k);
    }
  }
  Tensor out = zeros(shape, source.dtype());
  const Tensor idx = contiguous(index);
  const Tensor src = contiguous(source);
  const int64_t* pi = idx.data_ptr<int64_t>();
  const int64_t extent = shape.empty() ? 1 : shape[static_cast<size_t>(d)];
  for (int64_t i = 0; i < idx.numel(); ++i) {
    if (pi[i] < 0 || pi[i] >= extent) {
      throw error("scatter_add: index {} is out of range for dim {} of size {}", pi[i], dim,
                  extent);
    }
  }
  visit_dtype(source.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data_ptr<T>();
    T* po = out.data_ptr<T>();
    const int64_t stride = shape.empty() ? 0 : out.strides()[static_cast<size_t>(d)];
    for_each_index(index.shape(), d, out.strides(), [&](int64_t linear, int64_t other, int64_t) {
      po[other + pi[linear] * stride] += ps[linear];
    });
  });
  return out;
}

namespace {

void check_vector_index(std::string_view op, const Tensor& index, int64_t extent) {
  check_index_tensor(op, index);
  if (index.dim() != 1) {
    throw error("{}: index must be 1-D, got shape {}", op, shape_str(index.shape()));
  }
  const Tensor idx = contiguous(index);
  const int64_t* pi = idx.data_ptr<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    if (pi[i] < -extent || pi[i] >= extent) {
      throw error("{}: index {} is out of range for a dim of size {}", op, pi[i], extent);
    }
  }
}

}  // namespace

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim("index_select", dim, a.dim());
  const int64_t extent = a.dim() == 0 ? 1 : a.size(d);
  check_vector_index("index_select", index, extent);
  Shape shape = a.shape();
  if (!shape.empty()) shape[static_cast<size_t>(d)] = index.numel();
  Tensor out = Tensor::empty(shape, a.dtype());
  const Tensor idx = contiguous(index);
  const int64_t* pi = idx.data_ptr<int64_t>();
  if (a.dim() == 0) {
    copy_(out, a);
    return out;
  }
  // Rows along dim 0 of a contiguous tensor are one memcpy-like copy each.
  for (int64_t i = 0; i < idx.numel(); ++i) {
    const int64_t source_row = pi[i] < 0 ? pi[i] + extent : pi[i];
    copy_(select(out, d, i), select(a, d, source_row));
  }
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source) {
  const int64_t d = normalize_dim("index_add", dim, static_cast<int64_t>(shape.size()));
  const int64_t extent = shape.empty() ? 1 : shape[static_cast<size_t>(d)];
  check_vector_index("index_add", index, extent);
  Tensor out = zeros(shape, source.dtype());
  const Tensor idx = contiguous(index);
  const int64_t* pi = idx.data_ptr<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    const int64_t row = pi[i] < 0 ? pi[i] + extent : pi[i];
    binary_(BinaryOp::Add, select(out, d, row), select(source, d, i));
  }
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t classes, DType dtype) {
  check_index_tensor("one_hot", indices);
  if (classes <= 0) throw error("one_hot: number of classes must be positive, got {}", classes);
  const Tensor idx = contiguous(indices);
  const int64_t* pi = idx.data_ptr<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    if (pi[i] < 0 || pi[i] >= classes) {
      throw error("one_hot: class index {} at position {} is out of range [0, {})", pi[i], i,
                  classes);
    }
  }
  Shape shape = indices.shape();
  shape.push_back(classes);
  Tensor out = zeros(shape, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data_ptr<T>();
    for (int64_t i = 0; i < idx.numel(); ++i) po[i * classes + pi[i]] = T(1);
  });
  return out;
}

}  // namespace nabla::kernels
