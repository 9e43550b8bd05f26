// The Tensor members declared in tensor/tensor.h that autograd defines: requires_grad, grad,
// grad_fn, backward, detach, retain_grad and hooks (gradient and post-accumulate).
#include "autograd/graph.h"
#include "autograd/ops.h"

namespace nabla {

using autograd::AutogradMeta;

bool Tensor::requires_grad() const { return autograd::tracks_grad(*this); }

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
  autograd::run_backward({*this}, {seed}, retain_graph || create_graph, create_graph, nullptr);
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

void Tensor::register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const {
  AutogradMeta& meta = autograd::meta_of(*this);
  if (meta.grad_fn) {
    throw error(
        "register_post_accumulate_grad_hook: only a leaf accumulates a gradient; this tensor of "
        "shape {} is the output of {}",
        shape_str(shape()), meta.grad_fn->name());
  }
  if (!meta.requires_grad) {
    throw error("register_post_accumulate_grad_hook: the tensor of shape {} does not require grad",
                shape_str(shape()));
  }
  meta.post_accumulate_hooks.push_back(std::move(hook));
}

}  // namespace nabla
