// The in-place ops (add_, mul_, fill_, copy_, ...): raw kernels writing into the tensor, after the
// check that autograd/ installs refuses a tensor it tracks (instead of silently corrupting its
// gradient).
#include <atomic>

#include "tensor/kernels/kernels.h"
#include "tensor/tensor.h"

namespace nabla {

using kernels::BinaryOp;

namespace {

std::atomic<InplaceCheck> inplace_check{nullptr};

// Only a tensor with an autograd slot can require grad; autograd/ installs the check before it
// fills the first slot, so a set slot always finds the check in place.
void check_inplace(std::string_view op, const Tensor& t) {
  if (t.impl_ptr() == nullptr || t.impl_ptr()->autograd_meta == nullptr) return;
  if (const InplaceCheck check = inplace_check.load(std::memory_order_acquire)) check(op, t);
}

// self op= other after the check: the body of the arithmetic in-place ops.
Tensor& arithmetic_inplace(std::string_view op, BinaryOp kind, Tensor& self, const Tensor& other) {
  check_inplace(op, self);
  kernels::binary_(kind, self, other);
  return self;
}

}  // namespace

void set_inplace_check(InplaceCheck check) {
  inplace_check.store(check, std::memory_order_release);
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  if (alpha == 1.0) return arithmetic_inplace("add_", BinaryOp::Add, *this, other);
  check_inplace("add_", *this);  // before the product, as for every in-place op
  kernels::binary_(BinaryOp::Add, *this,
                   kernels::binary(BinaryOp::Mul, other, kernels::scalar_like(other, alpha)));
  return *this;
}
Tensor& Tensor::add_(double value) {
  return arithmetic_inplace("add_", BinaryOp::Add, *this, kernels::scalar_like(*this, value));
}
Tensor& Tensor::sub_(const Tensor& other) {
  return arithmetic_inplace("sub_", BinaryOp::Sub, *this, other);
}
Tensor& Tensor::mul_(const Tensor& other) {
  return arithmetic_inplace("mul_", BinaryOp::Mul, *this, other);
}
Tensor& Tensor::mul_(double value) {
  return arithmetic_inplace("mul_", BinaryOp::Mul, *this, kernels::scalar_like(*this, value));
}
Tensor& Tensor::div_(const Tensor& other) {
  return arithmetic_inplace("div_", BinaryOp::Div, *this, other);
}
Tensor& Tensor::div_(double value) {
  return arithmetic_inplace("div_", BinaryOp::Div, *this, kernels::scalar_like(*this, value));
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
