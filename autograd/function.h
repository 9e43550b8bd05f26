// Custom differentiable functions: the user writes forward and backward in C++, and the result
// joins the graph like a built-in op.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/node.h"

namespace nabla::autograd {

struct FunctionContext {
  std::vector<Tensor> inputs;  // as passed to apply
  Tensor output;               // forward's result, without its graph link
  std::vector<Tensor> saved;   // anything forward chose to keep for backward
};

using ForwardFn = std::function<Tensor(FunctionContext& ctx, const std::vector<Tensor>& inputs)>;
// Returns one gradient per input (an undefined Tensor for "none"), shaped like the input or
// broadcastable to it.
using CustomBackwardFn =
    std::function<std::vector<Tensor>(const FunctionContext& ctx, const Tensor& grad_output)>;

// Runs `forward` without recording, then records one node named `name` whose backward is
// `backward`. Tensors in ctx.saved and the inputs are checked for in-place changes.
Tensor apply_function(const std::string& name, const std::vector<Tensor>& inputs,
                      const ForwardFn& forward, const CustomBackwardFn& backward);

}  // namespace nabla::autograd
