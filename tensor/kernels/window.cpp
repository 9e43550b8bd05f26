// The one place that turns window options and an input shape into a validated geometry.
#include "tensor/kernels/window.h"

namespace nabla::kernels {
namespace {

void check_4d(std::string_view op, std::string_view what, const Shape& shape) {
  if (shape.size() != 4) {
    throw error("{}: {} must be 4-D (N, C, H, W), got shape {}", op, what, shape_str(shape));
  }
}

void check_positive(std::string_view op, std::string_view what, const std::array<int64_t, 2>& v) {
  if (v[0] < 1 || v[1] < 1) {
    throw error("{}: {} must be positive, got [{}, {}]", op, what, v[0], v[1]);
  }
}

void check_padding(std::string_view op, const std::array<int64_t, 4>& p) {
  for (const int64_t v : p) {
    if (v < 0) {
      throw error("{}: padding must be non-negative, got [{}, {}, {}, {}]", op, p[0], p[1], p[2],
                  p[3]);
    }
  }
}

// dilation * (kernel - 1) + 1: the input extent one window spans.
int64_t dilated_span(std::string_view op, int64_t kernel, int64_t dilation) {
  return checked_add(op, "the dilated window",
                     checked_mul(op, "the dilated window", dilation, kernel - 1), 1);
}

// Output extent of a window sweep, or an error naming the op when nothing fits.
int64_t window_count(std::string_view op, int64_t extent, int64_t pad_before, int64_t pad_after,
                     int64_t kernel, int64_t stride, int64_t dilation) {
  if (kernel < 1) {
    throw error("{}: the window must not be empty, got a kernel extent of {}", op, kernel);
  }
  const int64_t positions =
      window_positions(op, extent, pad_before, pad_after, kernel, stride, dilation);
  if (positions < 1) {
    throw error("{}: window of extent {} does not fit input extent {} with padding {}+{}", op,
                dilated_span(op, kernel, dilation), extent, pad_before, pad_after);
  }
  return positions;
}

}  // namespace

namespace detail {

void check_floating_4d(std::string_view op, std::string_view what, const Tensor& t) {
  check_4d(op, what, t.shape());
  if (!t.is_floating_point()) {
    throw error("{}: {} must be float32 or float64, got {}", op, what, dtype_name(t.dtype()));
  }
}

void check_output_grad(std::string_view op, const Tensor& grad, const Shape& output_shape) {
  if (grad.shape() != output_shape) {
    throw error("{}: grad of shape {} does not match the output shape {}", op,
                shape_str(grad.shape()), shape_str(output_shape));
  }
  if (!grad.is_floating_point()) {
    throw error("{}: grad must be float32 or float64, got {}", op, dtype_name(grad.dtype()));
  }
}

}  // namespace detail

int64_t window_positions(std::string_view op, int64_t in, int64_t pad_before, int64_t pad_after,
                         int64_t kernel, int64_t stride, int64_t dilation) {
  const int64_t span = dilated_span(op, kernel, dilation);
  const int64_t padded = checked_add(
      op, "the padded input", checked_add(op, "the padded input", in, pad_before), pad_after);
  if (padded < span) {
    return 0;
  }
  return (padded - span) / stride + 1;
}

std::array<int64_t, 2> same_padding(std::string_view op, int64_t in, int64_t kernel, int64_t stride,
                                    int64_t dilation) {
  const int64_t out = detail::ceil_div(in, stride);
  const int64_t span = dilated_span(op, kernel, dilation);
  const int64_t total = std::max<int64_t>(
      checked_add(op, "the padding", checked_mul(op, "the padding", out - 1, stride), span) - in,
      0);
  return {total / 2, total - total / 2};
}

Conv2dGeometry conv2d_geometry(const Shape& input, const Shape& weight,
                               const Conv2dOptions& options) {
  constexpr std::string_view kOp = "conv2d";
  check_4d(kOp, "input", input);
  check_4d(kOp, "weight", weight);
  check_positive(kOp, "stride", options.stride);
  check_positive(kOp, "dilation", options.dilation);
  check_padding(kOp, options.padding);
  if (input[1] != weight[1]) {
    throw error("conv2d: input of shape {} has {} channels, weight of shape {} expects {}",
                shape_str(input), input[1], shape_str(weight), weight[1]);
  }
  const auto& [stride_h, stride_w] = options.stride;
  const auto& [dilation_h, dilation_w] = options.dilation;
  const auto& [top, bottom, left, right] = options.padding;
  return {.batch = input[0],
          .in_channels = input[1],
          .in_h = input[2],
          .in_w = input[3],
          .out_channels = weight[0],
          .kernel_h = weight[2],
          .kernel_w = weight[3],
          .stride_h = stride_h,
          .stride_w = stride_w,
          .pad_top = top,
          .pad_left = left,
          .dilation_h = dilation_h,
          .dilation_w = dilation_w,
          .out_h = window_count(kOp, input[2], top, bottom, weight[2], stride_h, dilation_h),
          .out_w = window_count(kOp, input[3], left, right, weight[3], stride_w, dilation_w)};
}

Pool2dGeometry pool2d_geometry(std::string_view op, const Shape& input,
                               const Pool2dOptions& options) {
  check_4d(op, "input", input);
  check_positive(op, "kernel size", options.kernel);
  check_positive(op, "stride", options.stride);
  check_padding(op, options.padding);
  const auto& [kernel_h, kernel_w] = options.kernel;
  const auto& [stride_h, stride_w] = options.stride;
  const auto& [top, bottom, left, right] = options.padding;
  if (top >= kernel_h || bottom >= kernel_h || left >= kernel_w || right >= kernel_w) {
    throw error("{}: padding [{}, {}, {}, {}] must be smaller than the window [{}, {}]", op, top,
                bottom, left, right, kernel_h, kernel_w);
  }
  // With padding smaller than the window, only an empty input has windows wholly in padding
  // (max would be -inf, the average 0/0): refused, as PyTorch does.
  if (input[2] == 0 || input[3] == 0) {
    throw error("{}: input of shape {} has an empty spatial dim; every window would lie in padding",
                op, shape_str(input));
  }
  return {.batch = input[0],
          .channels = input[1],
          .in_h = input[2],
          .in_w = input[3],
          .kernel_h = kernel_h,
          .kernel_w = kernel_w,
          .stride_h = stride_h,
          .stride_w = stride_w,
          .pad_top = top,
          .pad_left = left,
          .out_h = window_count(op, input[2], top, bottom, kernel_h, stride_h, 1),
          .out_w = window_count(op, input[3], left, right, kernel_w, stride_w, 1)};
}

}  // namespace nabla::kernels
