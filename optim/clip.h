// Gradient clipping over a list of parameters (call between backward() and the optimizer's step).
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace nabla::optim {

// Scales every defined gradient by max_norm / (norm + 1e-6) when that factor is below 1, where
// norm is the L2 norm of all gradients taken together (torch.nn.utils.clip_grad_norm_); returns
// norm before clipping. The norm is accumulated in double whatever the gradients' dtype.
// A NaN or infinite norm leaves the gradients untouched (scaling would turn every gradient into
// NaN or zero) and is returned so that the caller can skip the step; with error_if_nonfinite it
// throws instead. Parameters without a gradient are ignored. Throws if max_norm is negative or NaN.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm,
                      bool error_if_nonfinite = false);

// Clamps every defined gradient elementwise into [-clip, clip]. Throws if clip is negative or NaN.
void clip_grad_value(const std::vector<Tensor>& params, double clip);

}  // namespace nabla::optim
