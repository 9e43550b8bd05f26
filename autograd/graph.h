// Internal to autograd/: a tensor's AutogradMeta, a node's private parts and the backward walk,
// shared by graph.cpp (recording), engine.cpp (the walk) and tensor_autograd.cpp (Tensor members).
#pragma once

#include <vector>

#include "autograd/node.h"

namespace nabla::autograd {

// The tensor's autograd state, created on first use (throws on an undefined tensor). Creating the
// first one installs tensor/'s in-place check.
AutogradMeta& meta_of(const Tensor& t);
// The tensor's autograd state, or null when it has none (or is undefined).
const AutogradMeta* find_meta(const Tensor& t);
// A leaf marked requires_grad, or a tensor with a grad_fn.
bool tracks_grad(const Tensor& t);

struct NodeAccess {
  static std::vector<GradHook>& pre_hooks(Node& node) { return node.pre_hooks_; }
};

// Runs backward from `roots` (autograd/engine.cpp). With `capture` non-null, gradients w.r.t.
// those tensors are returned instead of being accumulated into leaves.
std::vector<Tensor> run_backward(const std::vector<Tensor>& roots,
                                 const std::vector<Tensor>& root_grads, bool retain_graph,
                                 bool create_graph, const std::vector<Tensor>* capture);

}  // namespace nabla::autograd
