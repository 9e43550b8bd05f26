// The differentiable public ops. Each computes its value with a raw kernel and records one node
// when grad mode is on and an input requires grad. Shapes broadcast like NumPy.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "tensor/tensor.h"
#include "tensor/window_options.h"

namespace nabla {

// ---- arithmetic (autograd/ops/arithmetic.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(const Tensor& base, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);  // ties split the gradient equally
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);  // not differentiable (zero gradient)
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor log1p(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor square(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor erf(const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// Comparisons give int64 0/1 tensors and are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);

// ---- activations (autograd/ops/activation.cpp) ----
Tensor relu(const Tensor& a);
// PyTorch's default slope 0.01 (nn::LeakyReLU follows Keras: 0.3; "leaky_relu" by name: 0.2).
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);
// approximate "none": the exact x * Phi(x); "tanh": x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// (PyTorch's names; Keras's gelu(approximate=True) is the tanh form).
Tensor gelu(const Tensor& a, const std::string& approximate = "none");
Tensor softplus(const Tensor& a);  // log(1 + exp(x)), stable
Tensor elu(const Tensor& a, double alpha = 1.0);

// ---- reductions (autograd/ops/reduce.cpp); empty dims means all dims ----
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// max/min values over dims; the gradient is split equally among tied maxima.
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor max(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor min(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& a, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& a, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// Variance with Bessel's correction by default (correction=1), like torch.var.
Tensor var(const Tensor& a, const std::vector<int64_t>& dims = {}, int64_t correction = 1,
           bool keepdim = false);
Tensor std(const Tensor& a, const std::vector<int64_t>& dims = {}, int64_t correction = 1,
           bool keepdim = false);
Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor softmax(const Tensor& a, int64_t dim);
Tensor log_softmax(const Tensor& a, int64_t dim);
// Sums `a` down to `shape` (the adjoint of broadcasting `shape` up to a's shape).
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- shape (autograd/ops/shape.cpp) ----
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor view(const Tensor& a, const Shape& shape);
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);
Tensor squeeze(const Tensor& a, std::optional<int64_t> dim = std::nullopt);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor expand(const Tensor& a, const Shape& shape);
Tensor broadcast_to(const Tensor& a, const Shape& shape);
Tensor slice(const Tensor& a, int64_t dim, std::optional<int64_t> start,
             std::optional<int64_t> stop, int64_t step = 1);
Tensor select(const Tensor& a, int64_t dim, int64_t index);
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);
Tensor contiguous(const Tensor& a);
Tensor clone(const Tensor& a);
Tensor to(const Tensor& a, DType dtype);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// out[i][j] = a[i][index[i][j]] along `dim` (index is int64, same rank as a).
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
// zeros(shape) with `source` added at `index` along `dim` (the adjoint of gather).
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source);
// zeros(shape) with source's slices added at `index` along `dim` (the adjoint of index_select).
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& source);
// Rows of `a` (along dim 0) picked by an int64 index vector.
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
// Internal adjoints of slice and select, exposed so that their own gradients are differentiable.
Tensor slice_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start,
                      int64_t stop, int64_t step);
Tensor select_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t index);

// ---- linear algebra (autograd/ops/linalg.cpp) ----
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- convolution and pooling (autograd/ops/conv.cpp); tensors are NCHW ----
// Conv2dOptions and Pool2dOptions ({.stride, .padding, ...}) come from tensor/window_options.h.
// input [N,C,H,W], weight [OC,C,KH,KW], bias [OC] or undefined -> [N,OC,OH,OW]
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options = {});
// relu(conv2d(input, weight, bias, options)), fused: one output pass forward, one pass for the
// relu mask and the bias gradient backward (what Conv2D with activation "relu" calls).
Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Conv2dOptions& options = {});
// The transposed convolution (PyTorch's conv_transpose2d): the adjoint of conv2d(., weight) taken
// from [N,C,H,W] to [N,OC,OH,OW] with weight [C,OC,KH,KW] (PyTorch's ConvTranspose2d layout),
// OH = (H - 1) * stride - top - bottom + dilation * (KH - 1) + 1 + output_padding (width alike);
// options.padding is the padding of that conv2d. bias [OC] or undefined.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Conv2dOptions& options = {},
                        std::array<int64_t, 2> output_padding = {0, 0});

// Max over each window; the gradient goes to the first maximum of a window.
Tensor max_pool2d(const Tensor& input, const Pool2dOptions& options = {});
// Mean over the in-bounds elements of each window.
Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options = {});

}  // namespace nabla
