// The engine: records nodes, sorts the graph iteratively, runs backward closures in reverse order,
// reduces gradients over broadcast dims, accumulates into leaves and frees nodes without recursion.
#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "autograd/grad.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla::autograd {
namespace {

std::atomic<int64_t> live_nodes{0};
thread_local bool grad_enabled = true;
// The edges of the node whose backward is running, so that it can skip unneeded gradients.
thread_local const std::vector<Edge>* running_edges = nullptr;

// Destroying a node releases its inputs' nodes, which release theirs...: a chain of a million ops
// would recurse a million frames deep. Nested deletions are queued and run by the outermost one.
struct NodeDeleter {
  void operator()(Node* node) const {
    thread_local std::vector<Node*> pending;
    thread_local bool deleting = false;
    pending.push_back(node);
    if (deleting) return;
    deleting = true;
    while (!pending.empty()) {
      Node* next = pending.back();
      pending.pop_back();
      delete next;
    }
    deleting = false;
  }
};

AutogradMeta& meta_of(const Tensor& t) {
  TensorImpl* impl = t.impl_ptr();
  if (impl == nullptr) throw error("autograd: use of an undefined tensor");
  if (!impl->autograd_meta) impl->autograd_meta = std::make_shared<AutogradMeta>();
  return *impl->autograd_meta;
}

const AutogradMeta* find_meta(const Tensor& t) {
  return t.defined() ? t.impl_ptr()->autograd_meta.get() : nullptr;
}

bool tensor_requires_grad(const Tensor& t) {
  const AutogradMeta* meta = find_meta(t);
  return meta != nullptr && (meta->requires_grad || meta->grad_fn != nullptr);
}

}  // namespace

struct NodeAccess {
  static std::vector<GradHook>& pre_hooks(Node& node) { return node.pre_hooks_; }
};

Node::Node(std::string name, BackwardFn backward, std::vector<Edge> edges,
           std::vector<SavedVersion> saved)
    : name_(std::move(name)),
      backward_(std::move(backward)),
      edges_(std::move(edges)),
      saved_(std::move(saved)) {
  live_nodes.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() { live_nodes.fetch_sub(1, std::memory_order_relaxed); }

int64_t Node::live_count() { return live_nodes.load(std::memory_order_relaxed); }

bool is_grad_enabled() { return grad_enabled; }

bool input_needs_grad(size_t index) {
  if (running_edges == nullptr || index >= running_edges->size()) return true;
  return (*running_edges)[index].needed();
}
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

Tensor alias_without_graph(const Tensor& t) {
  return Tensor::make_view(t, t.shape(), t.strides(), t.storage_offset());
}

Tensor record(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
              BackwardFn backward, const std::vector<Tensor>& saved) {
  if (!grad_enabled) return result;
  bool any = false;
  for (const Tensor& input : inputs) any = any || tensor_requires_grad(input);
  if (!any) return result;
  // A kernel may hand back one of its inputs unchanged (a no-op reshape or cast); the node must go
  // on a new tensor, never on the input.
  bool shares_impl = result.impl_ptr()->autograd_meta != nullptr;
  for (const Tensor& input : inputs) shares_impl = shares_impl || input.is_same(result);
  if (shares_impl) result = alias_without_graph(result);

  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined()) {
      edge.shape = input.shape();
      edge.dtype = input.dtype();
      if (const AutogradMeta* meta = find_meta(input)) {
        if (meta->grad_fn) {
          edge.node = meta->grad_fn;
        } else if (meta->requires_grad) {
          edge.leaf = input.impl_shared();
        }
      }
    }
    edges.push_back(std::move(edge));
  }
  std::vector<SavedVersion> versions;
  versions.reserve(saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    if (!saved[i].defined()) continue;
    versions.push_back(
        {saved[i].storage(), saved[i].version(),
         fmt::format("saved tensor {} of shape {}", i, shape_str(saved[i].shape()))});
  }
  auto node = std::shared_ptr<Node>(
      new Node(std::string(name), std::move(backward), std::move(edges), std::move(versions)),
      NodeDeleter{});
  AutogradMeta& meta = meta_of(result);
  meta.grad_fn = std::move(node);
  meta.requires_grad = true;
  return result;
}

class Engine {
 public:
  // Runs backward from `roots`. With `capture` non-empty, gradients w.r.t. those tensors are
  // returned instead of being accumulated into leaves.
  static std::vector<Tensor> run(const std::vector<Tensor>& roots,
                                 const std::vector<Tensor>& root_grads, bool retain_graph,
                                 bool create_graph, const std::vector<Tensor>* capture);
};

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

}  // namespace

std::vector<Tensor> Engine::run(const std::vector<Tensor>& roots,
                                const std::vector<Tensor>& root_grads, bool retain_graph,
                                bool create_graph, const std::vector<Tensor>* capture) {
  const GradModeGuard mode(create_graph);
  std::vector<Tensor> captured;
  std::unordered_map<const Node*, size_t> capture_nodes;
  std::unordered_map<const TensorImpl*, size_t> capture_leaves;
  if (capture != nullptr) {
    captured.resize(capture->size());
    for (size_t i = 0; i < capture->size(); ++i) {
      const Tensor& input = (*capture)[i];
      const AutogradMeta* meta = find_meta(input);
      if (meta == nullptr || (!meta->requires_grad && !meta->grad_fn)) {
        throw error("grad: input {} (shape {}) does not require grad", i, shape_str(input.shape()));
      }
      if (meta->grad_fn) {
        capture_nodes[meta->grad_fn.get()] = i;
      } else {
        capture_leaves[input.impl_ptr()] = i;
      }
    }
  }

  auto deliver_to_leaf = [&](const std::shared_ptr<TensorImpl>& leaf, Tensor grad) {
    AutogradMeta& meta = *leaf->autograd_meta;
    grad = run_hooks(meta.hooks, std::move(grad), [&leaf] {
      return fmt::format("the leaf tensor of shape {}", shape_str(leaf->shape));
    });
    if (capture != nullptr) {
      auto it = capture_leaves.find(leaf.get());
      if (it != capture_leaves.end()) captured[it->second] = accumulate(captured[it->second], grad);
      return;
    }
    // Keep the gradient only if nobody else can write to it; otherwise own a copy.
    if (!create_graph && (grad.storage().use_count() > 1 || !grad.is_contiguous())) {
      grad = kernels::clone(grad);
    }
    meta.grad = accumulate(meta.grad, grad);
  };

  // Gradients waiting at each node, and how many producers each node still waits for.
  std::unordered_map<const Node*, Tensor> pending;
  std::unordered_map<const Node*, int64_t> dependencies;
  std::vector<std::shared_ptr<Node>> ready;

  std::vector<std::shared_ptr<Node>> stack;
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
    if (node->released()) {
      throw error(
          "backward: the graph of {} was already freed by an earlier backward; pass "
          "retain_graph=true to backward twice",
          node->name());
    }
    pending[node] = accumulate(pending[node], grad);
    if (dependencies.emplace(node, 0).second) stack.push_back(meta->grad_fn);
  }

  // Iterative DFS: count, for each node, the edges that lead into it.
  std::vector<std::shared_ptr<Node>> roots_nodes = stack;
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    for (const Edge& edge : node->edges_) {
      if (!edge.node) continue;
      auto [it, inserted] = dependencies.emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(edge.node);
    }
  }
  for (auto& node : roots_nodes) {
    if (dependencies[node.get()] == 0) ready.push_back(node);
  }

  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    if (node->released_) {
      throw error(
          "backward: the graph of {} was already freed by an earlier backward; pass "
          "retain_graph=true to backward twice",
          node->name_);
    }
    auto pending_it = pending.find(node.get());
    Tensor grad = pending_it != pending.end() ? std::move(pending_it->second) : Tensor();
    if (pending_it != pending.end()) pending.erase(pending_it);
    std::vector<std::shared_ptr<Node>> next_ready;
    if (grad.defined()) {
      grad = run_hooks(node->pre_hooks_, std::move(grad),
                       [&node] { return fmt::format("the output of {}", node->name_); });
      if (capture != nullptr) {
        auto it = capture_nodes.find(node.get());
        if (it != capture_nodes.end()) captured[it->second] = grad;
      }
      for (const SavedVersion& saved : node->saved_) {
        if (saved.storage->version() != saved.version) {
          throw error(
              "backward: {} of {} was modified by an in-place operation after it was "
              "saved (version {} now, {} when saved)",
              saved.what, node->name_, saved.storage->version(), saved.version);
        }
      }
      running_edges = &node->edges_;
      Grads grads;
      try {
        grads = node->backward_(grad);
      } catch (...) {
        running_edges = nullptr;
        throw;
      }
      running_edges = nullptr;
      if (grads.size() != node->edges_.size()) {
        throw error("backward: {} returned {} gradients for {} inputs", node->name_, grads.size(),
                    node->edges_.size());
      }
      for (size_t i = 0; i < grads.size(); ++i) {
        const Edge& edge = node->edges_[i];
        if (!edge.needed() || !grads[i].defined()) continue;
        Tensor fitted = fit_to_input(grads[i], edge, node->name_);
        if (edge.leaf) {
          deliver_to_leaf(edge.leaf, std::move(fitted));
        } else {
          Tensor& slot = pending[edge.node.get()];
          slot = accumulate(slot, fitted);
        }
      }
    }
    for (const Edge& edge : node->edges_) {
      if (edge.node && --dependencies[edge.node.get()] == 0) ready.push_back(edge.node);
    }
    if (!retain_graph) {
      node->released_ = true;
      node->backward_ = nullptr;
      node->edges_.clear();
      node->saved_.clear();
    }
  }
  return captured;
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
  return Engine::run(outputs, seeds, retain_graph.value_or(create_graph), create_graph, &inputs);
}

}  // namespace nabla::autograd

namespace nabla {

using autograd::AutogradMeta;

bool Tensor::requires_grad() const { return autograd::tensor_requires_grad(*this); }

Tensor& Tensor::requires_grad_(bool enabled) {
  if (enabled && !is_floating_point()) {
    throw error("requires_grad_: only float32 and float64 tensors can require grad, got {}",
                dtype_name(dtype()));
  }
  AutogradMeta& meta = autograd::meta_of(*this);
  if (meta.grad_fn && !enabled) {
    throw error("requires_grad_: a non-leaf tensor always requires grad; use detach()");
  }
  meta.requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const {
  const AutogradMeta* meta = autograd::find_meta(*this);
  return meta != nullptr ? meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined() && grad.shape() != shape()) {
    throw error("set_grad: gradient of shape {} for a tensor of shape {}", shape_str(grad.shape()),
                shape_str(shape()));
  }
  autograd::meta_of(*this).grad = grad;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const AutogradMeta* meta = autograd::find_meta(*this);
  return meta != nullptr ? meta->grad_fn : nullptr;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  Tensor seed = gradient;
  if (!seed.defined()) {
    if (numel() != 1) {
      throw error(
          "backward: grad can be implicitly created only for a one-element output, got "
          "shape {}",
          shape_str(shape()));
    }
    seed = ones_like(*this);
  }
  // As in PyTorch, a graph built for higher derivatives is kept.
  autograd::Engine::run({*this}, {seed}, retain_graph || create_graph, create_graph, nullptr);
}

Tensor Tensor::detach() const { return autograd::alias_without_graph(*this); }

void Tensor::retain_grad() const {
  AutogradMeta& meta = autograd::meta_of(*this);
  if (!meta.grad_fn) return;  // leaves keep their gradient anyway
  if (meta.retains_grad) return;
  meta.retains_grad = true;
  std::weak_ptr<AutogradMeta> weak = impl_ptr()->autograd_meta;
  autograd::NodeAccess::pre_hooks(*meta.grad_fn).emplace_back([weak](const Tensor& grad) {
    if (auto locked = weak.lock()) {
      locked->grad = locked->grad.defined() ? add(locked->grad, grad) : grad.detach();
    }
    return Tensor();
  });
}

void Tensor::register_hook(GradHook hook) const {
  AutogradMeta& meta = autograd::meta_of(*this);
  if (meta.grad_fn) {
    autograd::NodeAccess::pre_hooks(*meta.grad_fn).push_back(std::move(hook));
  } else if (meta.requires_grad) {
    meta.hooks.push_back(std::move(hook));
  } else {
    throw error("register_hook: the tensor does not require grad");
  }
}

}  // namespace nabla
