// matmul with torch.matmul semantics on top of the packed GEMM; transposed views are passed to the
// GEMM as transposes, so backward's a.T @ g never copies.
#include <algorithm>

#include "tensor/kernels/gemm.h"
#include "tensor/kernels/kernels.h"

namespace nabla::kernels {
namespace {

struct MatrixLayout {
  bool transposed = false;
  int64_t leading = 1;
};

// How GEMM can read a rows x cols matrix with these strides without a copy, if it can.
std::optional<MatrixLayout> layout_of(int64_t rows, int64_t cols, int64_t row_stride,
                                      int64_t col_stride) {
  // An empty matrix is never read: any layout does (its strides may fit neither test below, e.g.
  // an expanded [n, 0] view, and contiguous() leaves an empty tensor's strides alone).
  if (rows == 0 || cols == 0) return MatrixLayout{false, std::max<int64_t>(cols, 1)};
  if ((cols <= 1 || col_stride == 1) && (rows <= 1 || row_stride >= std::max<int64_t>(cols, 1))) {
    return MatrixLayout{false, rows <= 1 ? std::max<int64_t>(cols, 1) : row_stride};
  }
  if ((rows <= 1 || row_stride == 1) && (cols <= 1 || col_stride >= std::max<int64_t>(rows, 1))) {
    return MatrixLayout{true, cols <= 1 ? std::max<int64_t>(rows, 1) : col_stride};
  }
  return std::nullopt;
}

// Offsets (in elements) of each matrix of an operand expanded to `batch` leading dims.
std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch) {
  const int64_t count = shape_numel(batch);
  std::vector<int64_t> offsets(static_cast<size_t>(count), t.storage_offset());
  const size_t nb = batch.size();
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i;
    int64_t offset = t.storage_offset();
    for (size_t d = nb; d-- > 0;) {
      offset += (rest % batch[d]) * t.strides()[d];
      rest /= batch[d];
    }
    offsets[static_cast<size_t>(i)] = offset;
  }
  return offsets;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (a.dim() == 0 || b.dim() == 0) {
    throw error("matmul: both arguments must be at least 1-D, got shapes {} and {}",
                shape_str(a.shape()), shape_str(b.shape()));
  }
  const DType dtype = promote_types(a.dtype(), b.dtype());
  Tensor a2 = to_dtype(a.dim() == 1 ? unsqueeze(a, 0) : a, dtype);
  Tensor b2 = to_dtype(b.dim() == 1 ? unsqueeze(b, -1) : b, dtype);
  const int64_t m = a2.size(-2);
  const int64_t k = a2.size(-1);
  const int64_t n = b2.size(-1);
  if (b2.size(-2) != k) {
    throw error("matmul: shapes {} and {} cannot be multiplied ({} != {})", shape_str(a.shape()),
                shape_str(b.shape()), k, b2.size(-2));
  }
  const Shape batch_a(a2.shape().begin(), a2.shape().end() - 2);
  const Shape batch_b(b2.shape().begin(), b2.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes("matmul", batch_a, batch_b);
  } catch (const Error&) {
    throw error(
        "matmul: shapes {} and {} cannot be multiplied: batch dims {} and {} do not broadcast",
        shape_str(a.shape()), shape_str(b.shape()), shape_str(batch_a), shape_str(batch_b));
  }
  Shape a_shape = batch;
  a_shape.insert(a_shape.end(), {m, k});
  Shape b_shape = batch;
  b_shape.insert(b_shape.end(), {k, n});
  a2 = expand(a2, a_shape);
  b2 = expand(b2, b_shape);

  auto layout_a = layout_of(m, k, a2.strides()[batch.size()], a2.strides()[batch.size() + 1]);
  if (!layout_a) {
    a2 = contiguous(a2);
    layout_a = layout_of(m, k, a2.strides()[batch.size()], a2.strides()[batch.size() + 1]);
  }
  auto layout_b = layout_of(k, n, b2.strides()[batch.size()], b2.strides()[batch.size() + 1]);
  if (!layout_b) {
    b2 = contiguous(b2);
    layout_b = layout_of(k, n, b2.strides()[batch.size()], b2.strides()[batch.size() + 1]);
  }

  Shape out_shape = batch;
  out_shape.insert(out_shape.end(), {m, n});
  Tensor out = Tensor::empty(out_shape, dtype);
  const std::vector<int64_t> offsets_a = batch_offsets(a2, batch);
  const std::vector<int64_t> offsets_b = batch_offsets(b2, batch);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* base_a = static_cast<const T*>(a2.storage()->data());
    const T* base_b = static_cast<const T*>(b2.storage()->data());
    T* base_c = out.data_ptr<T>();
    for (size_t i = 0; i < offsets_a.size(); ++i) {
      gemm(layout_a->transposed, layout_b->transposed, m, n, k, T(1), base_a + offsets_a[i],
           layout_a->leading, base_b + offsets_b[i], layout_b->leading, T(0),
           base_c + static_cast<int64_t>(i) * m * n, std::max<int64_t>(n, 1));
    }
  });
  if (a.dim() == 1) out = squeeze(out, -2);
  if (b.dim() == 1) out = squeeze(out, -1);
  return out;
}

}  // namespace nabla::kernels
