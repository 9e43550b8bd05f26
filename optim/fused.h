// Fused optimizer updates (internal to optim/): one vectorized pass per parameter over contiguous
// parameter, gradient and state data, instead of a chain of tensor ops with temporaries.
#pragma once

#include <initializer_list>

#include "tensor/tensor.h"

namespace nabla::optim::fused {

// Each update below computes, element by element and in the parameter's dtype, exactly the
// roundings of the tensor-op formulas in sgd.cpp, rmsprop.cpp, adam.cpp and adagrad.cpp (fused.cpp
// is compiled without floating-point contraction, so no FMA merges two of them), so the fused and
// the tensor-op path give bit-identical results, on every CPU and for any thread count.
//
// Preconditions (the optimizers check them with can_fuse and fusable_gradient): parameter,
// gradient and the state tensors passed are defined, contiguous, of the parameter's floating dtype
// and numel, and the gradient shares no storage with the tensors written. State tensors that an
// option leaves unused may be undefined. Written tensors get their version bumped.

// True when `param` can be updated by the fused loops (contiguous; its state tensors are created
// contiguous with its shape, so they then share its element order).
bool can_fuse(const Tensor& param);
// `grad` itself when it is contiguous and shares storage with none of `written`, else a contiguous
// copy (an expanded or transposed gradient, or one aliasing the parameter or a state tensor).
Tensor fusable_gradient(const Tensor& grad, std::initializer_list<const Tensor*> written);

struct SgdUpdate {
  double learning_rate;
  double momentum;  // 0: no buffer
  double dampening;
  bool nesterov;
  double weight_decay;
  bool first_step;  // the buffer is uninitialised and set to the (decayed) gradient
};
void sgd(const SgdUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& buffer);

struct RmspropUpdate {
  double learning_rate;
  double rho;
  double epsilon;
  double momentum;  // 0: no momentum buffer
  bool centered;
  double weight_decay;
};
void rmsprop(const RmspropUpdate& u, const Tensor& param, const Tensor& grad,
             const Tensor& velocity, const Tensor& average_gradient, const Tensor& momentum);

struct AdamUpdate {
  double learning_rate;
  double beta1;
  double beta2;
  double epsilon;
  bool amsgrad;
  double weight_decay;
  bool decoupled;           // AdamW
  double bias_correction1;  // 1 - beta1^t
  double bias_correction2;  // 1 - beta2^t
};
void adam(const AdamUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& m,
          const Tensor& v, const Tensor& v_max);

struct AdagradUpdate {
  double learning_rate;
  double epsilon;
  double weight_decay;
};
void adagrad(const AdagradUpdate& u, const Tensor& param, const Tensor& grad,
             const Tensor& accumulator);

}  // namespace nabla::optim::fused
