// Optimizer base: parameter bookkeeping, lazily created state, the no-grad update loop and
// hyper-parameter checks shared by every optimizer.
#include "optim/optimizer.h"

#include <cassert>
#include <cmath>
#include <unordered_set>
#include <utility>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace nabla::optim {

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double learning_rate,
                     std::vector<std::string> slot_names)
    : name_(std::move(name)), learning_rate_(learning_rate), slot_names_(std::move(slot_names)) {
  check(std::isfinite(learning_rate) && learning_rate >= 0.0, "learning_rate", "finite and >= 0",
        learning_rate);
  set_parameters(std::move(params));
}

void Optimizer::validate_parameters(const std::vector<Tensor>& params) const {
  std::unordered_set<const TensorImpl*> seen;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined()) throw error("{}: parameter {} is an undefined tensor", name_, i);
    if (!p.is_floating_point()) {
      throw error(
          "{}: parameter {} (shape {}) has dtype {}; only floating tensors can be optimized", name_,
          i, shape_str(p.shape()), dtype_name(p.dtype()));
    }
    // A non-leaf's .grad() is never filled by backward, so its update would silently do nothing.
    if (!p.is_leaf()) {
      throw error(
          "{}: parameter {} (shape {}) is not a leaf tensor (it was computed by {}); optimize the "
          "leaf it was computed from, or detach() it into a new leaf",
          name_, i, shape_str(p.shape()), p.grad_fn()->name());
    }
    // NOTE: a tensor listed twice would be updated twice per step with one gradient.
    if (!seen.insert(p.impl_ptr()).second) {
      throw error("{}: parameter {} (shape {}) appears more than once in the parameter list", name_,
                  i, shape_str(p.shape()));
    }
  }
}

void Optimizer::set_parameters(std::vector<Tensor> params) {
  validate_parameters(params);
  params_ = std::move(params);
  state_.assign(params_.size(), std::vector<Tensor>(slot_names_.size()));
  parameter_steps_.assign(params_.size(), 0);
  iterations_ = 0;
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) {
    if (p.grad().defined()) p.set_grad(Tensor());
  }
}

void Optimizer::set_learning_rate(double lr) {
  check(std::isfinite(lr) && lr >= 0.0, "learning_rate", "finite and >= 0", lr);
  learning_rate_ = lr;
}

int64_t Optimizer::parameter_steps(size_t index) const {
  if (index >= params_.size()) {
    throw error("{}: parameter index {} out of range for {} parameters", name_, index,
                params_.size());
  }
  return parameter_steps_[index];
}

Tensor Optimizer::state(size_t index, std::string_view slot_name) const {
  if (index >= params_.size()) {
    throw error("{}: parameter index {} out of range for {} parameters", name_, index,
                params_.size());
  }
  for (size_t s = 0; s < slot_names_.size(); ++s) {
    if (slot_names_[s] == slot_name) return state_[index][s];
  }
  std::string known;
  for (const std::string& n : slot_names_) known += (known.empty() ? "" : ", ") + n;
  throw error("{}: no state named '{}' (known: {})", name_, slot_name,
              known.empty() ? "none" : known);
}

void Optimizer::for_each_gradient(const UpdateFn& update) {
  const NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    ++parameter_steps_[i];
    update(i, p, grad.dtype() == p.dtype() ? grad : to(grad, p.dtype()));
  }
  ++iterations_;
}

Tensor& Optimizer::slot(size_t index, size_t slot_index) {
  assert(index < state_.size() && slot_index < slot_names_.size());
  return state_[index][slot_index];
}

Tensor& Optimizer::slot_or_fill(size_t index, size_t slot_index, double value) {
  Tensor& t = slot(index, slot_index);
  if (!t.defined()) t = full(params_[index].shape(), value, params_[index].dtype());
  return t;
}

void Optimizer::check(bool ok, std::string_view what, std::string_view requirement,
                      double value) const {
  if (!ok) throw error("{}: {} must be {}, got {}", name_, what, requirement, value);
}

}  // namespace nabla::optim
