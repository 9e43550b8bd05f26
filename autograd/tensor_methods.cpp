// Tensor's method spellings of the public ops, and the in-place ops (which refuse to run on a
// tensor that autograd is tracking, instead of silently corrupting its gradient).
#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla {

namespace {
void check_inplace(std::string_view op, const Tensor& t) {
  if (autograd::is_grad_enabled() && t.requires_grad()) {
    throw error(
        "{}: in-place operation on a tensor that requires grad (shape {}); use an "
        "out-of-place op or wrap the update in NoGradGuard",
        op, shape_str(t.shape()));
  }
}
}  // namespace

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

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace("add_", *this);
  if (alpha == 1.0) {
    kernels::binary_(kernels::BinaryOp::Add, *this, other);
  } else {
    kernels::binary_(
        kernels::BinaryOp::Add, *this,
        kernels::binary(kernels::BinaryOp::Mul, other, kernels::scalar_like(other, alpha)));
  }
  return *this;
}
Tensor& Tensor::add_(double value) {
  check_inplace("add_", *this);
  kernels::binary_(kernels::BinaryOp::Add, *this, kernels::scalar_like(*this, value));
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other) {
  check_inplace("sub_", *this);
  kernels::binary_(kernels::BinaryOp::Sub, *this, other);
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  check_inplace("mul_", *this);
  kernels::binary_(kernels::BinaryOp::Mul, *this, other);
  return *this;
}
Tensor& Tensor::mul_(double value) {
  check_inplace("mul_", *this);
  kernels::binary_(kernels::BinaryOp::Mul, *this, kernels::scalar_like(*this, value));
  return *this;
}
Tensor& Tensor::div_(const Tensor& other) {
  check_inplace("div_", *this);
  kernels::binary_(kernels::BinaryOp::Div, *this, other);
  return *this;
}
Tensor& Tensor::div_(double value) {
  check_inplace("div_", *this);
  kernels::binary_(kernels::BinaryOp::Div, *this, kernels::scalar_like(*this, value));
  return *this;
}
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  check_inplace("clamp_", *this);
  kernels::copy_(*this, kernels::clamp(*this, min, max));
  return *this;
}
Tensor& Tensor::zero_() {
  check_inplace("zero_", *this);
  kernels::fill_(*this, 0.0);
  return *this;
}
Tensor& Tensor::fill_(double value) {
  check_inplace("fill_", *this);
  kernels::fill_(*this, value);
  return *this;
}
Tensor& Tensor::copy_(const Tensor& source) {
  check_inplace("copy_", *this);
  kernels::copy_(*this, source);
  return *this;
}

}  // namespace nabla
