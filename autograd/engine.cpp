// The engine's walk: seed the roots, count each node's producers (an iterative DFS, so deep graphs
// cannot overflow the stack), then run the nodes in reverse topological order, delivering each
// gradient (reduced over broadcast dims) to the next node or accumulating it into a leaf.
#include <unordered_map>

#include "autograd/grad.h"
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla::autograd {
namespace {

Tensor accumulate(const Tensor& existing, const Tensor& incoming) {
  if (!existing.defined()) return incoming;
  return add(existing, incoming);
}

// The gradient as the input saw it: broadcast dims summed away, cast back to the input's dtype.
Tensor fit_to_input(const Tensor& grad, const Edge& edge, std::string_view node_name) {
  Tensor fitted = grad;
  if (fitted.shape() != edge.shape) {
    try {
      fitted = sum_to(fitted, edge.shape);
    } catch (const Error&) {
      throw error("backward: {} returned a gradient of shape {} for an input of shape {}",
                  node_name, shape_str(grad.shape()), shape_str(edge.shape));
    }
  }
  if (fitted.dtype() != edge.dtype) fitted = fitted.to(edge.dtype);
  return fitted;
}

// Runs the hooks of one tensor (`describe_owner()` names it in errors); a hook may replace the
// gradient, but only by one of the same shape and dtype, or the error would surface far away (in
// an optimizer).
template <typename DescribeOwner>
Tensor run_hooks(const std::vector<GradHook>& hooks, Tensor grad,
                 const DescribeOwner& describe_owner) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    Tensor replaced = hooks[i](grad);
    if (!replaced.defined()) continue;
    if (replaced.shape() != grad.shape() || replaced.dtype() != grad.dtype()) {
      throw error(
          "register_hook: hook {} of {} returned a gradient of shape {} and dtype {}; the "
          "gradient it received has shape {} and dtype {}",
          i, describe_owner(), shape_str(replaced.shape()), dtype_name(replaced.dtype()),
          shape_str(grad.shape()), dtype_name(grad.dtype()));
    }
    grad = std::move(replaced);
  }
  return grad;
}

void check_not_released(const Node& node) {
  if (node.released()) {
    throw error(
        "backward: the graph of {} was already freed by an earlier backward; pass "
        "retain_graph=true to backward twice",
        node.name());
  }
}

}  // namespace

// One backward pass; run() reads as its steps.
class Engine {
 public:
  static std::vector<Tensor> run(const std::vector<Tensor>& roots,
                                 const std::vector<Tensor>& root_grads, bool retain_graph,
                                 bool create_graph, const std::vector<Tensor>* capture) {
    const GradModeGuard mode(create_graph);
    Engine engine(retain_graph, create_graph, capture);
    engine.index_capture();
    engine.count_dependencies(engine.seed_roots(roots, root_grads));
    while (!engine.ready_.empty()) {
      std::shared_ptr<Node> node = std::move(engine.ready_.back());
      engine.ready_.pop_back();
      engine.run_node(node);
    }
    return std::move(engine.captured_);
  }

 private:
  Engine(bool retain_graph, bool create_graph, const std::vector<Tensor>* capture)
      : retain_graph_(retain_graph), create_graph_(create_graph), capture_(capture) {}

  // autograd::grad: where each requested input's gradient is captured (by node or by leaf).
  void index_capture();
  // Hands each root its gradient; returns the roots' nodes.
  std::vector<std::shared_ptr<Node>> seed_roots(const std::vector<Tensor>& roots,
                                                const std::vector<Tensor>& root_grads);
  // Counts, for each node reachable from the roots, the edges that lead into it; the roots that
  // nothing leads into are ready.
  void count_dependencies(const std::vector<std::shared_ptr<Node>>& root_nodes);
  // Runs a ready node's hooks and backward, delivers its gradients, readies the nodes it was the
  // last producer of, and frees it unless retain_graph.
  void run_node(const std::shared_ptr<Node>& node);
  // Checks that no saved tensor of `node` was modified in place since it was recorded.
  static void check_saved_versions(const Node& node);
  // One input's gradient: to its node's pending sum, or into its leaf.
  void deliver(const Edge& edge, Tensor grad);
  void deliver_to_leaf(const std::shared_ptr<TensorImpl>& leaf, Tensor grad);
  // One edge into `leaf` is done (its node ran); after the last, the post-accumulate hooks run.
  void finish_leaf_edge(const std::shared_ptr<TensorImpl>& leaf);
  static void run_post_accumulate_hooks(const std::shared_ptr<TensorImpl>& leaf);

  bool retain_graph_;
  bool create_graph_;
  const std::vector<Tensor>* capture_;
  std::vector<Tensor> captured_;
  std::unordered_map<const Node*, size_t> capture_nodes_;
  std::unordered_map<const TensorImpl*, size_t> capture_leaves_;
  // Gradients waiting at each node, and how many producers each node still waits for.
  std::unordered_map<const Node*, Tensor> pending_;
  std::unordered_map<const Node*, int64_t> dependencies_;
  std::vector<std::shared_ptr<Node>> ready_;
  // Leaves with post-accumulate hooks: edges into each still to run, and whether one delivered.
  struct LeafProgress {
    int64_t remaining = 0;
    bool received = false;
  };
  std::unordered_map<const TensorImpl*, LeafProgress> hooked_leaves_;
};

void Engine::index_capture() {
  if (capture_ == nullptr) return;
  captured_.resize(capture_->size());
  for (size_t i = 0; i < capture_->size(); ++i) {
    const Tensor& input = (*capture_)[i];
    const AutogradMeta* meta = find_meta(input);
    if (meta == nullptr || (!meta->requires_grad && !meta->grad_fn)) {
      throw error("grad: input {} (shape {}) does not require grad", i, shape_str(input.shape()));
    }
    if (meta->grad_fn) {
      capture_nodes_[meta->grad_fn.get()] = i;
    } else {
      capture_leaves_[input.impl_ptr()] = i;
    }
  }
}

std::vector<std::shared_ptr<Node>> Engine::seed_roots(const std::vector<Tensor>& roots,
                                                      const std::vector<Tensor>& root_grads) {
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    const AutogradMeta* meta = find_meta(root);
    if (meta == nullptr || (!meta->requires_grad && !meta->grad_fn)) {
      throw error("backward: output {} (shape {}) does not require grad and has no grad_fn", i,
                  shape_str(root.shape()));
    }
    if (root_grads[i].shape() != root.shape()) {
      throw error("backward: gradient of shape {} does not match output {} of shape {}",
                  shape_str(root_grads[i].shape()), i, shape_str(root.shape()));
    }
    Tensor grad =
        root_grads[i].dtype() == root.dtype() ? root_grads[i] : root_grads[i].to(root.dtype());
    if (!meta->grad_fn) {
      deliver_to_leaf(root.impl_shared(), grad);
      continue;
    }
    const Node* node = meta->grad_fn.get();
    check_not_released(*node);
    pending_[node] = accumulate(pending_[node], grad);
    if (dependencies_.emplace(node, 0).second) root_nodes.push_back(meta->grad_fn);
  }
  return root_nodes;
}

void Engine::count_dependencies(const std::vector<std::shared_ptr<Node>>& root_nodes) {
  std::vector<std::shared_ptr<Node>> stack = root_nodes;
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    for (const Edge& edge : node->edges_) {
      if (edge.leaf && capture_ == nullptr &&
          !edge.leaf->autograd_meta->post_accumulate_hooks.empty()) {
        ++hooked_leaves_[edge.leaf.get()].remaining;
      }
      if (!edge.node) continue;
      auto [it, inserted] = dependencies_.emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(edge.node);
    }
  }
  for (const auto& node : root_nodes) {
    if (dependencies_[node.get()] == 0) ready_.push_back(node);
  }
}

void Engine::check_saved_versions(const Node& node) {
  for (const SavedVersion& saved : node.saved_) {
    if (saved.storage->version() != saved.version) {
      throw error(
          "backward: saved tensor {} of shape {} of {} was modified by an in-place operation "
          "after it was saved (version {} now, {} when saved)",
          saved.index, shape_str(saved.shape), node.name_, saved.storage->version(), saved.version);
    }
  }
}

void Engine::run_node(const std::shared_ptr<Node>& node) {
  check_not_released(*node);
  auto pending_it = pending_.find(node.get());
  Tensor grad;
  if (pending_it != pending_.end()) {
    grad = std::move(pending_it->second);
    pending_.erase(pending_it);
  }
  if (grad.defined()) {
    grad = run_hooks(node->pre_hooks_, std::move(grad),
                     [&node] { return fmt::format("the output of {}", node->name_); });
    if (capture_ != nullptr) {
      auto it = capture_nodes_.find(node.get());
      if (it != capture_nodes_.end()) captured_[it->second] = grad;
    }
    check_saved_versions(*node);
    const Grads grads = node->masked_backward_
                            ? node->masked_backward_(grad, NeedsGrad(node->edges_))
                            : node->backward_(grad);
    if (grads.size() != node->edges_.size()) {
      throw error("backward: {} returned {} gradients for {} inputs", node->name_, grads.size(),
                  node->edges_.size());
    }
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& edge = node->edges_[i];
      if (!edge.needed() || !grads[i].defined()) continue;
      deliver(edge, fit_to_input(grads[i], edge, node->name_));
    }
  }
  for (const Edge& edge : node->edges_) {
    if (edge.node && --dependencies_[edge.node.get()] == 0) ready_.push_back(edge.node);
    if (edge.leaf && !hooked_leaves_.empty()) finish_leaf_edge(edge.leaf);
  }
  if (!retain_graph_) {
    node->released_ = true;
    node->backward_ = nullptr;
    node->masked_backward_ = nullptr;
    node->edges_.clear();
    node->saved_.clear();
  }
}

void Engine::deliver(const Edge& edge, Tensor grad) {
  if (edge.leaf) {
    deliver_to_leaf(edge.leaf, std::move(grad));
    return;
  }
  Tensor& slot = pending_[edge.node.get()];
  slot = accumulate(slot, grad);
}

void Engine::deliver_to_leaf(const std::shared_ptr<TensorImpl>& leaf, Tensor grad) {
  AutogradMeta& meta = *leaf->autograd_meta;
  grad = run_hooks(meta.hooks, std::move(grad), [&leaf] {
    return fmt::format("the leaf tensor of shape {}", shape_str(leaf->shape));
  });
  if (capture_ != nullptr) {
    auto it = capture_leaves_.find(leaf.get());
    if (it != capture_leaves_.end()) {
      captured_[it->second] = accumulate(captured_[it->second], grad);
    }
    return;
  }
  // Keep the gradient only if nobody else can write to it; otherwise own a copy.
  if (!create_graph_ && (grad.storage().use_count() > 1 || !grad.is_contiguous())) {
    grad = kernels::clone(grad);
  }
  meta.grad = accumulate(meta.grad, grad);
  if (meta.post_accumulate_hooks.empty()) return;
  auto it = hooked_leaves_.find(leaf.get());
  if (it == hooked_leaves_.end()) {
    run_post_accumulate_hooks(leaf);  // a root: its one gradient is complete
  } else {
    it->second.received = true;
  }
}

void Engine::finish_leaf_edge(const std::shared_ptr<TensorImpl>& leaf) {
  auto it = hooked_leaves_.find(leaf.get());
  if (it == hooked_leaves_.end() || --it->second.remaining > 0) return;
  const bool received = it->second.received;
  hooked_leaves_.erase(it);
  if (received) run_post_accumulate_hooks(leaf);
}

void Engine::run_post_accumulate_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  // NOTE: a copy, so that a hook may register another hook without invalidating the loop.
  const std::vector<PostAccumulateGradHook> hooks = leaf->autograd_meta->post_accumulate_hooks;
  const Tensor tensor(leaf);
  for (const auto& hook : hooks) hook(tensor);
}

std::vector<Tensor> run_backward(const std::vector<Tensor>& roots,
                                 const std::vector<Tensor>& root_grads, bool retain_graph,
                                 bool create_graph, const std::vector<Tensor>* capture) {
  return Engine::run(roots, root_grads, retain_graph, create_graph, capture);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
    throw error("grad: {} grad_outputs given for {} outputs", grad_outputs.size(), outputs.size());
  }
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!grad_outputs.empty() && grad_outputs[i].defined()) {
      seeds.push_back(grad_outputs[i]);
    } else if (outputs[i].numel() == 1) {
      seeds.push_back(ones_like(outputs[i]));
    } else {
      throw error("grad: output {} has shape {}; a grad_output is needed for a non-scalar output",
                  i, shape_str(outputs[i].shape()));
    }
  }
  return run_backward(outputs, seeds, retain_graph.value_or(create_graph), create_graph, &inputs);
}

}  // namespace nabla::autograd
