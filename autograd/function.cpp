// apply_function: a user-defined op recorded through the same `record` as built-in ops.
#include "autograd/function.h"

namespace nabla::autograd {

Tensor apply_function(const std::string& name, const std::vector<Tensor>& inputs,
                      const ForwardFn& forward, const CustomBackwardFn& backward) {
  auto ctx = std::make_shared<FunctionContext>();
  ctx->inputs = inputs;
  Tensor output;
  {
    const NoGradGuard no_grad;
    output = forward(*ctx, inputs);
  }
  if (!output.defined()) throw error("{}: forward returned an undefined tensor", name);
  ctx->output = alias_without_graph(output);
  std::vector<Tensor> saved = ctx->saved;
  saved.insert(saved.end(), inputs.begin(), inputs.end());
  return record(
      name, output, inputs,
      [ctx, backward, name](const Tensor& grad) -> Grads {
        Grads grads = backward(*ctx, grad);
        if (grads.size() != ctx->inputs.size()) {
          throw error("{}: backward returned {} gradients for {} inputs", name, grads.size(),
                      ctx->inputs.size());
        }
        return grads;
      },
      saved);
}

}  // namespace nabla::autograd
