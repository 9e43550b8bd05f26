// The dynamic graph: a Node per recorded op, holding its backward closure and the edges to the
// nodes (or leaves) of its inputs. Nodes own their inputs, never their outputs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor.h"

namespace nabla::autograd {

using Grads = std::vector<Tensor>;  // one per input; an undefined Tensor means "no gradient"
using BackwardFn = std::function<Grads(const Tensor& grad_output)>;

// Where the gradient of one input goes: the input's own node, or the leaf to accumulate into.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;  // the input's shape and dtype: the engine reduces and casts the gradient to them
  DType dtype = kFloat32;
  [[nodiscard]] bool needed() const { return node != nullptr || leaf != nullptr; }
};

// Which inputs of the running node want a gradient: a backward closure that receives it may skip
// the others (an expensive GEMM, say) and return an undefined Tensor for them.
class NeedsGrad {
 public:
  explicit NeedsGrad(const std::vector<Edge>& edges) : edges_(&edges) {}
  [[nodiscard]] bool operator[](size_t index) const {
    return index >= edges_->size() || (*edges_)[index].needed();
  }

 private:
  const std::vector<Edge>* edges_;
};

// A backward closure that is told which inputs need a gradient (matmul, conv2d).
using MaskedBackwardFn = std::function<Grads(const Tensor& grad_output, const NeedsGrad& needs)>;

// A tensor a backward formula reads, and its version when it was saved. Its position in record's
// `saved` list and its shape name it in the in-place error, formatted only when that is thrown.
struct SavedVersion {
  std::shared_ptr<Storage> storage;
  uint64_t version = 0;
  size_t index = 0;
  Shape shape;
};

class Node {
 public:
  // Exactly one of `backward` and `masked_backward` is set.
  Node(std::string name, BackwardFn backward, MaskedBackwardFn masked_backward,
       std::vector<Edge> edges, std::vector<SavedVersion> saved);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::vector<Edge>& next_edges() const { return edges_; }
  [[nodiscard]] bool released() const { return released_; }

  static int64_t live_count();  // debug counter: tests assert that graphs are freed

 private:
  friend class Engine;
  friend struct NodeAccess;
  std::string name_;
  BackwardFn backward_;
  MaskedBackwardFn masked_backward_;
  std::vector<Edge> edges_;
  std::vector<SavedVersion> saved_;
  std::vector<GradHook> pre_hooks_;  // hooks registered on the node's output tensor
  bool released_ = false;
};

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::vector<GradHook> hooks;  // leaf hooks; a non-leaf's live on its grad_fn
  std::vector<PostAccumulateGradHook> post_accumulate_hooks;  // leaves only
};

// Grad mode: while disabled, ops record nothing (optimizer updates, evaluation, backward itself).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// The one way into the graph (autograd/graph.cpp): returns `result` with a node attached when grad
// mode is on and an input requires grad. `saved` lists tensors the backward reads, for in-place
// detection. A closure taking a NeedsGrad learns which inputs want a gradient.
Tensor record(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
              BackwardFn backward, const std::vector<Tensor>& saved = {});
Tensor record(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
              MaskedBackwardFn backward, const std::vector<Tensor>& saved = {});

// The op's output as a plain alias, with no graph link: a closure can save it without the node
// owning itself.
Tensor alias_without_graph(const Tensor& t);

}  // namespace nabla::autograd

namespace nabla {

// RAII: disables gradient recording in its scope (restores the previous mode on exit).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(autograd::is_grad_enabled()) { autograd::set_grad_enabled(false); }
  ~NoGradGuard() { autograd::set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// RAII: enables (or sets) grad mode in its scope.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : previous_(autograd::is_grad_enabled()) {
    autograd::set_grad_enabled(enabled);
  }
  ~GradModeGuard() { autograd::set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace nabla
