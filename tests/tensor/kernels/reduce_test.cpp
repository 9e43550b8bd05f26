// Raw reductions: accuracy of long float sums, determinism across thread counts, shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/kernels/kernels.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tests/support/thread_count_guard.h"

namespace nabla {
namespace {

TEST(Reduce, SumOfTwoToThe25Float32OnesIsExact) {
  const Tensor ones_big = ones({int64_t{1} << 25});
  EXPECT_EQ(kernels::sum(ones_big, {}, false).item<float>(), 33554432.0F);
  EXPECT_EQ(kernels::mean(ones_big, {}, false).item<float>(), 1.0F);
  // The same count along a row of a 2-D tensor.
  const Tensor rows = ones({2, int64_t{1} << 24});
  EXPECT_EQ(kernels::sum(rows, {1}, false).to_vector<float>(),
            (std::vector<float>{16777216.0F, 16777216.0F}));
}

TEST(Reduce, BitIdenticalForAnyThreadCount) {
  Generator g(3);
  const Tensor x = randn({1 << 20}, kFloat32, &g);
  const Tensor m = randn({512, 700}, kFloat32, &g);
  const testing::ThreadCountGuard guard;
  nabla::set_num_threads(1);
  const auto one = kernels::sum(x, {}, false).item<float>();
  const auto rows_one = kernels::sum(m, {0}, false).to_vector<float>();
  const auto soft_one = kernels::softmax(m, 1).to_vector<float>();
  nabla::set_num_threads(2);
  const auto two = kernels::sum(x, {}, false).item<float>();
  const auto rows_two = kernels::sum(m, {0}, false).to_vector<float>();
  const auto soft_two = kernels::softmax(m, 1).to_vector<float>();
  EXPECT_EQ(one, two);
  EXPECT_EQ(rows_one, rows_two);
  EXPECT_EQ(soft_one, soft_two);
}

// Regression: the column-wise sum's scratch was sized for the first half of each split only, so
// 2^k+1 rows (split 8 + 9, ...) wrote past it. Checked against a plain loop in double.
TEST(Reduce, SumOverLeadingAndMiddleDimsWithTwoToTheKPlusOneRows) {
  Generator g(11);
  for (const int64_t rows : {9, 17, 33, 65, 127, 129, 257, 1025, 16385}) {
    for (const int64_t cols : {2, 3, 5, 2049}) {
      if (rows * cols > (int64_t{1} << 22)) continue;
      const Tensor x = randn({2, rows, cols}, kFloat64, &g);
      const std::vector<double> values = x.to_vector<double>();
      const std::vector<double> got = kernels::sum(x, {1}, false).to_vector<double>();
      ASSERT_EQ(got.size(), static_cast<size_t>(2 * cols));
      for (int64_t b = 0; b < 2; ++b) {
        for (int64_t j = 0; j < cols; ++j) {
          double expected = 0.0;
          for (int64_t r = 0; r < rows; ++r) {
            expected += values[static_cast<size_t>((b * rows + r) * cols + j)];
          }
          ASSERT_NEAR(got[static_cast<size_t>(b * cols + j)], expected, 1e-10 * rows)
              << "rows " << rows << " cols " << cols << " b " << b << " j " << j;
        }
      }
    }
  }
  EXPECT_EQ(kernels::sum(ones({17, 5}), {0}, false).to_vector<float>(),
            std::vector<float>(5, 17.0F));
}

TEST(Reduce, SumsOverArbitraryDims) {
  const Tensor t = kernels::reshape(arange(24), {2, 3, 4});
  EXPECT_EQ(kernels::sum(t, {0, 2}, false).to_vector<int64_t>(),
            (std::vector<int64_t>{60, 92, 124}));
  EXPECT_EQ(kernels::sum(t, {-1}, true).shape(), (Shape{2, 3, 1}));
  // Reducing a transposed view: sum over dim 0 of t^T (dims 2,1,0) equals sum over dim 2 of t.
  EXPECT_EQ(kernels::sum(kernels::transpose(t, 0, 2), {0}, false).to_vector<int64_t>(),
            (std::vector<int64_t>{6, 54, 22, 70, 38, 86}));
  EXPECT_EQ(kernels::sum(zeros({0, 3}), {0}, false).to_vector<float>(),
            std::vector<float>(3, 0.0F));
  EXPECT_EQ(kernels::sum(scalar_tensor(5.0), {}, false).item(), 5.0);
}

// Leading and middle dims of a contiguous tensor are summed column by column, in place.
TEST(Reduce, ColumnSumsAreAccurateAndMatchTheRowSums) {
  // 2^21 rows of 0.1: adding them one after another in float32 drifts by about 1e-3 relative.
  const Tensor tenths = full({int64_t{1} << 21, 3}, 0.1);
  for (const float total : kernels::sum(tenths, {0}, false).to_vector<float>()) {
    EXPECT_NEAR(total, 209715.2, 209715.2 * 1e-6);
  }
  Generator g(5);
  const Tensor t = randn({3, 50, 7, 600}, kFloat32, &g);
  // The transposed copy puts the reduced dims last, where each output is one contiguous row.
  const Tensor by_rows = kernels::sum(kernels::contiguous(kernels::permute(t, {0, 3, 1, 2})),
                                      {2, 3}, false);  // [3, 600]
  const Tensor by_columns = kernels::sum(t, {1, 2}, false);
  ASSERT_EQ(by_columns.shape(), (Shape{3, 600}));
  const auto expected = by_rows.to_vector<float>();
  const auto actual = by_columns.to_vector<float>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-4) << i;
  EXPECT_EQ(kernels::sum(t, {1, 2}, true).shape(), (Shape{3, 1, 1, 600}));
  EXPECT_EQ(kernels::sum(kernels::reshape(arange(24), {2, 3, 4}), {1}, true).to_vector<int64_t>(),
            (std::vector<int64_t>{12, 15, 18, 21, 48, 51, 54, 57}));
}

// Column sums add bands of up to 16 rows in registers, in strips of 32, 16, 8, 4 and 1 floats
// (16, 8, 4 and 1 doubles), folding the pending halves of the row tree into each band's pass:
// row and column counts around those, 0 and 1, primes; float32, float64 and int64 against a
// double loop, bit-identical at 1 and 2 threads, and a transposed view as its contiguous copy.
TEST(Reduce, ColumnSumsAroundBandAndStripWidthsMatchADoubleLoop) {
  Generator g(17);
  const testing::ThreadCountGuard guard;
  for (const int64_t rows : {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 49, 97, 131}) {
    for (const int64_t cols :
         {0, 1, 3, 4, 5, 8, 13, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 97, 2049}) {
      for (const DType dtype : {kFloat32, kFloat64, kInt64}) {
        const Tensor x = dtype == kInt64 ? randint(-1000, 1000, {rows, cols}, &g)
                                         : randn({rows, cols}, dtype, &g);
        const std::vector<double> values = kernels::to_dtype(x, kFloat64).to_vector<double>();
        nabla::set_num_threads(1);
        const Tensor one = kernels::sum(x, {0}, false);
        nabla::set_num_threads(2);
        const Tensor two = kernels::sum(x, {0}, false);
        ASSERT_EQ(one.shape(), (Shape{cols}));
        const std::vector<double> got = kernels::to_dtype(one, kFloat64).to_vector<double>();
        EXPECT_EQ(got, kernels::to_dtype(two, kFloat64).to_vector<double>())
            << "rows " << rows << " cols " << cols;
        const double eps = dtype == kFloat32 ? 1e-6 : dtype == kFloat64 ? 1e-14 : 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          double expected = 0.0;
          double magnitude = 0.0;
          for (int64_t r = 0; r < rows; ++r) {
            expected += values[static_cast<size_t>(r * cols + j)];
            magnitude += std::abs(values[static_cast<size_t>(r * cols + j)]);
          }
          ASSERT_NEAR(got[static_cast<size_t>(j)], expected, eps * magnitude)
              << "rows " << rows << " cols " << cols << " j " << j << " " << dtype_name(dtype);
        }
        // A transposed view takes the row path: the same sums within rounding.
        const Tensor view =
            kernels::transpose(kernels::contiguous(kernels::transpose(x, 0, 1)), 0, 1);
        const std::vector<double> by_rows =
            kernels::to_dtype(kernels::sum(view, {0}, false), kFloat64).to_vector<double>();
        for (int64_t j = 0; j < cols; ++j) {
          EXPECT_NEAR(by_rows[static_cast<size_t>(j)], got[static_cast<size_t>(j)],
                      2 * eps * (std::abs(got[static_cast<size_t>(j)]) + rows));
        }
      }
    }
  }
}

// The conv bias gradient sums an NCHW tensor over {0, 2, 3}: reduced dims that are not adjacent,
// summed in place (no permuted copy). Checked against a plain loop in double, at 1 and 2 threads.
TEST(Reduce, SumOverNonAdjacentDimsMatchesADoubleLoop) {
  Generator g(17);
  const Tensor x = randn({64, 32, 26, 26}, kFloat32, &g);
  const std::vector<float> values = x.to_vector<float>();
  const testing::ThreadCountGuard guard;
  nabla::set_num_threads(1);
  const std::vector<float> one = kernels::sum(x, {0, 2, 3}, false).to_vector<float>();
  nabla::set_num_threads(2);
  const Tensor two = kernels::sum(x, {0, 2, 3}, false);
  ASSERT_EQ(two.shape(), (Shape{32}));
  EXPECT_EQ(one, two.to_vector<float>());
  const int64_t hw = int64_t{26} * 26;
  const double count = 64.0 * static_cast<double>(hw);
  const std::vector<float> means = kernels::mean(x, {0, 2, 3}, false).to_vector<float>();
  for (int64_t c = 0; c < 32; ++c) {
    double expected = 0.0;
    double magnitude = 0.0;
    for (int64_t n = 0; n < 64; ++n) {
      for (int64_t i = 0; i < hw; ++i) {
        const double v = values[static_cast<size_t>((n * 32 + c) * hw + i)];
        expected += v;
        magnitude += std::abs(v);
      }
    }
    // Pairwise: within eps * (a few + 2 log2 n) of the magnitude (n = 43264, log2 n < 16).
    const double tol = 1.2e-7 * 36 * magnitude;
    EXPECT_NEAR(one[static_cast<size_t>(c)], expected, tol) << "channel " << c;
    EXPECT_NEAR(means[static_cast<size_t>(c)], expected / count, tol / count + 1e-7) << c;
  }
  EXPECT_EQ(kernels::sum(x, {0, 2, 3}, true).shape(), (Shape{1, 32, 1, 1}));
  // Kept dim last: [N, C, H, W] over {0, 2} sums columns of W.
  const std::vector<float> by_width = kernels::sum(x, {0, 2}, false).to_vector<float>();
  ASSERT_EQ(by_width.size(), static_cast<size_t>(32 * 26));
  for (int64_t c = 0; c < 32; c += 7) {
    for (int64_t w = 0; w < 26; w += 5) {
      double expected = 0.0;
      for (int64_t n = 0; n < 64; ++n) {
        for (int64_t h = 0; h < 26; ++h) {
          expected += values[static_cast<size_t>(((n * 32 + c) * 26 + h) * 26 + w)];
        }
      }
      EXPECT_NEAR(by_width[static_cast<size_t>(c * 26 + w)], expected, 1e-3) << c << " " << w;
    }
  }
  EXPECT_EQ(kernels::sum(kernels::reshape(arange(24), {2, 3, 2, 2}), {0, 2, 3}, false)
                .to_vector<int64_t>(),
            (std::vector<int64_t>{60, 92, 124}));
}

// Small planes (H * W up to one pairwise leaf, 1024 elements) are summed as a batch of leaves per
// channel: plane sizes around the 16-float vector and the leaf size, float and double, against a
// double loop, bit-identical at 1 and 3 threads.
template <typename T>
void check_small_plane_bias_sums(int64_t n, int64_t c, int64_t h, int64_t w) {
  SCOPED_TRACE(::testing::Message() << n << "x" << c << "x" << h << "x" << w);
  Generator g(static_cast<uint64_t>(n * 1000 + h * 37 + w));
  const Tensor x = randn({n, c, h, w}, std::is_same_v<T, float> ? kFloat32 : kFloat64, &g);
  const std::vector<T> values = x.to_vector<T>();
  const testing::ThreadCountGuard guard;
  nabla::set_num_threads(1);
  const std::vector<T> one = kernels::sum(x, {0, 2, 3}, false).to_vector<T>();
  nabla::set_num_threads(3);
  const std::vector<T> three = kernels::sum(x, {0, 2, 3}, false).to_vector<T>();
  ASSERT_EQ(one.size(), static_cast<size_t>(c));
  EXPECT_EQ(one, three);
  const int64_t hw = h * w;
  const double eps = std::is_same_v<T, float> ? 1.2e-7 : 2.3e-16;
  for (int64_t k = 0; k < c; ++k) {
    double expected = 0.0;
    double magnitude = 0.0;
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < hw; ++i) {
        const auto v = static_cast<double>(values[static_cast<size_t>((b * c + k) * hw + i)]);
        expected += v;
        magnitude += std::abs(v);
      }
    }
    EXPECT_NEAR(static_cast<double>(one[static_cast<size_t>(k)]), expected,
                eps * 40 * magnitude + 1e-30)
        << "channel " << k;
  }
}

TEST(Reduce, SumOverNonAdjacentDimsOfSmallPlanes) {
  const std::pair<int64_t, int64_t> planes[] = {{1, 2},   {3, 5},   {11, 11}, {3, 5},
                                                {4, 4},   {1, 17},  {5, 3},   {31, 33},
                                                {32, 32}, {41, 25}, {13, 26}, {26, 26}};
  for (const auto& [h, w] : planes) {
    for (const int64_t n : {2, 7, 64}) {
      check_small_plane_bias_sums<float>(n, 5, h, w);
      check_small_plane_bias_sums<double>(n, 3, h, w);
    }
  }
  check_small_plane_bias_sums<float>(64, 64, 11, 11);  // the small CNN's second conv
}

// 2^21 tenths per output: a running float32 sum drifts by about 1e-3 relative, pairwise does not.
TEST(Reduce, SumOverNonAdjacentDimsIsPairwiseAccurate) {
  const Tensor runs = full({int64_t{1} << 11, 2, int64_t{1} << 10}, 0.1);  // trailing runs
  for (const float total : kernels::sum(runs, {0, 2}, false).to_vector<float>()) {
    EXPECT_NEAR(total, 209715.2, 209715.2 * 1e-6);
  }
  const Tensor columns = full({int64_t{1} << 11, 2, int64_t{1} << 10, 3}, 0.1);  // column blocks
  for (const float total : kernels::sum(columns, {0, 2}, false).to_vector<float>()) {
    EXPECT_NEAR(total, 209715.2, 209715.2 * 1e-6);
  }
}

TEST(Reduce, SumToInvertsBroadcasting) {
  const Tensor t = ones({3, 2, 4});
  EXPECT_EQ(kernels::sum_to(t, {2, 1}).to_vector<float>(), (std::vector<float>{12, 12}));
  EXPECT_EQ(kernels::sum_to(t, {}).item(), 24.0);
  EXPECT_THROW((void)kernels::sum_to(t, {3}), Error);
}

TEST(Reduce, ArgmaxTakesFirstOfTies) {
  const Tensor t = tensor({{1, 3, 3}, {2, 2, 0}});
  EXPECT_EQ(kernels::argmax(t, 1, false).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(kernels::argmin(t, std::nullopt, false).item<int64_t>(), 5);
}

}  // namespace
}  // namespace nabla
