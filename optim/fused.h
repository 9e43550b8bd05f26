// Fused optimizer updates (internal to optim/): one vectorized pass per parameter over contiguous
// parameter, gradient and state data, instead of a chain of tensor ops with temporaries.
#pragma once

#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
#include "tensor/tensor.h"

namespace nabla::optim::fused {

// Each update below computes, element by element and in the parameter's dtype, the roundings of
// the formulas in sgd.h, rmsprop.h, adam.h and adagrad.h written as a chain of tensor ops, one
// rounding per op (fused.cpp is compiled without floating-point contraction, so no FMA merges two
// of them): the results are bit-identical on every CPU and for any thread count.
//
// Preconditions (Optimizer::for_each_gradient sees to the parameter's): parameter and the state
// tensors passed are defined, contiguous (so they share one element order), of the parameter's
// floating dtype and numel; the gradient has the parameter's dtype and numel and may have any
// layout or alias a written tensor (it is then read from a contiguous copy). State tensors that an
// option leaves unused may be undefined. Written tensors get their version bumped.

// Each update takes its optimizer's options, with learning_rate the rate of this step (a schedule
// may have changed it), plus what the step adds.
struct SgdUpdate : SgdOptions {
  bool first_step;  // the buffer is uninitialised and set to the (decayed) gradient
};
void sgd(const SgdUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& buffer);

void rmsprop(const RmspropOptions& u, const Tensor& param, const Tensor& grad,
             const Tensor& velocity, const Tensor& average_gradient, const Tensor& momentum);

struct AdamUpdate : AdamOptions {
  bool decoupled;           // AdamW
  double bias_correction1;  // 1 - beta1^t
  double bias_correction2;  // 1 - beta2^t
};
void adam(const AdamUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& m,
          const Tensor& v, const Tensor& v_max);

void adagrad(const AdagradOptions& u, const Tensor& param, const Tensor& grad,
             const Tensor& accumulator);

}  // namespace nabla::optim::fused
