// Raw eager tensor ops with no notion of gradients: views, elementwise, reductions, matmul.
// autograd/ wraps each of them into a differentiable public op.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace nabla::kernels {

// ---- views and copies (tensor/kernels/shape_ops.cpp) ----
// `shape` may contain one -1; returns a view when the strides allow it, else nullopt.
std::optional<Tensor> view_if_possible(const Tensor& t, const Shape& shape);
Shape infer_shape(std::string_view op, const Shape& shape, int64_t numel);
Tensor view(const Tensor& t, const Shape& shape);     // throws when a view is impossible
Tensor reshape(const Tensor& t, const Shape& shape);  // view when possible, else a copy
Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor squeeze(const Tensor& t, std::optional<int64_t> dim);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor expand(const Tensor& t, const Shape& shape);
Tensor slice(const Tensor& t, int64_t dim, std::optional<int64_t> start,
             std::optional<int64_t> stop, int64_t step);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor contiguous(const Tensor& t);
Tensor clone(const Tensor& t);
Tensor to_dtype(const Tensor& t, DType dtype);  // shares `t` when the dtype already matches
// Writes `source` (broadcast to dst's shape, converted to dst's dtype) into dst; bumps its version.
// Refuses a dst whose elements share memory (an expanded view), as binary_ does.
void copy_(const Tensor& dst, const Tensor& source);
// Throws when elements of `t` may share memory (a stride of 0 over a dim of size > 1, or strides
// that interleave), so an in-place write would make the result depend on the order of writes.
// `op` names the in-place op without its trailing underscore ("add" for add_).
void check_no_internal_overlap(std::string_view op, const Tensor& t);
void fill_(const Tensor& dst, double value);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
// Strides of `t` seen as broadcast to `shape` (0 on broadcast dims); throws like broadcasting.
Shape broadcast_strides(std::string_view op, const Tensor& t, const Shape& shape);

// ---- elementwise (tensor/kernels/elementwise.cpp) ----
enum class BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };
enum class UnaryOp { Neg, Abs, Sign, Exp, Log, Log1p, Sqrt, Tanh, Sigmoid, Relu, Sin, Cos, Erf };

// NumPy broadcasting and type promotion; comparisons give int64 0/1.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// self op= other, with `other` broadcast to self's shape and converted to self's dtype; refuses a
// floating `other` for an int64 self (it would truncate) and a self with internal overlap.
void binary_(BinaryOp op, const Tensor& self, const Tensor& other);
// Transcendental ops on int64 give float32.
Tensor unary(UnaryOp op, const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max);
// relu's and leaky_relu's backward in one pass: grad where input > 0, else grad * negative_slope,
// exactly 0 when the slope is 0 (also for a NaN or infinite grad; a NaN input counts as not > 0),
// like PyTorch's threshold_backward. grad and input: one shape, one floating dtype.
Tensor relu_backward(const Tensor& grad, const Tensor& input, double negative_slope = 0.0);
// sigmoid's and tanh's backward from their output y in one pass: g * y * (1 - y) and
// g * (1 - y * y), rounded per operation in that order (the bits of the composed expressions).
// op is UnaryOp::Sigmoid or UnaryOp::Tanh; grad and output: one shape, one floating dtype.
Tensor activation_backward(UnaryOp op, const Tensor& grad, const Tensor& output);
// condition != 0 ? a : b, all three broadcast together.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// A 0-d tensor holding `value` in the dtype that arithmetic with `like` should keep.
Tensor scalar_like(const Tensor& like, double value);

// ---- reductions (tensor/kernels/reduce.cpp); empty dims means all dims ----
Tensor sum(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim);
Tensor amax(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim);
Tensor amin(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim);
// Index of the first maximum along `dim` (over the flattened tensor when dim is empty).
Tensor argmax(const Tensor& t, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& t, std::optional<int64_t> dim, bool keepdim);
// Sums `t` down to `shape`, the inverse of broadcasting `shape` up to t's shape.
Tensor sum_to(const Tensor& t, const Shape& shape);
Tensor logsumexp(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim);
Tensor softmax(const Tensor& t, int64_t dim);
Tensor log_softmax(const Tensor& t, int64_t dim);

// ---- indexing (tensor/kernels/indexing.cpp); indices are int64 ----
// out[..., j, ...] = a[..., index[..., j, ...], ...] along dim; index has a's rank.
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
// zeros(shape) then out[..., index[i], ...] += source[..., i, ...] along dim.
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source);
// Slices of `a` along dim picked by a 1-D index.
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
// zeros(shape) then slices of `source` along dim added at the positions of a 1-D index.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source);
// One-hot rows (float) of an int64 tensor of class indices in [0, classes).
Tensor one_hot(const Tensor& indices, int64_t classes, DType dtype = kFloat32);

// ---- linear algebra (tensor/kernels/linalg.cpp) ----
// torch.matmul semantics: 1-D dot, 2-D product, batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace nabla::kernels
