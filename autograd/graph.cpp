// Recording the graph: grad mode, record() (the one way into the graph), a tensor's AutogradMeta,
// and node lifetime (a live count, and deletion without recursion).
#include "autograd/graph.h"

#include <atomic>

namespace nabla::autograd {
namespace {

std::atomic<int64_t> live_nodes{0};
thread_local bool grad_enabled = true;

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

// Installed into tensor/ (set_inplace_check): the in-place ops refuse a tensor autograd tracks.
void refuse_inplace_when_tracked(std::string_view op, const Tensor& t) {
  if (grad_enabled && tracks_grad(t)) {
    throw error(
        "{}: in-place operation on a tensor that requires grad (shape {}); use an "
        "out-of-place op or wrap the update in NoGradGuard",
        op, shape_str(t.shape()));
  }
}

Edge edge_to(const Tensor& input) {
  Edge edge;
  if (!input.defined()) return edge;
  edge.shape = input.shape();
  edge.dtype = input.dtype();
  if (const AutogradMeta* meta = find_meta(input)) {
    if (meta->grad_fn) {
      edge.node = meta->grad_fn;
    } else if (meta->requires_grad) {
      edge.leaf = input.impl_shared();
    }
  }
  return edge;
}

Tensor record_node(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
                   BackwardFn backward, MaskedBackwardFn masked_backward,
                   const std::vector<Tensor>& saved) {
  if (!grad_enabled) return result;
  bool any = false;
  for (const Tensor& input : inputs) any = any || tracks_grad(input);
  if (!any) return result;
  // A kernel may hand back one of its inputs unchanged (a no-op reshape or cast); the node must go
  // on a new tensor, never on the input.
  bool shares_impl = result.impl_ptr()->autograd_meta != nullptr;
  for (const Tensor& input : inputs) shares_impl = shares_impl || input.is_same(result);
  if (shares_impl) result = alias_without_graph(result);

  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& input : inputs) edges.push_back(edge_to(input));
  std::vector<SavedVersion> versions;
  versions.reserve(saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    if (!saved[i].defined()) continue;
    versions.push_back({saved[i].storage(), saved[i].version(), i, saved[i].shape()});
  }
  auto node = std::shared_ptr<Node>(
      new Node(std::string(name), std::move(backward), std::move(masked_backward), std::move(edges),
               std::move(versions)),
      NodeDeleter{});
  AutogradMeta& meta = meta_of(result);
  meta.grad_fn = std::move(node);
  meta.requires_grad = true;
  return result;
}

}  // namespace

Node::Node(std::string name, BackwardFn backward, MaskedBackwardFn masked_backward,
           std::vector<Edge> edges, std::vector<SavedVersion> saved)
    : name_(std::move(name)),
      backward_(std::move(backward)),
      masked_backward_(std::move(masked_backward)),
      edges_(std::move(edges)),
      saved_(std::move(saved)) {
  live_nodes.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() { live_nodes.fetch_sub(1, std::memory_order_relaxed); }

int64_t Node::live_count() { return live_nodes.load(std::memory_order_relaxed); }

bool is_grad_enabled() { return grad_enabled; }

void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

AutogradMeta& meta_of(const Tensor& t) {
  TensorImpl* impl = t.impl_ptr();
  if (impl == nullptr) throw error("autograd: use of an undefined tensor");
  if (!impl->autograd_meta) {
    // Before the first slot is filled, so that every tensor with a slot finds the check.
    static const bool kInplaceCheckInstalled =
        (set_inplace_check(&refuse_inplace_when_tracked), true);
    (void)kInplaceCheckInstalled;
    impl->autograd_meta = std::make_shared<AutogradMeta>();
  }
  return *impl->autograd_meta;
}

const AutogradMeta* find_meta(const Tensor& t) {
  return t.defined() ? t.impl_ptr()->autograd_meta.get() : nullptr;
}

bool tracks_grad(const Tensor& t) {
  const AutogradMeta* meta = find_meta(t);
  return meta != nullptr && (meta->requires_grad || meta->grad_fn != nullptr);
}

Tensor alias_without_graph(const Tensor& t) {
  return Tensor::make_view(t, t.shape(), t.strides(), t.storage_offset());
}

Tensor record(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
              BackwardFn backward, const std::vector<Tensor>& saved) {
  return record_node(name, std::move(result), inputs, std::move(backward), nullptr, saved);
}

Tensor record(std::string_view name, Tensor result, const std::vector<Tensor>& inputs,
              MaskedBackwardFn backward, const std::vector<Tensor>& saved) {
  return record_node(name, std::move(result), inputs, nullptr, std::move(backward), saved);
}

}  // namespace nabla::autograd
