// nabla::Tensor: a handle to storage + shape + strides + offset + dtype, with an opaque slot for
// autograd state. The gradient-related and differentiable members are declared here and defined in
// autograd/; everything else (metadata, elements, in-place ops) is defined in tensor/.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace nabla {

namespace autograd {
class Node;
struct AutogradMeta;  // opaque here: tensor/ stores it, autograd/ defines it
}  // namespace autograd

class Tensor;

struct TensorImpl {
  TensorImpl(std::shared_ptr<Storage> storage_in, Shape shape_in, Shape strides_in,
             int64_t offset_in, DType dtype_in);
  ~TensorImpl();
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;   // in elements
  int64_t offset;  // in elements
  DType dtype;
  std::shared_ptr<autograd::AutogradMeta> autograd_meta;

  static int64_t live_count();  // debug counter: tests assert that graphs free their tensors
};

using GradHook = std::function<Tensor(const Tensor&)>;
// Called with the leaf itself once its gradient of the running backward is complete.
using PostAccumulateGradHook = std::function<void(const Tensor&)>;

// NOTE: tensor/ knows nothing of gradients, yet its in-place ops must refuse a tensor that autograd
// tracks. As with the autograd_meta slot, the dependency is inverted: autograd/ installs this check
// when it creates a tensor's first AutogradMeta, and the in-place ops call it only for a tensor
// whose slot is set (so a program without autograd never calls it). It throws to refuse `op`.
using InplaceCheck = void (*)(std::string_view op, const Tensor& target);
void set_inplace_check(InplaceCheck check);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A fresh contiguous tensor with uninitialized elements.
  static Tensor empty(const Shape& shape, DType dtype = kFloat32);
  // A view sharing `base`'s storage with the given geometry (checked against the storage size).
  static Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

  [[nodiscard]] bool defined() const { return impl_ != nullptr; }
  [[nodiscard]] const Shape& shape() const { return impl().shape; }
  [[nodiscard]] const Shape& strides() const { return impl().strides; }
  [[nodiscard]] int64_t storage_offset() const { return impl().offset; }
  [[nodiscard]] DType dtype() const { return impl().dtype; }
  [[nodiscard]] int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  [[nodiscard]] int64_t size(int64_t dim) const;
  [[nodiscard]] int64_t numel() const;
  [[nodiscard]] bool is_contiguous() const;
  [[nodiscard]] bool is_floating_point() const { return is_floating(dtype()); }

  // Typed pointer to element [0, ..., 0]; throws if T is not the tensor's dtype.
  template <typename T>
  [[nodiscard]] T* data_ptr() const;
  [[nodiscard]] void* raw_data() const;
  [[nodiscard]] const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // The single element (any shape with numel 1), converted to T.
  template <typename T = double>
  [[nodiscard]] T item() const;
  // Copies the elements in row-major order, converted to T.
  template <typename T>
  [[nodiscard]] std::vector<T> to_vector() const;

  [[nodiscard]] uint64_t version() const { return impl().storage->version(); }
  void bump_version() const { impl().storage->bump_version(); }
  [[nodiscard]] TensorImpl* impl_ptr() const { return impl_.get(); }
  [[nodiscard]] const std::shared_ptr<TensorImpl>& impl_shared() const { return impl_; }
  [[nodiscard]] bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- autograd (defined in autograd/tensor_autograd.cpp) ----
  [[nodiscard]] bool requires_grad() const;
  // Marks a leaf as requiring grad (only floating tensors can).
  Tensor& requires_grad_(bool enabled = true);
  [[nodiscard]] Tensor grad() const;        // undefined Tensor until a backward reaches this leaf
  void set_grad(const Tensor& grad) const;  // undefined clears it
  [[nodiscard]] std::shared_ptr<autograd::Node> grad_fn() const;
  [[nodiscard]] bool is_leaf() const;
  // Reverse-mode backprop from this tensor; `gradient` may be omitted for a one-element output.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;
  // Same data, cut from the graph.
  [[nodiscard]] Tensor detach() const;
  // Keeps the gradient of a non-leaf in grad() after backward.
  void retain_grad() const;
  // Called with the gradient w.r.t. this tensor during backward; a defined return value replaces
  // it.
  void register_hook(GradHook hook) const;
  // Leaves only: called with this tensor once per backward that reaches it, after the last
  // gradient that backward delivers to it has been accumulated into grad() (PyTorch's
  // register_post_accumulate_grad_hook). dist::DataParallel starts its allreduces from here.
  void register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const;

  // ---- differentiable methods (defined in autograd/tensor_methods.cpp; the free functions say
  // what they do) ----
  [[nodiscard]] Tensor reshape(const Shape& shape) const;
  [[nodiscard]] Tensor view(const Shape& shape) const;
  [[nodiscard]] Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  [[nodiscard]] Tensor transpose(int64_t dim0, int64_t dim1) const;
  [[nodiscard]] Tensor t() const;
  [[nodiscard]] Tensor permute(const std::vector<int64_t>& dims) const;
  [[nodiscard]] Tensor squeeze(std::optional<int64_t> dim = std::nullopt) const;
  [[nodiscard]] Tensor unsqueeze(int64_t dim) const;
  [[nodiscard]] Tensor expand(const Shape& shape) const;
  [[nodiscard]] Tensor slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> stop,
                             int64_t step = 1) const;
  [[nodiscard]] Tensor select(int64_t dim, int64_t index) const;
  [[nodiscard]] Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  [[nodiscard]] Tensor operator[](int64_t index) const { return select(0, index); }
  [[nodiscard]] Tensor contiguous() const;
  [[nodiscard]] Tensor clone() const;
  [[nodiscard]] Tensor to(DType dtype) const;
  [[nodiscard]] Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  [[nodiscard]] Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  [[nodiscard]] Tensor pow(double exponent) const;
  [[nodiscard]] Tensor matmul(const Tensor& other) const;

  // ---- in-place (tensor/inplace.cpp; not differentiable: an error on a tensor that requires grad
  // in grad mode, through the InplaceCheck that autograd/ installs) ----
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double value);
  Tensor& sub_(const Tensor& other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double value);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& source);

  [[nodiscard]] std::string to_string() const;

 private:
  [[nodiscard]] TensorImpl& impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

template <typename T>
T* Tensor::data_ptr() const {
  if (dtype_of<T>() != dtype()) {
    throw error("data_ptr: tensor has dtype {}, asked for {}", dtype_name(dtype()),
                dtype_name(dtype_of<T>()));
  }
  return static_cast<T*>(impl().storage->data()) + impl().offset;
}

// ---- factories (tensor/factories.cpp) ----
class Generator;

Tensor zeros(const Shape& shape, DType dtype = kFloat32);
Tensor ones(const Shape& shape, DType dtype = kFloat32);
Tensor full(const Shape& shape, double value, DType dtype = kFloat32);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
Tensor empty_like(const Tensor& like);
// [start, stop) in steps of `step` (int64 unless a float dtype is asked for).
Tensor arange(double stop, DType dtype = kInt64);
Tensor arange(double start, double stop, double step = 1.0, DType dtype = kInt64);
Tensor linspace(double start, double stop, int64_t steps, DType dtype = kFloat32);
Tensor eye(int64_t n, std::optional<int64_t> m = std::nullopt, DType dtype = kFloat32);
Tensor rand(const Shape& shape, DType dtype = kFloat32, Generator* generator = nullptr);
Tensor randn(const Shape& shape, DType dtype = kFloat32, Generator* generator = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* generator = nullptr);
Tensor uniform(const Shape& shape, double low, double high, DType dtype = kFloat32,
               Generator* generator = nullptr);
Tensor normal(const Shape& shape, double mean, double stddev, DType dtype = kFloat32,
              Generator* generator = nullptr);
// Random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator* generator = nullptr);

// From data: a 0-d tensor, a flat vector plus a shape, or nested initializer lists.
Tensor scalar_tensor(double value, DType dtype = kFloat32);
Tensor tensor(const std::vector<double>& values, const Shape& shape, DType dtype = kFloat32);
Tensor tensor(const std::vector<float>& values, const Shape& shape);
Tensor tensor(const std::vector<int64_t>& values, const Shape& shape);

// Numbers in nested braces, as tensor() takes them. The brace depth is the rank: {1, 2} is a
// vector, {{1}, {2}} a 2x1 column, {{0.5}} a 1x1 matrix and a bare number a 0-d tensor.
// NOTE: one recursive type rather than overloads per depth: with initializer_list<double> and
// initializer_list<initializer_list<double>> overloads, {{0.5}} and {{1}, {2}} fit both and do not
// compile.
class NestedValues {
 public:
  // Implicit on purpose: every number and braced list of a tensor() literal converts.
  NestedValues(double value) : value_(value) {}            // NOLINT(google-explicit-constructor)
  NestedValues(std::initializer_list<NestedValues> items)  // NOLINT(google-explicit-constructor)
      : items_(items), is_list_(true) {}

  [[nodiscard]] bool is_list() const { return is_list_; }
  [[nodiscard]] double value() const { return value_; }
  [[nodiscard]] const std::vector<NestedValues>& items() const { return items_; }

 private:
  double value_ = 0.0;
  std::vector<NestedValues> items_;
  bool is_list_ = false;
};
// Every list at the same depth must have the same length (the error names the first that does
// not, by its index path).
Tensor tensor(const NestedValues& values, DType dtype = kFloat32);

}  // namespace nabla
