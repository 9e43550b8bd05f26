// Tensor's method spellings of the public ops. (The in-place ops are in tensor/inplace.cpp.)
#include "autograd/ops.h"

namespace nabla {

Tensor Tensor::reshape(const Shape& shape) const { return nabla::reshape(*this, shape); }
Tensor Tensor::view(const Shape& shape) const { return nabla::view(*this, shape); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  return nabla::flatten(*this, start_dim, end_dim);
}
Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  return nabla::transpose(*this, dim0, dim1);
}
Tensor Tensor::t() const {
  if (dim() > 2) {
    throw error("t: expects a tensor with at most 2 dims, got shape {}", shape_str(shape()));
  }
  return dim() < 2 ? *this : nabla::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  return nabla::permute(*this, dims);
}
Tensor Tensor::squeeze(std::optional<int64_t> dim) const { return nabla::squeeze(*this, dim); }
Tensor Tensor::unsqueeze(int64_t dim) const { return nabla::unsqueeze(*this, dim); }
Tensor Tensor::expand(const Shape& shape) const { return nabla::expand(*this, shape); }
Tensor Tensor::slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop,
                     int64_t step) const {
  return nabla::slice(*this, dim, start, stop, step);
}
Tensor Tensor::select(int64_t dim, int64_t index) const { return nabla::select(*this, dim, index); }
Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  return nabla::narrow(*this, dim, start, length);
}
Tensor Tensor::contiguous() const { return nabla::contiguous(*this); }
Tensor Tensor::clone() const { return nabla::clone(*this); }
Tensor Tensor::to(DType dtype) const { return nabla::to(*this, dtype); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const {
  return nabla::sum(*this, dims, keepdim);
}
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const {
  return nabla::mean(*this, dims, keepdim);
}
Tensor Tensor::pow(double exponent) const { return nabla::pow(*this, exponent); }
Tensor Tensor::matmul(const Tensor& other) const { return nabla::matmul(*this, other); }

}  // namespace nabla
