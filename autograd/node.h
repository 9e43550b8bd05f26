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

// A tensor a backward formula reads, and its version when it was saved.
struct SavedVersion {
  std::shared_ptr<Storage> storage;
  uint64_t version = 0;
  std::string what;
};

class Node {
 public:
  Node(std::string name, BackwardFn backward, std::vector<Edge> edges,
       std::vector<SavedVersion> saved);
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
};

// Grad mode: while disabled, ops record nothing (optimizer updates, evaluation, backward itself).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// Inside a backward closure: whether input `index` of the running node wants a gradient (a
// closure may then skip computing it and return an undefined Tensor). True outside backward.
bool input_needs_grad(size_t index);

// The one way into the graph: returns `result` with a node attached when grad mode is on and an
// input requires grad. `saved` lists tensors the backward reads, for in-place detection.
Tensor record(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
              BackwardFn backward, const std::vector<Tensor>& saved = {});

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
