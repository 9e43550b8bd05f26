// Tests of the max/avg pooling kernels against direct-loop references, plus ties, NaN,
// padding-excluding averages, any input layout and bit-identical results across threads.
#include "tensor/kernels/pool.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/kernels/kernels.h"
#include "tensor/parallel.h"
#include "tests/support/expect_error.h"
#include "tests/support/kernel_inputs.h"
#include "tests/support/thread_count_guard.h"

namespace {

using nabla::Pool2dOptions;
using nabla::Shape;
using nabla::Tensor;
using nabla::kernels::Pool2dGeometry;
using nabla::testing::as_tensor;
using nabla::testing::poison_next_allocation;
using nabla::testing::ThreadCountGuard;

struct Spec {
  int64_t batch, channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
};

Pool2dGeometry make_geometry(const Spec& s) {
  return {s.batch,
          s.channels,
          s.in_h,
          s.in_w,
          s.kernel_h,
          s.kernel_w,
          s.stride_h,
          s.stride_w,
          s.pad_top,
          s.pad_left,
          (s.in_h + s.pad_top + s.pad_bottom - s.kernel_h) / s.stride_h + 1,
          (s.in_w + s.pad_left + s.pad_right - s.kernel_w) / s.stride_w + 1};
}

Pool2dOptions options_of(const Spec& s) {
  return {.kernel = {s.kernel_h, s.kernel_w},
          .stride = {s.stride_h, s.stride_w},
          .padding = {s.pad_top, s.pad_bottom, s.pad_left, s.pad_right}};
}

Shape input_shape(const Spec& s) { return {s.batch, s.channels, s.in_h, s.in_w}; }
Shape output_shape(const Spec& s) {
  const Pool2dGeometry g = make_geometry(s);
  return {g.batch, g.channels, g.out_h, g.out_w};
}

// The kernels on vectors; each output starts as `poison`.
template <typename T>
std::pair<std::vector<T>, std::vector<int64_t>> max_forward(
    const Spec& s, const std::vector<T>& input, T poison = std::numeric_limits<T>::quiet_NaN()) {
  poison_next_allocation(output_shape(s), poison);
  const auto [output, argmax] =
      nabla::kernels::max_pool2d_with_argmax(as_tensor(input, input_shape(s)), options_of(s));
  EXPECT_EQ(output.shape(), output_shape(s));
  EXPECT_EQ(argmax.dtype(), nabla::kInt64);
  return {output.template to_vector<T>(), argmax.template to_vector<int64_t>()};
}

template <typename T>
std::vector<T> max_backward(const Spec& s, const std::vector<T>& grad_output,
                            const std::vector<int64_t>& argmax,
                            T poison = std::numeric_limits<T>::quiet_NaN()) {
  poison_next_allocation(input_shape(s), poison);
  return nabla::kernels::max_pool2d_backward(as_tensor(grad_output, output_shape(s)),
                                             nabla::tensor(argmax, output_shape(s)), input_shape(s),
                                             options_of(s))
      .template to_vector<T>();
}

template <typename T>
std::vector<T> avg_forward(const Spec& s, const std::vector<T>& input,
                           T poison = std::numeric_limits<T>::quiet_NaN()) {
  poison_next_allocation(output_shape(s), poison);
  return nabla::kernels::avg_pool2d(as_tensor(input, input_shape(s)), options_of(s))
      .template to_vector<T>();
}

template <typename T>
std::vector<T> avg_backward(const Spec& s, const std::vector<T>& grad_output,
                            T poison = std::numeric_limits<T>::quiet_NaN()) {
  poison_next_allocation(input_shape(s), poison);
  return nabla::kernels::avg_pool2d_backward(as_tensor(grad_output, output_shape(s)),
                                             input_shape(s), options_of(s))
      .template to_vector<T>();
}

std::string describe(const Pool2dGeometry& g) {
  std::ostringstream out;
  out << "N=" << g.batch << " C=" << g.channels << " H=" << g.in_h << " W=" << g.in_w
      << " K=" << g.kernel_h << "x" << g.kernel_w << " S=" << g.stride_h << "," << g.stride_w
      << " P=" << g.pad_top << "," << g.pad_left << " O=" << g.out_h << "x" << g.out_w;
  return out.str();
}

size_t input_size(const Pool2dGeometry& g) {
  return static_cast<size_t>(g.batch * g.channels * g.in_h * g.in_w);
}
size_t output_size(const Pool2dGeometry& g) {
  return static_cast<size_t>(g.batch * g.channels * g.out_h * g.out_w);
}

template <typename T>
std::vector<T> random_values(size_t count, uint64_t seed) {
  std::vector<T> values(count);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& v : values) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<T>(static_cast<double>(state >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
  return values;
}

// Calls visit(plane, oh, ow, ih, iw) for each in-bounds window element, in row-major order.
template <typename Visit>
void for_each_window_element(const Pool2dGeometry& g, const Visit& visit) {
  for (int64_t p = 0; p < g.batch * g.channels; ++p) {
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
          for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const int64_t ih = oh * g.stride_h - g.pad_top + kh;
            const int64_t iw = ow * g.stride_w - g.pad_left + kw;
            if (ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w) {
              visit(p, oh, ow, ih, iw);
            }
          }
        }
      }
    }
  }
}

size_t out_index(const Pool2dGeometry& g, int64_t p, int64_t oh, int64_t ow) {
  return static_cast<size_t>((p * g.out_h + oh) * g.out_w + ow);
}
size_t in_index(const Pool2dGeometry& g, int64_t p, int64_t ih, int64_t iw) {
  return static_cast<size_t>((p * g.in_h + ih) * g.in_w + iw);
}

struct MaxReference {
  std::vector<double> output;
  std::vector<int64_t> argmax;
  std::vector<double> grad_input;
};

template <typename T>
MaxReference reference_max(const Pool2dGeometry& g, const std::vector<T>& input,
                           const std::vector<T>& grad_output) {
  MaxReference r{std::vector<double>(output_size(g), -std::numeric_limits<double>::infinity()),
                 std::vector<int64_t>(output_size(g), -1), std::vector<double>(input_size(g), 0.0)};
  for_each_window_element(g, [&](int64_t p, int64_t oh, int64_t ow, int64_t ih, int64_t iw) {
    const size_t o = out_index(g, p, oh, ow);
    const auto v = static_cast<double>(input[in_index(g, p, ih, iw)]);
    if (r.argmax[o] < 0 || (!std::isnan(r.output[o]) && (v > r.output[o] || std::isnan(v)))) {
      r.output[o] = v;
      r.argmax[o] = ih * g.in_w + iw;
    }
  });
  for (int64_t p = 0; p < g.batch * g.channels; ++p) {
    for (int64_t i = 0; i < g.out_h * g.out_w; ++i) {
      const int64_t a = r.argmax[out_index(g, p, 0, 0) + static_cast<size_t>(i)];
      if (a >= 0) {
        r.grad_input[in_index(g, p, 0, 0) + static_cast<size_t>(a)] +=
            static_cast<double>(grad_output[out_index(g, p, 0, 0) + static_cast<size_t>(i)]);
      }
    }
  }
  return r;
}

struct AvgReference {
  std::vector<double> output, grad_input;
};

template <typename T>
AvgReference reference_avg(const Pool2dGeometry& g, const std::vector<T>& input,
                           const std::vector<T>& grad_output) {
  AvgReference r{std::vector<double>(output_size(g), 0.0), std::vector<double>(input_size(g), 0.0)};
  std::vector<double> count(output_size(g), 0.0);
  for_each_window_element(g, [&](int64_t p, int64_t oh, int64_t ow, int64_t ih, int64_t iw) {
    r.output[out_index(g, p, oh, ow)] += static_cast<double>(input[in_index(g, p, ih, iw)]);
    count[out_index(g, p, oh, ow)] += 1;
  });
  for (size_t i = 0; i < count.size(); ++i) {
    r.output[i] = count[i] > 0 ? r.output[i] / count[i] : 0.0;
  }
  for_each_window_element(g, [&](int64_t p, int64_t oh, int64_t ow, int64_t ih, int64_t iw) {
    const size_t o = out_index(g, p, oh, ow);
    r.grad_input[in_index(g, p, ih, iw)] += static_cast<double>(grad_output[o]) / count[o];
  });
  return r;
}

template <typename T>
void expect_near_all(const std::vector<T>& actual, const std::vector<double>& expected,
                     double tolerance, const char* what) {
  ASSERT_EQ(actual.size(), expected.size());
  int failures = 0;
  for (size_t i = 0; i < actual.size() && failures < 5; ++i) {
    const auto value = static_cast<double>(actual[i]);
    // Equal infinities (padding-only max windows) differ by NaN, so compare them exactly first.
    if (value != expected[i] && !(std::fabs(value - expected[i]) <= tolerance)) {
      ADD_FAILURE() << what << "[" << i << "] = " << actual[i] << ", expected " << expected[i];
      ++failures;
    }
  }
}

std::vector<Spec> specs() {
  // batch, C, H, W, KH, KW, SH, SW, PT, PL, PB, PR
  return {
      {1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0},     // plain 2x2
      {3, 3, 6, 8, 2, 2, 2, 2, 0, 0, 0, 0},     // batch and channels
      {3, 1, 5, 5, 2, 2, 2, 2, 0, 0, 0, 0},     // row/col 4 uncovered
      {1, 3, 7, 7, 3, 3, 3, 3, 0, 0, 0, 0},     // stride 3, row/col 6 uncovered
      {3, 3, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1},     // 3x3 'same', overlapping windows
      {1, 3, 7, 6, 3, 3, 2, 2, 1, 1, 1, 0},     // stride 2, asymmetric
      {3, 1, 6, 6, 3, 3, 2, 2, 0, 0, 1, 1},     // TF 'same' stride 2: pad only after
      {1, 3, 7, 9, 3, 2, 2, 1, 1, 0, 0, 1},     // 3x2 kernel, strides 2/1
      {3, 3, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0},     // 1x1 identity
      {2, 2, 3, 4, 2, 3, 1, 2, 1, 2, 1, 1},     // padding one short of the window
      {4, 16, 26, 26, 2, 2, 2, 2, 0, 0, 0, 0},  // large enough for the parallel path
      {2, 8, 33, 31, 3, 3, 2, 2, 1, 1, 1, 1},   // parallel, overlapping, padded
      // Around the column-vectorized loops (4/8/16 lanes): tiled 2 and 3 taps with and
      // without a remainder column, width 1, and the per-tap paths for strides 1, 2, 3.
      {2, 3, 5, 17, 2, 2, 2, 2, 0, 0, 0, 0},  // tiled 2, one column uncovered
      {1, 2, 4, 33, 3, 3, 3, 3, 0, 0, 0, 0},  // tiled 3
      {1, 2, 6, 16, 3, 3, 3, 3, 0, 0, 0, 2},  // stride 3 with a partial last window
      {2, 2, 3, 1, 2, 1, 1, 1, 0, 0, 0, 0},   // width 1
      {2, 2, 4, 9, 2, 2, 2, 2, 0, 1, 0, 0},   // left padding: stride-2 taps
      {1, 2, 5, 31, 3, 3, 1, 1, 1, 1, 1, 1},  // stride-1 taps
  };
}

template <typename T>
void check_against_reference(const Spec& spec, double tolerance) {
  const Pool2dGeometry g = make_geometry(spec);
  SCOPED_TRACE(describe(g));
  const auto input = random_values<T>(input_size(g), 1);
  const auto grad_output = random_values<T>(output_size(g), 2);

  const MaxReference max_ref = reference_max(g, input, grad_output);
  const auto [output, argmax] = max_forward(spec, input);
  expect_near_all(output, max_ref.output, 0.0, "max output");
  EXPECT_EQ(argmax, max_ref.argmax);
  const std::vector<T> max_grad = max_backward(spec, grad_output, argmax);
  expect_near_all(max_grad, max_ref.grad_input, tolerance, "max grad_input");

  const AvgReference avg_ref = reference_avg(g, input, grad_output);
  expect_near_all(avg_forward(spec, input), avg_ref.output, tolerance, "avg output");
  const std::vector<T> avg_grad = avg_backward(spec, grad_output);
  expect_near_all(avg_grad, avg_ref.grad_input, tolerance, "avg grad_input");

  // Elements no window covers get exactly zero from both backwards (the references say which).
  const std::vector<T> coverage = avg_backward(spec, std::vector<T>(output_size(g), T(1)));
  for (size_t i = 0; i < coverage.size(); ++i) {
    if (coverage[i] == T(0)) {
      EXPECT_EQ(avg_grad[i], T(0)) << i;
      EXPECT_EQ(max_grad[i], T(0)) << i;
    }
  }
}

TEST(PoolKernel, FloatMatchesDirectLoops) {
  for (const Spec& spec : specs()) {
    check_against_reference<float>(spec, 1e-6);
  }
}

TEST(PoolKernel, DoubleMatchesDirectLoops) {
  for (const Spec& spec : specs()) {
    check_against_reference<double>(spec, 1e-14);
  }
}

TEST(PoolKernel, UncoveredRowsAndColumnsGetZeroGradient) {
  // H=W=5, 2x2 stride 2: row 4 and column 4 belong to no window.
  const Spec spec{1, 1, 5, 5, 2, 2, 2, 2, 0, 0, 0, 0};
  ASSERT_EQ(make_geometry(spec).out_h, 2);
  const auto input = random_values<float>(25, 3);
  const std::vector<float> grad_output(4, 1.0F);
  const std::vector<int64_t> argmax = max_forward(spec, input).second;
  const std::vector<float> max_grad = max_backward(spec, grad_output, argmax, 9.0F);
  const std::vector<float> avg_grad = avg_backward(spec, grad_output, 9.0F);
  float max_total = 0;
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(max_grad[static_cast<size_t>(20 + i)], 0.0F);
    EXPECT_EQ(max_grad[static_cast<size_t>(i * 5 + 4)], 0.0F);
    EXPECT_EQ(avg_grad[static_cast<size_t>(20 + i)], 0.0F);
    EXPECT_EQ(avg_grad[static_cast<size_t>(i * 5 + 4)], 0.0F);
  }
  for (int64_t h = 0; h < 4; ++h) {
    for (int64_t w = 0; w < 4; ++w) {
      EXPECT_EQ(avg_grad[static_cast<size_t>(h * 5 + w)], 0.25F);
      max_total += max_grad[static_cast<size_t>(h * 5 + w)];
    }
  }
  EXPECT_EQ(max_total, 4.0F);
}

// Equal maxima: the first in row-major window order wins and alone receives the gradient.
TEST(PoolKernel, MaxTieGoesToFirstMaximum) {
  const Spec spec{1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0};
  // clang-format off
  const std::vector<float> input = {
      1, 5, 7, 7,
      5, 2, 7, 7,
      0, 0, -3, -1,
      0, 0, -1, -3};
  // clang-format on
  const auto [output, argmax] = max_forward(spec, input);
  EXPECT_EQ(output, (std::vector<float>{5, 7, 0, -1}));
  EXPECT_EQ(argmax, (std::vector<int64_t>{1, 2, 8, 11}));

  // clang-format off
  const std::vector<float> expected = {
      0, 1, 2, 0,
      0, 0, 0, 0,
      3, 0, 0, 4,
      0, 0, 0, 0};
  // clang-format on
  EXPECT_EQ(max_backward(spec, std::vector<float>{1, 2, 3, 4}, argmax, -1.0F), expected);
}

// Overlapping windows that pick the same element add their gradients there.
TEST(PoolKernel, MaxOverlappingWindowsAccumulate) {
  const Spec spec{1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0};
  const std::vector<double> input = {0, 0, 0, 0, 9, 0, 0, 0, 0};
  const std::vector<int64_t> argmax = max_forward(spec, input).second;
  EXPECT_EQ(argmax, (std::vector<int64_t>{4, 4, 4, 4}));
  EXPECT_EQ(max_backward(spec, std::vector<double>{1, 2, 3, 4}, argmax),
            (std::vector<double>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

// The 2x2 stride-2 float path writes each window's four elements directly; an argmax that names
// an element outside its own window (possible only through this kernel API) must still be
// scattered there, as the general loop does: 16 windows per row (a full vector), odd extents.
TEST(PoolKernel, MaxBackwardTiledPathScattersAForeignArgmax) {
  const Spec spec{1, 2, 5, 33, 2, 2, 2, 2, 0, 0, 0, 0};
  const int64_t out_plane = 32;  // 2 x 16 windows
  const int64_t in_plane = 165;  // 5 x 33
  std::vector<float> grad(static_cast<size_t>(2 * out_plane));
  std::vector<int64_t> argmax(grad.size());
  std::vector<float> expected(static_cast<size_t>(2 * in_plane), 0.0F);
  for (int64_t p = 0; p < 2; ++p) {
    for (int64_t oh = 0; oh < 2; ++oh) {
      for (int64_t ow = 0; ow < 16; ++ow) {
        const auto i = static_cast<size_t>(p * out_plane + oh * 16 + ow);
        grad[i] = static_cast<float>(i + 1);
        // Plane 1, window (1, 5) points at (0, 0), outside it; every other window at its own
        // bottom-right element.
        argmax[i] = p == 1 && oh == 1 && ow == 5 ? 0 : (2 * oh + 1) * 33 + 2 * ow + 1;
        expected[static_cast<size_t>(p * in_plane + argmax[i])] += grad[i];
      }
    }
  }
  EXPECT_EQ(max_backward(spec, grad, argmax), expected);
}

// Like PyTorch: any NaN in a window makes that output NaN; other windows are unaffected.
TEST(PoolKernel, MaxPropagatesNaN) {
  const Spec spec{1, 1, 2, 6, 2, 2, 2, 2, 0, 0, 0, 0};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // Windows: {NaN first, then larger}, {larger first, then NaN}, {no NaN}.
  const std::vector<float> input = {nan, 3, 4, 1, 1, 2, 1, 9, nan, 1, 2, inf};
  const auto [output, argmax] = max_forward(spec, input, 0.0F);
  EXPECT_TRUE(std::isnan(output[0]));
  EXPECT_TRUE(std::isnan(output[1]));
  EXPECT_EQ(output[2], inf);
  EXPECT_EQ(argmax, (std::vector<int64_t>{0, 8, 11}));
}

// A window of -inf still picks its first element.
TEST(PoolKernel, NegativeInfinityWindowPicksItsFirstElement) {
  const float inf = std::numeric_limits<float>::infinity();
  const Spec spec{1, 1, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0};
  const auto [output, argmax] = max_forward(spec, std::vector<float>(4, -inf), 0.0F);
  EXPECT_EQ(output, (std::vector<float>{-inf}));
  EXPECT_EQ(argmax, (std::vector<int64_t>{0}));
}

// Padding is not counted: a 3x3 'same' average of ones is exactly 1 everywhere, and a corner
// window averages its 4 in-bounds elements.
TEST(PoolKernel, AvgCountsOnlyInBoundsElements) {
  const Spec spec{1, 1, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1};
  for (float v : avg_forward(spec, std::vector<float>(16, 1.0F))) {
    EXPECT_EQ(v, 1.0F);
  }
  std::vector<float> input(16);
  for (size_t i = 0; i < 16; ++i) {
    input[i] = static_cast<float>(i);
  }
  const std::vector<float> output = avg_forward(spec, input);
  EXPECT_FLOAT_EQ(output[0], (0.0F + 1 + 4 + 5) / 4);          // corner: 4 elements
  EXPECT_FLOAT_EQ(output[1], (0.0F + 1 + 2 + 4 + 5 + 6) / 6);  // edge: 6 elements
  EXPECT_FLOAT_EQ(output[5], (0.0F + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9);
  // Backward: the corner input receives 1/4 (own corner window) + 2 * 1/6 + 1/9.
  const std::vector<float> grad_input = avg_backward(spec, std::vector<float>(16, 1.0F));
  EXPECT_FLOAT_EQ(grad_input[0], 1.0F / 4 + 2.0F / 6 + 1.0F / 9);
}

// The average is linear: its backward must be the exact adjoint (checked by finite differences).
TEST(PoolKernel, AvgBackwardMatchesFiniteDifferences) {
  const Spec spec{2, 2, 5, 6, 3, 2, 2, 1, 1, 0, 1, 1};
  const Pool2dGeometry g = make_geometry(spec);
  auto input = random_values<double>(input_size(g), 4);
  const auto seed_grad = random_values<double>(output_size(g), 5);
  auto loss = [&] {
    const std::vector<double> output = avg_forward(spec, input);
    double sum = 0;
    for (size_t i = 0; i < output.size(); ++i) {
      sum += seed_grad[i] * output[i];
    }
    return sum;
  };
  const std::vector<double> grad_input = avg_backward(spec, seed_grad);
  for (size_t i = 0; i < input.size(); ++i) {
    const double saved = input[i];
    input[i] = saved + 1e-4;
    const double plus = loss();
    input[i] = saved - 1e-4;
    const double minus = loss();
    input[i] = saved;
    EXPECT_NEAR(grad_input[i], (plus - minus) / 2e-4, 1e-9) << i;
  }
}

// Any layout in: a transposed (non-contiguous) input pools like its contiguous copy.
TEST(PoolKernel, TakesAnyLayout) {
  const Spec spec{2, 3, 7, 6, 3, 2, 2, 1, 1, 0, 1, 1};
  const auto input = random_values<float>(input_size(make_geometry(spec)), 8);
  // The [N, C, W, H] tensor whose transpose is `input` as [N, C, H, W].
  const Tensor stored = nabla::kernels::contiguous(
      nabla::kernels::transpose(as_tensor(input, input_shape(spec)), 2, 3));
  const Tensor view = nabla::kernels::transpose(stored, 2, 3);
  ASSERT_FALSE(view.is_contiguous());
  const auto [output, argmax] = nabla::kernels::max_pool2d_with_argmax(view, options_of(spec));
  const auto [expected, expected_argmax] = max_forward(spec, input);
  EXPECT_EQ(output.to_vector<float>(), expected);
  EXPECT_EQ(argmax.to_vector<int64_t>(), expected_argmax);
  EXPECT_EQ(nabla::kernels::avg_pool2d(view, options_of(spec)).to_vector<float>(),
            avg_forward(spec, input));
}

TEST(PoolKernel, BitIdenticalForAnyThreadCount) {
  const Spec spec{5, 7, 30, 30, 3, 3, 2, 2, 1, 1, 1, 1};
  const Pool2dGeometry g = make_geometry(spec);
  const auto input = random_values<float>(input_size(g), 6);
  const auto grad_output = random_values<float>(output_size(g), 7);
  auto run = [&](int threads) {
    nabla::set_num_threads(threads);
    const auto [max_out, argmax] = max_forward(spec, input);
    std::vector<float> out = max_out;
    const std::vector<float> max_grad = max_backward(spec, grad_output, argmax);
    const std::vector<float> avg_out = avg_forward(spec, input);
    const std::vector<float> avg_grad = avg_backward(spec, grad_output);
    out.insert(out.end(), avg_out.begin(), avg_out.end());
    out.insert(out.end(), max_grad.begin(), max_grad.end());
    out.insert(out.end(), avg_grad.begin(), avg_grad.end());
    return out;
  };
  const ThreadCountGuard guard;
  const std::vector<float> one = run(1);
  for (int threads : {2, 3}) {
    const std::vector<float> many = run(threads);
    ASSERT_EQ(one.size(), many.size());
    EXPECT_EQ(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)), 0) << threads;
  }
}

// Float 2x2 stride-2 windows without padding take vector paths (AVX-512 where present: 16
// windows a vector, two rows a vector for rows of at most 8 windows, 16 columns a store in the
// backward). Widths and heights around those widths, odd (an uncovered last row/column) and
// tiny, with ties, signed zeros, infinities and NaN: the results must be exactly those of plain
// float loops in the per-window order (avg: ((((0 + x00) + x01) + x10) + x11) / 4, and
// 0 + g / 4 for each covered input), the max rule of reference_max, at any thread count and for
// a non-contiguous input.
std::vector<float> awkward_values(size_t count, uint64_t seed) {
  std::vector<float> values = random_values<float>(count, seed);
  const float specials[] = {0.0F, -0.0F, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = std::round(values[i] * 3.0F) / 3.0F;  // few levels: ties in many windows
    if (i % 37 == 5) values[i] = specials[(i / 37) % 5];
  }
  return values;
}

void expect_same_bits(const std::vector<float>& actual, const std::vector<float>& expected,
                      const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < actual.size() && failures < 5; ++i) {
    if (std::bit_cast<uint32_t>(actual[i]) != std::bit_cast<uint32_t>(expected[i])) {
      ADD_FAILURE() << what << "[" << i << "] = " << actual[i] << ", expected " << expected[i];
      ++failures;
    }
  }
}

void check_2x2_exactly(const Spec& spec, uint64_t seed) {
  const Pool2dGeometry g = make_geometry(spec);
  SCOPED_TRACE(describe(g));
  const std::vector<float> input = awkward_values(input_size(g), seed);
  const std::vector<float> grad_output = random_values<float>(output_size(g), seed + 1);
  const std::vector<float> avg_grad_output = awkward_values(output_size(g), seed + 2);
  // The sum starts from +0: windows of -0 average to +0 (here every window).
  const std::vector<float> negative_zeros(input_size(g), -0.0F);
  for (const std::vector<float>* in : {&input, &negative_zeros}) {
    std::vector<float> avg_out(output_size(g));
    for (int64_t p = 0; p < g.batch * g.channels; ++p) {
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          float sum = 0.0F;
          for (int64_t kh = 0; kh < 2; ++kh) {
            for (int64_t kw = 0; kw < 2; ++kw) {
              sum += (*in)[in_index(g, p, 2 * oh + kh, 2 * ow + kw)];
            }
          }
          avg_out[out_index(g, p, oh, ow)] = sum / 4.0F;
        }
      }
    }
    expect_same_bits(avg_forward(spec, *in), avg_out, "avg output");
  }
  std::vector<float> avg_grad(input_size(g), 0.0F);
  for (int64_t p = 0; p < g.batch * g.channels; ++p) {
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        for (int64_t kh = 0; kh < 2; ++kh) {
          for (int64_t kw = 0; kw < 2; ++kw) {
            avg_grad[in_index(g, p, 2 * oh + kh, 2 * ow + kw)] =
                0.0F + avg_grad_output[out_index(g, p, oh, ow)] / 4.0F;
          }
        }
      }
    }
  }
  expect_same_bits(avg_backward(spec, avg_grad_output), avg_grad, "avg grad_input");

  const MaxReference ref = reference_max(g, input, grad_output);
  const auto [output, argmax] = max_forward(spec, input);
  ASSERT_EQ(output.size(), ref.output.size());
  for (size_t i = 0; i < output.size(); ++i) {
    if (std::isnan(ref.output[i])) {
      EXPECT_TRUE(std::isnan(output[i])) << i;
    } else {
      EXPECT_EQ(static_cast<double>(output[i]), ref.output[i]) << i;
    }
  }
  EXPECT_EQ(argmax, ref.argmax);
  expect_near_all(max_backward(spec, grad_output, argmax), ref.grad_input, 0.0, "max grad_input");
}

TEST(PoolKernel, TwoByTwoFastPathsMatchExactFloatLoops) {
  const int64_t sizes[] = {2, 3, 4, 5, 11, 15, 16, 17, 18, 26, 31, 32, 33, 34, 35, 63, 65};
  uint64_t seed = 100;
  for (const int64_t w : sizes) {
    for (const int64_t h : {int64_t{2}, int64_t{3}, int64_t{11}, w}) {
      check_2x2_exactly({1 + static_cast<int64_t>(seed % 2), 1 + static_cast<int64_t>(seed % 3), h,
                         w, 2, 2, 2, 2, 0, 0, 0, 0},
                        seed);
      ++seed;
    }
  }
  // Large enough for the parallel path (and an odd out_h for the two-row vectors).
  check_2x2_exactly({4, 16, 11, 11, 2, 2, 2, 2, 0, 0, 0, 0}, 7);
  check_2x2_exactly({3, 8, 26, 26, 2, 2, 2, 2, 0, 0, 0, 0}, 8);
}

TEST(PoolKernel, TwoByTwoFastPathsIdenticalForAnyThreadCountAndLayout) {
  for (const Spec& spec :
       {Spec{8, 16, 11, 11, 2, 2, 2, 2, 0, 0, 0, 0}, Spec{4, 16, 26, 33, 2, 2, 2, 2, 0, 0, 0, 0}}) {
    const Pool2dGeometry g = make_geometry(spec);
    SCOPED_TRACE(describe(g));
    const std::vector<float> input = awkward_values(input_size(g), 9);
    const std::vector<float> grad_output = random_values<float>(output_size(g), 10);
    auto run = [&](int threads) {
      nabla::set_num_threads(threads);
      const auto [max_out, argmax] = max_forward(spec, input);
      std::vector<float> out = max_out;
      for (const int64_t a : argmax) out.push_back(static_cast<float>(a));
      for (const auto& part : {max_backward(spec, grad_output, argmax), avg_forward(spec, input),
                               avg_backward(spec, grad_output)}) {
        out.insert(out.end(), part.begin(), part.end());
      }
      return out;
    };
    const ThreadCountGuard guard;
    const std::vector<float> one = run(1);
    for (int threads : {2, 3}) {
      const std::vector<float> many = run(threads);
      ASSERT_EQ(one.size(), many.size());
      EXPECT_EQ(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)), 0) << threads;
    }
    // A transposed (non-contiguous) view pools like its contiguous copy.
    const Tensor stored = nabla::kernels::contiguous(
        nabla::kernels::transpose(as_tensor(input, input_shape(spec)), 2, 3));
    const Tensor view = nabla::kernels::transpose(stored, 2, 3);
    ASSERT_FALSE(view.is_contiguous());
    const auto [output, argmax] = nabla::kernels::max_pool2d_with_argmax(view, options_of(spec));
    const auto [expected, expected_argmax] = max_forward(spec, input);
    expect_same_bits(output.to_vector<float>(), expected, "max output of a view");
    EXPECT_EQ(argmax.to_vector<int64_t>(), expected_argmax);
    expect_same_bits(nabla::kernels::avg_pool2d(view, options_of(spec)).to_vector<float>(),
                     avg_forward(spec, input), "avg output of a view");
  }
}

// The backward kernels read grad and argmax as contiguous [N, C, OH, OW] buffers, and argmax as
// indices: a misfit shape or dtype is refused before anything is read or written.
TEST(PoolKernel, BackwardKernelsRefuseAMisfitGradOrArgmax) {
  const Pool2dOptions o{};
  const Shape input{1, 2, 4, 4};
  const Tensor grad = nabla::zeros({1, 2, 2, 2});
  nabla::testing::expect_error_containing(
      [&] {
        (void)nabla::kernels::avg_pool2d_backward(nabla::zeros({1, 2, 2, 3}), input, o);
      },
      "avg_pool2d_backward: grad of shape [1, 2, 2, 3] does not match the output shape "
      "[1, 2, 2, 2]");
  nabla::testing::expect_error_containing(
      [&] {
        (void)nabla::kernels::max_pool2d_backward(grad, nabla::zeros({1, 2, 2, 2}), input, o);
      },
      "max_pool2d_backward: argmax must be int64 of the output shape [1, 2, 2, 2], got float32");
  nabla::testing::expect_error_containing(
      [&] {
        (void)nabla::kernels::max_pool2d_backward(grad, nabla::zeros({1, 2, 4}, nabla::kInt64),
                                                  input, o);
      },
      "max_pool2d_backward: argmax must be int64 of the output shape [1, 2, 2, 2], got int64 "
      "[1, 2, 4]");
}

}  // namespace
