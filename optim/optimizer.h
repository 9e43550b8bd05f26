// Optimizer: the base of the first-order optimizers. It updates a list of parameter tensors from
// their grad() and keeps their per-parameter state; it knows nothing of nn::Module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/io/safetensors.h"
#include "tensor/tensor.h"

namespace nabla::optim {

// An optimizer's resumable state: its type (name()) and named tensors, all of them copies.
//   "num_parameters", "iterations"  int64 scalars
//   "learning_rate"                 float64 scalar (a schedule may have changed it)
//   "<i>.step"                      int64 scalar: parameter_steps(i)
//   "<i>.<slot>"                    parameter i's state tensor `slot` ("m", "v", ...), when created
// Hyper-parameters other than the learning rate are not in it: the optimizer is rebuilt with the
// same options, and its state loaded into it.
struct OptimizerState {
  std::string type;
  NamedTensors tensors;
};

// Conventions shared by every optimizer here:
// - step() updates, in place and under NoGradGuard, each parameter whose grad() is defined; a
//   parameter without a gradient is skipped and its state does not advance.
// - `weight_decay` is the L2 term added to the gradient (PyTorch semantics: g += wd * p), except in
//   AdamW where it is decoupled (p *= 1 - lr * wd before the update).
// - Per-parameter state tensors (momentum buffers, moments, accumulators) are created at a
//   parameter's first update, contiguous, with the parameter's shape and dtype.
// - Each parameter is updated in one fused pass (optim/fused.h) that rounds exactly like the
//   formula written as tensor ops; a non-contiguous parameter (a view) through a contiguous copy.
// - Hyper-parameters are checked at construction; a bad value throws nabla::Error naming the
//   optimizer, the hyper-parameter and the value.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  Optimizer(Optimizer&&) = delete;
  Optimizer& operator=(Optimizer&&) = delete;

  // Applies one update to every parameter that has a gradient and counts one iteration.
  virtual void step() = 0;
  // Makes every parameter's gradient undefined (not zero: the next backward then writes a fresh
  // gradient instead of adding into a buffer, and step() skips parameters it never reached).
  void zero_grad();

  [[nodiscard]] double learning_rate() const { return learning_rate_; }
  // Throws unless lr is finite and >= 0. Schedules call this; the state is kept.
  void set_learning_rate(double lr);

  [[nodiscard]] const std::vector<Tensor>& parameters() const { return params_; }
  // Replaces the parameter list (for models that create their parameters at their first call) and
  // resets all per-parameter state and the iteration count: the state of a different list of
  // tensors would be meaningless.
  void set_parameters(std::vector<Tensor> params);

  // "SGD", "RMSprop", "Adam", "AdamW", "Adagrad".
  [[nodiscard]] virtual std::string name() const { return name_; }
  // Number of step() calls since construction or the last set_parameters().
  [[nodiscard]] int64_t iterations() const { return iterations_; }
  // Number of updates parameter `index` has received (it can lag iterations() when the parameter
  // had no gradient at some steps); Adam's bias correction uses it.
  [[nodiscard]] int64_t parameter_steps(size_t index) const;

  // Names of this optimizer's per-parameter state tensors ("momentum_buffer", "m", "v", ...).
  [[nodiscard]] const std::vector<std::string>& state_names() const { return slot_names_; }
  // The state tensor `slot` of parameter `index`: undefined until the parameter's first update
  // (and for slots an option leaves unused, such as Adam's "v_max" without amsgrad).
  [[nodiscard]] Tensor state(size_t index, std::string_view slot) const;

  // A copy of the iteration counts, the learning rate and every created state tensor (see
  // OptimizerState), so that load_state_dict() on an optimizer of the same type, options and
  // parameter shapes continues bit for bit.
  [[nodiscard]] OptimizerState state_dict() const;
  // Validates everything first (type, parameter count, every key, each tensor's dtype and shape
  // against its parameter's) and throws nabla::Error naming the key and the shapes; a failed load
  // leaves the optimizer unchanged. Slots absent from `state` are left to be created lazily.
  void load_state_dict(const OptimizerState& state);

 protected:
  // `slot_names` lists the per-parameter state tensors the subclass uses, by index.
  Optimizer(std::string name, std::vector<Tensor> params, double learning_rate,
            std::vector<std::string> slot_names);

  using UpdateFn = std::function<void(size_t index, Tensor& param, const Tensor& grad)>;
  // Runs `update` under NoGradGuard for each parameter with a gradient (converted to the
  // parameter's dtype), after advancing that parameter's step count, then counts one iteration.
  // `param` is contiguous: a non-contiguous parameter's update goes to a copy, then written back.
  void for_each_gradient(const UpdateFn& update);

  // State slot `slot` of parameter `index`, undefined until the subclass assigns it.
  Tensor& slot(size_t index, size_t slot);
  // The same slot, created at first use as a tensor like the parameter filled with `value`.
  Tensor& slot_or_fill(size_t index, size_t slot, double value = 0.0);

  // Throws "<name>: <what> must be <requirement>, got <value>" unless `ok`.
  void check(bool ok, std::string_view what, std::string_view requirement, double value) const;

 private:
  void validate_parameters(const std::vector<Tensor>& params) const;

  std::string name_;
  std::vector<Tensor> params_;
  double learning_rate_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> state_;  // [param][slot]
  std::vector<int64_t> parameter_steps_;
  int64_t iterations_ = 0;
};

}  // namespace nabla::optim
