// Checks the packed GEMM against a naive double-precision reference over transposes, odd sizes,
// padded leading dimensions and alpha/beta, and that results are identical for any thread count.
#include "tensor/kernels/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tensor/parallel.h"
#include "tests/support/thread_count_guard.h"

namespace nabla::kernels {
namespace {

struct Shape {
  int64_t m, n, k;
};

// Vectors indexed with the int64 offsets that gemm itself uses.
template <class V>
auto& at(V& v, int64_t i) {
  return v[static_cast<size_t>(i)];
}

// A buffer holding op(X) (rows x cols) in storage that is transposed when `trans`, with a leading
// dimension wider than the stored row so that stride bugs show up.
template <class T>
struct Operand {
  std::vector<T> data;
  int64_t ld = 0;
  bool trans = false;

  [[nodiscard]] T get(int64_t r, int64_t c) const {
    return at(data, trans ? c * ld + r : r * ld + c);
  }
};

template <class T>
T random_value(std::mt19937_64& rng) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(std::uniform_int_distribution<int>(-9, 9)(rng));
  } else {
    return static_cast<T>(std::uniform_real_distribution<double>(-1.0, 1.0)(rng));
  }
}

template <class T>
Operand<T> make_operand(int64_t rows, int64_t cols, bool trans, int64_t pad, std::mt19937_64& rng) {
  Operand<T> op;
  op.trans = trans;
  const int64_t stored_rows = trans ? cols : rows;
  const int64_t stored_cols = trans ? rows : cols;
  op.ld = stored_cols + pad;
  // Padding holds NaN for floats (huge values for ints) so reading it poisons the result.
  T poison;
  if constexpr (std::is_integral_v<T>) {
    poison = T(1) << 40;
  } else {
    poison = std::numeric_limits<T>::quiet_NaN();
  }
  op.data.assign(static_cast<size_t>(std::max<int64_t>(stored_rows * op.ld, 1)), poison);
  for (int64_t r = 0; r < stored_rows; ++r) {
    for (int64_t c = 0; c < stored_cols; ++c) {
      at(op.data, r * op.ld + c) = random_value<T>(rng);
    }
  }
  return op;
}

template <class T>
double tolerance(int64_t k) {
  if constexpr (std::is_integral_v<T>) {
    return 0.0;
  } else {
    const double eps = std::numeric_limits<T>::epsilon();
    return 4.0 * eps * static_cast<double>(k + 4);
  }
}

// Runs one case and compares against a double-precision triple loop.
template <class T>
void check_case(bool ta, bool tb, Shape s, T alpha, T beta, int64_t pad, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Operand<T> a = make_operand<T>(s.m, s.k, ta, pad, rng);
  const Operand<T> b = make_operand<T>(s.k, s.n, tb, pad + 3, rng);
  const int64_t ldc = s.n + pad + 1;
  std::vector<T> c(static_cast<size_t>(std::max<int64_t>(s.m * ldc, 1)));
  for (auto& v : c) {
    v = random_value<T>(rng);
  }
  if constexpr (!std::is_integral_v<T>) {
    if (beta == T(0)) {
      for (auto& v : c) {
        v = std::numeric_limits<T>::quiet_NaN();
      }
    }
  }
  const std::vector<T> c0 = c;

  gemm(ta, tb, s.m, s.n, s.k, alpha, a.data.data(), a.ld, b.data.data(), b.ld, beta, c.data(), ldc);

  const double tol = tolerance<T>(s.k);
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        acc += static_cast<double>(a.get(i, p)) * static_cast<double>(b.get(p, j));
      }
      double want = static_cast<double>(alpha) * acc;
      if (beta != T(0)) {
        want += static_cast<double>(beta) * static_cast<double>(at(c0, i * ldc + j));
      }
      const auto got = static_cast<double>(at(c, i * ldc + j));
      ASSERT_TRUE(std::isfinite(got)) << "ta=" << ta << " tb=" << tb << " m=" << s.m << " n=" << s.n
                                      << " k=" << s.k << " at " << i << "," << j;
      ASSERT_NEAR(got, want, tol * (1.0 + std::abs(want)))
          << "ta=" << ta << " tb=" << tb << " m=" << s.m << " n=" << s.n << " k=" << s.k << " at "
          << i << "," << j;
    }
    // Columns past n belong to someone else and must be untouched.
    for (int64_t j = s.n; j < ldc && i * ldc + j < static_cast<int64_t>(c.size()); ++j) {
      const T before = at(c0, i * ldc + j);
      const T after = at(c, i * ldc + j);
      // Bitwise on purpose: the padding may hold NaN, which never compares equal.
      // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
      ASSERT_EQ(std::memcmp(&before, &after, sizeof(T)), 0) << "wrote padding at " << i << "," << j;
    }
  }
}

template <class T>
void check_all_transposes(Shape s, T alpha, T beta, int64_t pad, uint64_t seed) {
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      check_case<T>(ta, tb, s, alpha, beta, pad, seed);
      if (::testing::Test::HasFatalFailure()) {
        return;
      }
    }
  }
}

std::vector<Shape> odd_shapes() {
  std::vector<Shape> shapes;
  const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 11, 13, 16, 17, 24, 31, 32, 33, 47, 63, 64, 65, 70};
  uint64_t i = 0;
  for (const int64_t m : sizes) {
    for (const int64_t n : sizes) {
      // Pick k deterministically from the list so every size appears in every position.
      const int64_t k = sizes[(i * 7 + 3) % (sizeof(sizes) / sizeof(sizes[0]))];
      shapes.push_back({m, n, k});
      ++i;
    }
  }
  return shapes;
}

TEST(Gemm, FloatMatchesReferenceForOddSizesAndAllTransposes) {
  uint64_t seed = 1;
  for (const Shape& s : odd_shapes()) {
    check_all_transposes<float>(s, 1.0F, 0.0F, 2, seed++);
    if (HasFatalFailure()) {
      return;
    }
  }
}

TEST(Gemm, DoubleMatchesReferenceForOddSizesAndAllTransposes) {
  uint64_t seed = 100;
  for (const Shape& s : odd_shapes()) {
    check_all_transposes<double>(s, 1.0, 0.0, 1, seed++);
    if (HasFatalFailure()) {
      return;
    }
  }
}

TEST(Gemm, Int64MatchesReferenceExactly) {
  uint64_t seed = 200;
  for (const Shape& s : odd_shapes()) {
    check_all_transposes<int64_t>(s, 3, -2, 2, seed++);
    if (HasFatalFailure()) {
      return;
    }
  }
  check_all_transposes<int64_t>({5, 7, 0}, 3, 4, 1, 7);
  check_all_transposes<int64_t>({5, 7, 3}, 2, 0, 1, 8);
}

TEST(Gemm, AlphaBetaCombinations) {
  const Shape shapes[] = {{37, 41, 29}, {13, 70, 300}, {1, 1, 1}};
  const float alphas[] = {1.0F, -0.5F, 2.0F};
  const float betas[] = {0.0F, 1.0F, -1.5F};
  uint64_t seed = 300;
  for (const Shape& s : shapes) {
    for (const float alpha : alphas) {
      for (const float beta : betas) {
        check_all_transposes<float>(s, alpha, beta, 3, seed);
        check_all_transposes<double>(s, alpha, beta, 3, seed);
        ++seed;
        if (HasFatalFailure()) {
          return;
        }
      }
    }
  }
}

TEST(Gemm, LargeSizesCrossCacheBlocks) {
  // Larger than MC, KC and the parallel threshold so that blocking and threading edges are hit.
  const Shape shapes[] = {{300, 301, 299}, {257, 33, 520}, {13, 290, 310}, {290, 7, 300}};
  uint64_t seed = 400;
  for (const Shape& s : shapes) {
    check_all_transposes<float>(s, 1.0F, 0.5F, 5, seed);
    check_all_transposes<double>(s, -1.0, 0.0, 5, seed + 1);
    seed += 2;
    if (HasFatalFailure()) {
      return;
    }
  }
}

TEST(Gemm, SkinnyLongKWithAlphaBetaMatchesReference) {
  // At most 16 columns (or 16 rows with B transposed) take the unpacked skinny kernels; once B^T
  // passes 256 KiB, k is cut into blocks and saved accumulators resume block after block.
  const Shape shapes[] = {{37, 9, 2000},  {65, 16, 1100}, {3, 1, 5000},  {130, 10, 513},
                          {9, 33, 3001},  {16, 40, 700},  {1, 2, 17},    {2, 16, 15},
                          {20, 12, 6000}, {5, 3, 30001},  {70, 16, 4500}};
  uint64_t seed = 450;
  for (const Shape& s : shapes) {
    check_all_transposes<float>(s, -0.5F, 1.5F, 3, seed);
    check_all_transposes<float>(s, 2.0F, 0.0F, 1, seed + 1);
    check_all_transposes<double>(s, 1.0, -1.0, 2, seed + 2);
    seed += 3;
    if (HasFatalFailure()) {
      return;
    }
  }
}

TEST(Gemm, BetaZeroIgnoresNanInC) {
  const int64_t m = 33;
  const int64_t n = 47;
  const int64_t k = 19;
  const std::vector<float> a(m * k, 1.0F);
  const std::vector<float> b(k * n, 2.0F);
  std::vector<float> c(m * n, std::numeric_limits<float>::quiet_NaN());
  gemm(false, false, m, n, k, 1.0F, a.data(), k, b.data(), n, 0.0F, c.data(), n);
  for (const float v : c) {
    ASSERT_EQ(v, 38.0F);
  }
}

TEST(Gemm, ZeroInnerDimensionScalesC) {
  const int64_t m = 9;
  const int64_t n = 21;
  std::vector<float> c(m * n, 3.0F);
  const float dummy = 0.0F;
  gemm(false, false, m, n, 0, 1.0F, &dummy, 1, &dummy, n, 2.0F, c.data(), n);
  for (const float v : c) {
    ASSERT_EQ(v, 6.0F);
  }

  std::vector<double> d(m * n, std::numeric_limits<double>::quiet_NaN());
  const double ddummy = 0.0;
  gemm(true, true, m, n, 0, 1.0, &ddummy, 1, &ddummy, 1, 0.0, d.data(), n);
  for (const double v : d) {
    ASSERT_EQ(v, 0.0);
  }
}

TEST(Gemm, EmptyOutputTouchesNothing) {
  float c = 5.0F;
  const float x = 1.0F;
  gemm(false, false, 0, 1, 4, 1.0F, &x, 4, &x, 1, 0.0F, &c, 1);
  gemm(false, false, 1, 0, 4, 1.0F, &x, 4, &x, 1, 0.0F, &c, 1);
  EXPECT_EQ(c, 5.0F);
}

template <class T>
std::vector<T> run_with_threads(int threads, bool ta, bool tb, Shape s) {
  std::mt19937_64 rng(99);
  const Operand<T> a = make_operand<T>(s.m, s.k, ta, 0, rng);
  const Operand<T> b = make_operand<T>(s.k, s.n, tb, 0, rng);
  std::vector<T> c(static_cast<size_t>(s.m * s.n));
  for (auto& v : c) {
    v = random_value<T>(rng);
  }
  const nabla::testing::ThreadCountGuard guard;
  nabla::set_num_threads(threads);
  gemm(ta, tb, s.m, s.n, s.k, T(1.25), a.data.data(), a.ld, b.data.data(), b.ld, T(0.75), c.data(),
       s.n);
  return c;
}

TEST(Gemm, BitIdenticalForAnyThreadCount) {
  // The last four take the skinny kernels (split by row tiles, k blocked) past the parallel
  // threshold.
  const Shape shapes[] = {{128, 512, 784}, {784, 512, 128}, {301, 299, 600}, {64, 64, 64},
                          {600, 10, 2000}, {9, 40, 25000},  {1300, 16, 400}, {150, 12, 6000}};
  for (const Shape& s : shapes) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        const std::vector<float> one = run_with_threads<float>(1, ta, tb, s);
        const std::vector<float> two = run_with_threads<float>(2, ta, tb, s);
        const std::vector<float> three = run_with_threads<float>(3, ta, tb, s);
        ASSERT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0)
            << "m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta << " tb=" << tb;
        ASSERT_EQ(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)), 0);
        const std::vector<double> d1 = run_with_threads<double>(1, ta, tb, s);
        const std::vector<double> d2 = run_with_threads<double>(2, ta, tb, s);
        ASSERT_EQ(std::memcmp(d1.data(), d2.data(), d1.size() * sizeof(double)), 0);
      }
    }
  }
}

}  // namespace
}  // namespace nabla::kernels
