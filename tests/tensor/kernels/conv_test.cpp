// Tests of the conv2d kernels against direct-loop references (double accumulation), finite
// differences, and bit-identical results across thread counts.
#include "tensor/kernels/conv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "tensor/kernels/kernels.h"
#include "tensor/parallel.h"
#include "tests/support/expect_error.h"
#include "tests/support/kernel_inputs.h"
#include "tests/support/thread_count_guard.h"

namespace {

using nabla::Conv2dOptions;
using nabla::Shape;
using nabla::Tensor;
using nabla::kernels::Conv2dGeometry;
using nabla::testing::as_tensor;
using nabla::testing::poison_next_allocation;
using nabla::testing::ThreadCountGuard;

struct Spec {
  int64_t batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w;
};

// Output size as PyTorch/TF compute it from the padding on both sides.
Conv2dGeometry make_geometry(const Spec& s) {
  const int64_t span_h = s.dilation_h * (s.kernel_h - 1) + 1;
  const int64_t span_w = s.dilation_w * (s.kernel_w - 1) + 1;
  return {s.batch,
          s.in_channels,
          s.in_h,
          s.in_w,
          s.out_channels,
          s.kernel_h,
          s.kernel_w,
          s.stride_h,
          s.stride_w,
          s.pad_top,
          s.pad_left,
          s.dilation_h,
          s.dilation_w,
          (s.in_h + s.pad_top + s.pad_bottom - span_h) / s.stride_h + 1,
          (s.in_w + s.pad_left + s.pad_right - span_w) / s.stride_w + 1};
}

Conv2dOptions options_of(const Spec& s) {
  return {.stride = {s.stride_h, s.stride_w},
          .padding = {s.pad_top, s.pad_bottom, s.pad_left, s.pad_right},
          .dilation = {s.dilation_h, s.dilation_w}};
}

Shape input_shape(const Conv2dGeometry& g) { return {g.batch, g.in_channels, g.in_h, g.in_w}; }
Shape weight_shape(const Conv2dGeometry& g) {
  return {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
}
Shape output_shape(const Conv2dGeometry& g) { return {g.batch, g.out_channels, g.out_h, g.out_w}; }

std::string describe(const Conv2dGeometry& g) {
  std::ostringstream out;
  out << "N=" << g.batch << " C=" << g.in_channels << " H=" << g.in_h << " W=" << g.in_w
      << " OC=" << g.out_channels << " K=" << g.kernel_h << "x" << g.kernel_w << " S=" << g.stride_h
      << "," << g.stride_w << " P=" << g.pad_top << "," << g.pad_left << " D=" << g.dilation_h
      << "," << g.dilation_w << " O=" << g.out_h << "x" << g.out_w;
  return out.str();
}

int64_t input_size(const Conv2dGeometry& g) { return g.batch * g.in_channels * g.in_h * g.in_w; }
int64_t weight_size(const Conv2dGeometry& g) {
  return g.out_channels * g.in_channels * g.kernel_h * g.kernel_w;
}
int64_t output_size(const Conv2dGeometry& g) {
  return g.batch * g.out_channels * g.out_h * g.out_w;
}

// Values in +-[0.1, 1): never zero, so the reference run on absolute values is positive exactly
// where an element takes part in some sum.
template <typename T>
std::vector<T> random_values(int64_t count, uint64_t seed) {
  std::vector<T> values(static_cast<size_t>(count));
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& v : values) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double unit = static_cast<double>(state >> 11) * 0x1.0p-53;
    const double magnitude = 0.1 + 0.9 * unit;
    v = static_cast<T>(((state >> 7) & 1U) != 0 ? magnitude : -magnitude);
  }
  return values;
}

template <typename T>
std::vector<double> absolute(const std::vector<T>& values) {
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    out[i] = std::fabs(static_cast<double>(values[i]));
  }
  return out;
}

// Calls visit(n, oc, oh, ow, c, ih, iw, kh, kw) for every in-bounds term of the convolution.
template <typename Visit>
void for_each_term(const Conv2dGeometry& g, const Visit& visit) {
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          for (int64_t c = 0; c < g.in_channels; ++c) {
            for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
              for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
                const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
                const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
                if (ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w) {
                  visit(n, oc, oh, ow, c, ih, iw, kh, kw);
                }
              }
            }
          }
        }
      }
    }
  }
}

size_t in_index(const Conv2dGeometry& g, int64_t n, int64_t c, int64_t h, int64_t w) {
  return static_cast<size_t>(((n * g.in_channels + c) * g.in_h + h) * g.in_w + w);
}
size_t out_index(const Conv2dGeometry& g, int64_t n, int64_t oc, int64_t h, int64_t w) {
  return static_cast<size_t>(((n * g.out_channels + oc) * g.out_h + h) * g.out_w + w);
}
size_t w_index(const Conv2dGeometry& g, int64_t oc, int64_t c, int64_t kh, int64_t kw) {
  return static_cast<size_t>(((oc * g.in_channels + c) * g.kernel_h + kh) * g.kernel_w + kw);
}

template <typename T, typename U>
std::vector<double> reference_forward(const Conv2dGeometry& g, const std::vector<T>& input,
                                      const std::vector<U>& weight, const std::vector<U>* bias) {
  std::vector<double> out(static_cast<size_t>(output_size(g)), 0.0);
  if (bias != nullptr) {
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t oc = 0; oc < g.out_channels; ++oc) {
        for (int64_t i = 0; i < g.out_h * g.out_w; ++i) {
          out[out_index(g, n, oc, 0, 0) + static_cast<size_t>(i)] =
              static_cast<double>((*bias)[static_cast<size_t>(oc)]);
        }
      }
    }
  }
  for_each_term(g, [&](int64_t n, int64_t oc, int64_t oh, int64_t ow, int64_t c, int64_t ih,
                       int64_t iw, int64_t kh, int64_t kw) {
    out[out_index(g, n, oc, oh, ow)] += static_cast<double>(weight[w_index(g, oc, c, kh, kw)]) *
                                        static_cast<double>(input[in_index(g, n, c, ih, iw)]);
  });
  return out;
}

template <typename T, typename U>
std::vector<double> reference_backward_input(const Conv2dGeometry& g,
                                             const std::vector<T>& grad_output,
                                             const std::vector<U>& weight) {
  std::vector<double> grad(static_cast<size_t>(input_size(g)), 0.0);
  for_each_term(g, [&](int64_t n, int64_t oc, int64_t oh, int64_t ow, int64_t c, int64_t ih,
                       int64_t iw, int64_t kh, int64_t kw) {
    grad[in_index(g, n, c, ih, iw)] +=
        static_cast<double>(weight[w_index(g, oc, c, kh, kw)]) *
        static_cast<double>(grad_output[out_index(g, n, oc, oh, ow)]);
  });
  return grad;
}

template <typename T, typename U>
std::vector<double> reference_backward_weight(const Conv2dGeometry& g,
                                              const std::vector<T>& grad_output,
                                              const std::vector<U>& input) {
  std::vector<double> grad(static_cast<size_t>(weight_size(g)), 0.0);
  for_each_term(g, [&](int64_t n, int64_t oc, int64_t oh, int64_t ow, int64_t c, int64_t ih,
                       int64_t iw, int64_t kh, int64_t kw) {
    grad[w_index(g, oc, c, kh, kw)] +=
        static_cast<double>(input[in_index(g, n, c, ih, iw)]) *
        static_cast<double>(grad_output[out_index(g, n, oc, oh, ow)]);
  });
  return grad;
}

// |actual - expected| <= tolerance * (1 + scale), scale being the sum of the terms' magnitudes
// (the reference evaluated on absolute values), which bounds the rounding error of any order.
// Where scale is exactly 0 no term touches the element, and it must be exactly 0.
template <typename T>
void expect_close(const std::vector<T>& actual, const std::vector<double>& expected,
                  const std::vector<double>& scale, double tolerance, const char* what) {
  ASSERT_EQ(actual.size(), expected.size());
  int failures = 0;
  for (size_t i = 0; i < actual.size() && failures < 5; ++i) {
    const auto value = static_cast<double>(actual[i]);
    if (scale[i] == 0.0 && expected[i] == 0.0) {
      if (value != 0.0) {
        ADD_FAILURE() << what << "[" << i << "] = " << value << ", expected exactly 0";
        ++failures;
      }
      continue;
    }
    if (!(std::fabs(value - expected[i]) <= tolerance * (1.0 + scale[i]))) {
      ADD_FAILURE() << what << "[" << i << "] = " << value << ", expected " << expected[i];
      ++failures;
    }
  }
}

std::vector<Spec> specs() {
  // batch, C, H, W, OC, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW
  return {
      {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},      // 1x1 pointwise fast path
      {3, 3, 5, 6, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},      // pointwise, batch and channels
      {3, 3, 7, 6, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},      // 1x1 stride 2: odd rows/cols uncovered
      {1, 3, 3, 3, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1},      // 1x1 with padding 2: windows all padding
      {2, 2, 4, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1},      // 1x1 stride 1, padding only after
      {1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},      // 3x3 valid
      {3, 3, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      // 3x3 'same'
      {3, 3, 7, 7, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},      // stride 2, symmetric padding
      {2, 3, 6, 6, 2, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1},      // TF 'same' stride 2: pad only after
      {2, 2, 8, 9, 3, 3, 3, 2, 2, 0, 0, 1, 0, 1, 1},      // TF 'same' stride 2, non-square
      {1, 3, 8, 8, 2, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1},      // stride 3: rows/cols 6, 7 uncovered
      {3, 1, 5, 5, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1},      // H=5, k2 s2: row/col 4 uncovered
      {3, 3, 6, 7, 2, 2, 3, 1, 1, 0, 1, 1, 1, 1, 1},      // 2x3 kernel, asymmetric padding
      {1, 3, 7, 8, 3, 2, 3, 2, 3, 1, 0, 0, 2, 1, 1},      // 2x3, strides 2/3, asymmetric
      {3, 3, 9, 9, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},      // dilation 2, 'same'
      {1, 3, 9, 10, 2, 3, 3, 2, 2, 1, 0, 2, 1, 2, 2},     // dilation 2, stride 2, asymmetric
      {3, 1, 7, 9, 3, 2, 3, 1, 2, 0, 1, 0, 1, 2, 1},      // dilation 2x1, 2x3 kernel
      {1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      // single pixel, 3x3 'same'
      {4, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   // large enough for the parallel path
      {4, 32, 16, 16, 32, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},  // parallel pointwise
      {9, 4, 13, 13, 8, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1},    // parallel, batch not a chunk multiple
      {2, 32, 9, 9, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // 288 reduction rows: two K blocks
      {1, 1, 10, 130, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},  // forward in several row bands
      {3, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},   // the small CNN's first layer
      {1, 3, 33, 31, 33, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},   // 3 channels, tile edges 31/32/33
      // The wide 6 x 64 tile (float32, 33..64 or 7/8-panel output channels: the weight gradient,
      // and the forward of narrow images with 48+): full and partial panels, 45 tap rows (a 3-row
      // tail); the input gradient's positions (121, 63) fill 64-position panels alike.
      {5, 32, 13, 13, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},  // the small CNN's second layer
      {3, 5, 7, 9, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     // 48 channels, 45 taps
      {2, 3, 9, 11, 50, 2, 3, 2, 1, 0, 1, 1, 0, 1, 2},    // 50 channels, stride, dilation
      {2, 4, 6, 5, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     // 96: back on the 12 x 32 tile
      {2, 3, 8, 8, 120, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // 120: two panels, the second 7/8
      {3, 7, 9, 9, 64, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},     // 1x1 stride 2 (not pointwise)
      {9, 2, 5, 4, 63, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1},     // batch 9: chunks of 1 and 2 images
  };
}

template <typename T>
void check_against_reference(const Spec& spec, bool with_bias, double tolerance) {
  const Conv2dGeometry g = make_geometry(spec);
  SCOPED_TRACE(describe(g) + (with_bias ? " bias" : " no bias"));
  const auto input = random_values<T>(input_size(g), 1);
  const auto weight = random_values<T>(weight_size(g), 2);
  const auto bias = random_values<T>(g.out_channels, 3);
  const auto grad_output = random_values<T>(output_size(g), 4);
  const auto abs_bias = absolute(bias);
  const T nan = std::numeric_limits<T>::quiet_NaN();

  const Conv2dOptions o = options_of(spec);
  const Tensor input_t = as_tensor(input, input_shape(g));
  const Tensor weight_t = as_tensor(weight, weight_shape(g));
  const Tensor grad_output_t = as_tensor(grad_output, output_shape(g));

  // Outputs start as NaN: the kernels must overwrite, never read them.
  poison_next_allocation<T>(output_shape(g), nan);
  const Tensor output = nabla::kernels::conv2d(
      input_t, weight_t, with_bias ? as_tensor(bias, {g.out_channels}) : Tensor(), o);
  ASSERT_EQ(output.shape(), output_shape(g));
  expect_close(
      output.to_vector<T>(), reference_forward(g, input, weight, with_bias ? &bias : nullptr),
      reference_forward(g, absolute(input), absolute(weight), with_bias ? &abs_bias : nullptr),
      tolerance, "output");

  poison_next_allocation<T>(input_shape(g), nan);
  const Tensor grad_input =
      nabla::kernels::conv2d_input_grad(grad_output_t, weight_t, input_shape(g), o);
  ASSERT_EQ(grad_input.shape(), input_shape(g));
  expect_close(grad_input.to_vector<T>(), reference_backward_input(g, grad_output, weight),
               reference_backward_input(g, absolute(grad_output), absolute(weight)), tolerance,
               "grad_input");

  poison_next_allocation<T>(weight_shape(g), nan);
  const Tensor grad_weight =
      nabla::kernels::conv2d_weight_grad(grad_output_t, input_t, weight_shape(g), o);
  ASSERT_EQ(grad_weight.shape(), weight_shape(g));
  expect_close(grad_weight.to_vector<T>(), reference_backward_weight(g, grad_output, input),
               reference_backward_weight(g, absolute(grad_output), absolute(input)), tolerance,
               "grad_weight");
}

TEST(ConvKernel, FloatMatchesDirectLoops) {
  for (const Spec& spec : specs()) {
    check_against_reference<float>(spec, false, 1e-5);
    check_against_reference<float>(spec, true, 1e-5);
  }
}

TEST(ConvKernel, DoubleMatchesDirectLoops) {
  for (const Spec& spec : specs()) {
    check_against_reference<double>(spec, false, 1e-13);
    check_against_reference<double>(spec, true, 1e-13);
  }
}

// Input elements that no window reads get a gradient of exactly 0, even when the output buffer
// held garbage before the call.
TEST(ConvKernel, UncoveredInputGetsExactlyZeroGradient) {
  // H=5, W=5, kernel 2, stride 2: row 4 and column 4 are never read.
  const Spec spec{2, 2, 5, 5, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1};
  const Conv2dGeometry g = make_geometry(spec);
  ASSERT_EQ(g.out_h, 2);
  const auto grad_output = random_values<float>(output_size(g), 5);
  const auto weight = random_values<float>(weight_size(g), 6);
  poison_next_allocation<float>(input_shape(g), 123.0);
  const std::vector<float> grad_input =
      nabla::kernels::conv2d_input_grad(as_tensor(grad_output, output_shape(g)),
                                        as_tensor(weight, weight_shape(g)), input_shape(g),
                                        options_of(spec))
          .to_vector<float>();
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t c = 0; c < g.in_channels; ++c) {
      for (int64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(grad_input[in_index(g, n, c, 4, i)], 0.0F);
        EXPECT_EQ(grad_input[in_index(g, n, c, i, 4)], 0.0F);
        if (i < 4) {
          EXPECT_NE(grad_input[in_index(g, n, c, i, i)], 0.0F);
        }
      }
    }
  }
}

// Loss L = sum(R * conv(x, w, b)): dL/dx = input_grad(R, w), dL/dw = weight_grad(R, x).
void check_finite_differences(const Spec& spec) {
  const Conv2dGeometry g = make_geometry(spec);
  SCOPED_TRACE(describe(g));
  const Conv2dOptions o = options_of(spec);
  auto input = random_values<double>(input_size(g), 7);
  auto weight = random_values<double>(weight_size(g), 8);
  const Tensor bias = as_tensor(random_values<double>(g.out_channels, 9), {g.out_channels});
  const auto seed_grad = random_values<double>(output_size(g), 10);
  auto loss = [&] {
    const std::vector<double> output =
        nabla::kernels::conv2d(as_tensor(input, input_shape(g)), as_tensor(weight, weight_shape(g)),
                               bias, o)
            .to_vector<double>();
    double sum = 0;
    for (size_t i = 0; i < output.size(); ++i) {
      sum += seed_grad[i] * output[i];
    }
    return sum;
  };
  auto numeric_gradient = [&](std::vector<double>& values, size_t i) {
    constexpr double kStep = 1e-4;
    const double saved = values[i];
    values[i] = saved + kStep;
    const double plus = loss();
    values[i] = saved - kStep;
    const double minus = loss();
    values[i] = saved;
    return (plus - minus) / (2 * kStep);
  };

  const Tensor seed = as_tensor(seed_grad, output_shape(g));
  const std::vector<double> grad_input =
      nabla::kernels::conv2d_input_grad(seed, as_tensor(weight, weight_shape(g)), input_shape(g), o)
          .to_vector<double>();
  for (size_t i = 0; i < input.size(); ++i) {
    EXPECT_NEAR(grad_input[i], numeric_gradient(input, i), 1e-8) << "input " << i;
  }
  const std::vector<double> grad_weight =
      nabla::kernels::conv2d_weight_grad(seed, as_tensor(input, input_shape(g)), weight_shape(g), o)
          .to_vector<double>();
  for (size_t i = 0; i < weight.size(); ++i) {
    EXPECT_NEAR(grad_weight[i], numeric_gradient(weight, i), 1e-8) << "weight " << i;
  }
}

TEST(ConvKernel, BackwardMatchesFiniteDifferences) {
  check_finite_differences({2, 2, 6, 5, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 2});
  check_finite_differences({3, 3, 7, 7, 2, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1});
}

void check_bit_identical(const Spec& spec);

// Results must be bit-identical for any number of threads (fixed chunking, no float atomics).
TEST(ConvKernel, BitIdenticalForAnyThreadCount) {
  // 16 output channels: gemm_gather_a's tile; 64: the wide tile (forward and weight gradient).
  for (const Spec& spec : {Spec{13, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
                           Spec{13, 8, 9, 9, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1}}) {
    check_bit_identical(spec);
  }
}

// The weight gradient of a float32 layer with 64 output channels and images so large that each
// sub-group of the wide tile's reduction holds one image: 17 images in 8 chunks of 2 or 3 take
// several sub-groups per chunk.
TEST(ConvKernel, WideWeightGradientOverSeveralSubGroupsMatchesDirectLoops) {
  const Spec spec{17, 2, 48, 48, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1};
  const Conv2dGeometry g = make_geometry(spec);
  const auto input = random_values<float>(input_size(g), 31);
  const auto grad_output = random_values<float>(output_size(g), 32);
  const Tensor grad_weight = nabla::kernels::conv2d_weight_grad(
      as_tensor(grad_output, output_shape(g)), as_tensor(input, input_shape(g)), weight_shape(g),
      options_of(spec));
  expect_close(grad_weight.to_vector<float>(), reference_backward_weight(g, grad_output, input),
               reference_backward_weight(g, absolute(grad_output), absolute(input)), 1e-5,
               "grad_weight");
}

void check_bit_identical(const Spec& spec) {
  SCOPED_TRACE(describe(make_geometry(spec)));
  const Conv2dGeometry g = make_geometry(spec);
  const Conv2dOptions o = options_of(spec);
  const Tensor input = as_tensor(random_values<float>(input_size(g), 11), input_shape(g));
  const Tensor weight = as_tensor(random_values<float>(weight_size(g), 12), weight_shape(g));
  const Tensor bias = as_tensor(random_values<float>(g.out_channels, 13), {g.out_channels});
  const Tensor grad_output = as_tensor(random_values<float>(output_size(g), 14), output_shape(g));
  struct Results {
    std::vector<float> output, grad_input, grad_weight;
  };
  auto run = [&](int threads) {
    nabla::set_num_threads(threads);
    return Results{nabla::kernels::conv2d(input, weight, bias, o).to_vector<float>(),
                   nabla::kernels::conv2d_input_grad(grad_output, weight, input_shape(g), o)
                       .to_vector<float>(),
                   nabla::kernels::conv2d_weight_grad(grad_output, input, weight_shape(g), o)
                       .to_vector<float>()};
  };
  const ThreadCountGuard guard;
  const Results one = run(1);
  for (int threads : {2, 3, 5}) {
    const Results many = run(threads);
    EXPECT_EQ(std::memcmp(one.output.data(), many.output.data(), one.output.size() * 4), 0);
    EXPECT_EQ(std::memcmp(one.grad_input.data(), many.grad_input.data(), one.grad_input.size() * 4),
              0);
    EXPECT_EQ(
        std::memcmp(one.grad_weight.data(), many.grad_weight.data(), one.grad_weight.size() * 4), 0)
        << threads << " threads";
  }
}

// A seeded sweep over geometries around the implicit GEMMs' tiles (12 rows, 32 columns, bands of
// 192 reduction steps): sizes 1, primes and 2^k-1 / 2^k / 2^k+1, 1, 3 and more input channels,
// strides, paddings and dilations, batch 1 and odd, float32 and float64, each at 1 and 2 threads
// (bit-identical), against the direct loops.
template <typename T>
void check_random_geometries(double tolerance, uint64_t seed) {
  uint64_t state = seed;
  auto next = [&](uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state >> 33) % bound);
  };
  auto pick = [&](const std::vector<int64_t>& values) {
    return values[static_cast<size_t>(next(values.size()))];
  };
  const std::vector<int64_t> sizes = {1, 2, 3, 5, 7, 11, 13, 15, 16, 17, 31, 32, 33, 40};
  int checked = 0;
  while (checked < 40) {
    Spec spec{};
    spec.batch = pick({1, 1, 2, 3, 5, 9, 17});  // above 8: chunks of several images
    spec.in_channels = pick({1, 1, 3, 3, 2, 5, 13, 24, 32});
    spec.out_channels = pick({1, 7, 11, 12, 13, 24, 31, 32, 33, 47, 48, 50, 64, 65, 96});
    spec.in_h = pick(sizes);
    spec.in_w = pick(sizes);
    spec.kernel_h = 1 + next(3);
    spec.kernel_w = next(8) == 0 ? 5 : 1 + next(3);
    const bool unit_stride = next(10) < 7;
    spec.stride_h = unit_stride ? 1 : 1 + next(3);
    spec.stride_w = unit_stride ? 1 : 1 + next(3);
    spec.pad_top = next(3);
    spec.pad_bottom = next(3);
    spec.pad_left = next(3);
    spec.pad_right = next(3);
    spec.dilation_h = next(4) == 0 ? 2 : 1;
    spec.dilation_w = next(4) == 0 ? 2 : 1;
    if (spec.in_h + spec.pad_top + spec.pad_bottom < spec.dilation_h * (spec.kernel_h - 1) + 1 ||
        spec.in_w + spec.pad_left + spec.pad_right < spec.dilation_w * (spec.kernel_w - 1) + 1) {
      continue;
    }
    const Conv2dGeometry g = make_geometry(spec);
    if (output_size(g) * g.in_channels * g.kernel_h * g.kernel_w > 400000) {
      continue;
    }
    ++checked;
    const ThreadCountGuard guard;
    nabla::set_num_threads(1);
    check_against_reference<T>(spec, next(2) == 0, tolerance);
    // The same calls at 2 threads must give the same bits.
    const Conv2dOptions o = options_of(spec);
    const Tensor input = as_tensor(random_values<T>(input_size(g), 21), input_shape(g));
    const Tensor weight = as_tensor(random_values<T>(weight_size(g), 22), weight_shape(g));
    const Tensor bias = as_tensor(random_values<T>(g.out_channels, 23), {g.out_channels});
    const Tensor grad_output = as_tensor(random_values<T>(output_size(g), 24), output_shape(g));
    auto run = [&] {
      return std::vector<std::vector<T>>{
          nabla::kernels::conv2d(input, weight, bias, o).template to_vector<T>(),
          nabla::kernels::conv2d_input_grad(grad_output, weight, input_shape(g), o)
              .template to_vector<T>(),
          nabla::kernels::conv2d_weight_grad(grad_output, input, weight_shape(g), o)
              .template to_vector<T>()};
    };
    const auto one = run();
    nabla::set_num_threads(2);
    const auto two = run();
    for (size_t i = 0; i < one.size(); ++i) {
      ASSERT_EQ(one[i].size(), two[i].size());
      EXPECT_EQ(std::memcmp(one[i].data(), two[i].data(), one[i].size() * sizeof(T)), 0)
          << describe(g) << " result " << i << " differs between 1 and 2 threads";
    }
  }
}

TEST(ConvKernel, RandomGeometriesMatchDirectLoopsAtOneAndTwoThreads) {
  check_random_geometries<float>(1e-5, 0xC0DE);
  check_random_geometries<double>(1e-13, 0xBEEF);
}

// A batch of zero images leaves nothing to write except a zero weight gradient.
TEST(ConvKernel, EmptyBatchGivesZeroWeightGradient) {
  const Spec spec{0, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
  const Conv2dGeometry g = make_geometry(spec);
  poison_next_allocation<float>(weight_shape(g), 7.0);
  const Tensor grad_weight = nabla::kernels::conv2d_weight_grad(nabla::zeros(output_shape(g)),
                                                                nabla::zeros(input_shape(g)),
                                                                weight_shape(g), options_of(spec));
  ASSERT_EQ(grad_weight.shape(), weight_shape(g));
  for (float v : grad_weight.to_vector<float>()) {
    EXPECT_EQ(v, 0.0F);
  }
}

// Any layout and mixed dtypes in: a transposed (non-contiguous) float32 input with a float64
// weight gives the float64 result of the contiguous float64 operands.
TEST(ConvKernel, TakesAnyLayoutAndPromotesDtypes) {
  const Spec spec{2, 3, 5, 6, 2, 3, 2, 1, 2, 1, 0, 1, 1, 1, 1};
  const Conv2dGeometry g = make_geometry(spec);
  const Conv2dOptions o = options_of(spec);
  const auto input = random_values<float>(input_size(g), 15);
  const auto weight = random_values<double>(weight_size(g), 16);
  // Stored as [N, C, W, H] and viewed as [N, C, H, W].
  std::vector<float> transposed(input.size());
  for (int64_t p = 0; p < g.batch * g.in_channels; ++p) {
    for (int64_t h = 0; h < g.in_h; ++h) {
      for (int64_t w = 0; w < g.in_w; ++w) {
        transposed[static_cast<size_t>((p * g.in_w + w) * g.in_h + h)] =
            input[static_cast<size_t>((p * g.in_h + h) * g.in_w + w)];
      }
    }
  }
  const std::vector<double>* const no_bias = nullptr;
  const Tensor stored = as_tensor(transposed, {g.batch, g.in_channels, g.in_w, g.in_h});
  const Tensor view = nabla::kernels::transpose(stored, 2, 3);
  ASSERT_FALSE(view.is_contiguous());
  const Tensor output =
      nabla::kernels::conv2d(view, as_tensor(weight, weight_shape(g)), Tensor(), o);
  ASSERT_EQ(output.dtype(), nabla::kFloat64);
  expect_close(output.to_vector<double>(), reference_forward(g, input, weight, no_bias),
               reference_forward(g, absolute(input), absolute(weight), no_bias), 1e-13, "output");
}

// The gradient kernels read grad as a contiguous [N, OC, OH, OW] buffer: any other shape, or an
// int64 grad, is refused before anything is read.
TEST(ConvKernel, GradientKernelsRefuseAMisfitGrad) {
  const Conv2dOptions o{};
  const Tensor input = nabla::zeros({2, 3, 5, 5});
  const Tensor weight = nabla::zeros({4, 3, 3, 3});
  nabla::testing::expect_error_containing(
      [&] {
        (void)nabla::kernels::conv2d_input_grad(nabla::zeros({2, 4, 3, 4}), weight, input.shape(),
                                                o);
      },
      "conv2d_input_grad: grad of shape [2, 4, 3, 4] does not match the output shape [2, 4, 3, 3]");
  nabla::testing::expect_error_containing(
      [&] {
        (void)nabla::kernels::conv2d_weight_grad(nabla::zeros({2, 4, 3, 3}, nabla::kInt64), input,
                                                 weight.shape(), o);
      },
      "conv2d_weight_grad: grad must be float32 or float64, got int64");
  // The geometry is validated as in the forward: channels must match.
  nabla::testing::expect_error_containing(
      [&] {
        (void)nabla::kernels::conv2d_input_grad(nabla::zeros({2, 4, 3, 3}), weight, {2, 2, 5, 5},
                                                o);
      },
      "conv2d: input of shape [2, 2, 5, 5] has 2 channels, weight of shape [4, 3, 3, 3] expects 3");
}

}  // namespace
