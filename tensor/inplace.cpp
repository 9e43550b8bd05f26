// The in-place ops (add_, mul_, fill_, copy_, ...): raw kernels writing into the tensor, after the
// check that autograd/ installs refuses a tensor it tracks (instead of silently corrupting its
// gradient).
#include <atomic>

#include "tensor/kernels/kernels.h"
#include "tensor/tensor.h"

namespace nabla {

namespace {

std::atomic<InplaceCheck> inplace_check{nullptr};

// Only a tensor with an autograd slot can require grad; autograd/ installs the check before it
// fills the first slot, so a set slot always finds the check in place.
void check_inplace(std::string_view op, const Tensor& t) {
  if (t.impl_ptr() == nullptr || t.impl_ptr()->autograd_meta == nullptr) return;
  if (const InplaceCheck check = inplace_check.load(std::memory_order_acquire)) check(op, t);
}

}  // namespace

void set_inplace_check(InplaceCheck check) {
  inplace_check.store(check, std::memory_order_release);
}

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
