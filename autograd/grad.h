// Reverse-mode gradients as a function: autograd::grad returns them instead of accumulating.
#pragma once

#include <optional>
#include <vector>

#include "autograd/node.h"

namespace nabla::autograd {

// d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs). An input the outputs do not depend on gets an
// undefined Tensor. With create_graph the returned gradients are themselves differentiable.
// retain_graph defaults to create_graph, as in PyTorch.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false);

}  // namespace nabla::autograd
