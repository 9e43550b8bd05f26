// Optimizer base: parameter bookkeeping, lazily created state, the no-grad update loop and
// hyper-parameter checks shared by every optimizer.
#include "optim/optimizer.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
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

namespace {

Tensor int64_scalar(int64_t value) { return tensor(std::vector<int64_t>{value}, Shape{}); }

// The value of a 0-d tensor of `dtype`, or an error naming the key.
template <typename T>
T scalar_of(const std::string& who, const std::string& key, const Tensor& t, DType dtype) {
  if (!t.defined() || t.dim() != 0 || t.dtype() != dtype) {
    throw error("{}.load_state_dict: '{}' must be a {} scalar (shape []), got {}", who, key,
                dtype_name(dtype),
                t.defined()
                    ? fmt::format("{} of shape {}", dtype_name(t.dtype()), shape_str(t.shape()))
                    : std::string("an undefined tensor"));
  }
  return t.item<T>();
}

std::optional<size_t> parse_index(std::string_view text) {
  size_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

OptimizerState Optimizer::state_dict() const {
  const NoGradGuard no_grad;
  OptimizerState out{.type = name(), .tensors = {}};
  out.tensors.emplace_back("num_parameters", int64_scalar(static_cast<int64_t>(params_.size())));
  out.tensors.emplace_back("iterations", int64_scalar(iterations_));
  out.tensors.emplace_back("learning_rate", scalar_tensor(learning_rate_, kFloat64));
  for (size_t i = 0; i < params_.size(); ++i) {
    out.tensors.emplace_back(fmt::format("{}.step", i), int64_scalar(parameter_steps_[i]));
    for (size_t s = 0; s < slot_names_.size(); ++s) {
      if (state_[i][s].defined()) {
        out.tensors.emplace_back(fmt::format("{}.{}", i, slot_names_[s]), clone(state_[i][s]));
      }
    }
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& state) {
  const std::string who = name();
  if (state.type != who) {
    throw error("{}.load_state_dict: the state belongs to a {} optimizer, not {}", who, state.type,
                who);
  }
  std::map<std::string, Tensor> by_key;
  for (const auto& [key, t] : state.tensors) {
    if (!by_key.emplace(key, t).second) {
      throw error("{}.load_state_dict: key '{}' appears more than once", who, key);
    }
  }
  const auto require = [&](const std::string& key) -> const Tensor& {
    auto it = by_key.find(key);
    if (it == by_key.end()) throw error("{}.load_state_dict: missing key '{}'", who, key);
    return it->second;
  };
  const auto count = scalar_of<int64_t>(who, "num_parameters", require("num_parameters"), kInt64);
  if (count != static_cast<int64_t>(params_.size())) {
    throw error("{}.load_state_dict: 'num_parameters' is {} but the optimizer has {} parameters",
                who, count, params_.size());
  }
  const auto iterations = scalar_of<int64_t>(who, "iterations", require("iterations"), kInt64);
  const auto lr = scalar_of<double>(who, "learning_rate", require("learning_rate"), kFloat64);
  if (iterations < 0) throw error("{}.load_state_dict: 'iterations' is {} (< 0)", who, iterations);
  if (!std::isfinite(lr) || lr < 0.0) {
    throw error("{}.load_state_dict: 'learning_rate' must be finite and >= 0, got {}", who, lr);
  }
  std::vector<int64_t> steps(params_.size(), 0);
  std::vector<std::vector<Tensor>> slots(params_.size(), std::vector<Tensor>(slot_names_.size()));
  for (const auto& [key, t] : by_key) {
    if (key == "num_parameters" || key == "iterations" || key == "learning_rate") continue;
    const size_t dot = key.find('.');
    const std::optional<size_t> index =
        dot == std::string::npos ? std::nullopt : parse_index(std::string_view(key).substr(0, dot));
    if (!index) throw error("{}.load_state_dict: unexpected key '{}'", who, key);
    if (*index >= params_.size()) {
      throw error("{}.load_state_dict: key '{}' names parameter {}, but there are {} parameters",
                  who, key, *index, params_.size());
    }
    const std::string slot_name = key.substr(dot + 1);
    if (slot_name == "step") {
      steps[*index] = scalar_of<int64_t>(who, key, t, kInt64);
      if (steps[*index] < 0) throw error("{}.load_state_dict: '{}' is negative", who, key);
      continue;
    }
    size_t slot_index = slot_names_.size();
    for (size_t s = 0; s < slot_names_.size(); ++s) {
      if (slot_names_[s] == slot_name) slot_index = s;
    }
    if (slot_index == slot_names_.size()) {
      throw error("{}.load_state_dict: key '{}' names no state of {} ('{}' is unknown)", who, key,
                  who, slot_name);
    }
    const Tensor& p = params_[*index];
    if (!t.defined() || t.shape() != p.shape() || t.dtype() != p.dtype()) {
      throw error("{}.load_state_dict: '{}' has {} {}, but parameter {} is {} {}", who, key,
                  t.defined() ? dtype_name(t.dtype()) : "undefined",
                  t.defined() ? shape_str(t.shape()) : "", *index, dtype_name(p.dtype()),
                  shape_str(p.shape()));
    }
    slots[*index][slot_index] = t;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!by_key.contains(fmt::format("{}.step", i))) {
      throw error("{}.load_state_dict: missing key '{}.step'", who, i);
    }
  }
  // Everything is valid: copy (never alias the caller's tensors, which step() would update).
  const NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    for (size_t s = 0; s < slot_names_.size(); ++s) {
      state_[i][s] = slots[i][s].defined() ? clone(slots[i][s]).contiguous() : Tensor();
    }
  }
  parameter_steps_ = std::move(steps);
  iterations_ = iterations;
  learning_rate_ = lr;
}

void Optimizer::for_each_gradient(const UpdateFn& update) {
  const NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    ++parameter_steps_[i];
    const Tensor g = grad.dtype() == p.dtype() ? grad : to(grad, p.dtype());
    if (p.is_contiguous()) {
      update(i, p, g);
      continue;
    }
    // The fused updates walk contiguous data: a view is updated as a contiguous copy, written back.
    Tensor dense = contiguous(p);
    update(i, dense, g);
    p.copy_(dense);
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
