// A branch-free expf written on 16-float vectors: x = n ln2 + r with |r| <= ln2 / 2, exp(r) from a
// degree-6 polynomial (the minimax coefficients of Cephes' expf), and 2^n built from exponent
// bits in two halves, so that results down to the subnormal range come out without a branch.
// The softmax rows below use the same exp, fused with the max, the sum and the scaling; log_float
// is Cephes' logf written the same way.
#include "tensor/kernels/exp.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensor/kernels/pairwise_sum.h"
#include "tensor/kernels/simd.h"

namespace nabla::kernels {
namespace {

// NOTE: GCC vector extensions, not intrinsics: each operation is one IEEE operation per lane
// whatever the clone (a 16-float vector is one AVX-512 register, two AVX2 ones, four SSE2 ones),
// and this file is compiled with -ffp-contract=off, so every clone gives the same bits. Plain
// element loops did not vectorize well here: g++ turned the clamp into masked copies of the whole
// polynomial.
using Floats = float __attribute__((vector_size(64)));
using Ints = int32_t __attribute__((vector_size(64)));
constexpr int64_t kWidth = 16;

// Past these, exp(x) is inf, respectively below half the smallest subnormal (rounds to 0); the
// clamp also keeps n within the int32 exponent arithmetic below.
constexpr float kMaxInput = 89.0F;
constexpr float kMinInput = -104.0F;
constexpr float kLog2e = 1.44269504088896341F;
// ln2 split so that n * kLn2High is exact for |n| <= 2^9.
constexpr float kLn2High = 0.693359375F;
constexpr float kLn2Low = -2.12194440e-4F;
// 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer (round to nearest).
constexpr float kRoundingShift = 12582912.0F;

// y[0..16) = exp(x[0..16) - shift). Vectors stay inside (no vector arguments or results, whose
// ABI differs between the clones).
[[gnu::always_inline]] inline void exp16(const float* x, float shift, float* y) {
  Floats v;
  std::memcpy(&v, x, sizeof(v));
  v = v - shift;
  // NOTE: a comparison with NaN is false, so NaN lanes are clamped to kMaxInput here (no NaN
  // reaches the integer conversion) and put back at the end.
  Floats clamped = v > kMinInput ? v : kMinInput;
  clamped = clamped < kMaxInput ? clamped : kMaxInput;
  const Floats n = (clamped * kLog2e + kRoundingShift) - kRoundingShift;
  const Floats r = (clamped - n * kLn2High) - n * kLn2Low;
  Floats p = r * 1.9875691500e-4F + 1.3981999507e-3F;
  p = p * r + 8.3334519073e-3F;
  p = p * r + 4.1665795894e-2F;
  p = p * r + 1.6666665459e-1F;
  p = p * r + 5.0000001201e-1F;
  const Floats exp_r = (p * (r * r) + r) + 1.0F;
  // 2^n as 2^(n >> 1) * 2^(n - (n >> 1)): both halves are normal floats for n in [-150, 128], so
  // the first product is exact and only the second rounds (once, also into the subnormals).
  const Ints k = __builtin_convertvector(n, Ints);
  const Ints half = k >> 1;
  Floats low;
  Floats high;
  const Ints low_bits = (half + 127) << 23;
  const Ints high_bits = (k - half + 127) << 23;
  std::memcpy(&low, &low_bits, sizeof(low));
  std::memcpy(&high, &high_bits, sizeof(high));
  Floats result = (exp_r * low) * high;
  result = v == v ? result : v;
  std::memcpy(y, &result, sizeof(result));
}

// y[i] = exp(x[i] - shift) for i < n; the last partial vector goes through a padded copy, so every
// element gets the bits of the full vectors.
[[gnu::always_inline]] inline void exp_shifted(const float* x, float shift, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) exp16(x + i, shift, y + i);
  if (i < n) {
    // Fixed-length loops with a condition rather than memcpy calls (see detail::leaf_sum).
    float buffer[kWidth];
    for (int64_t k = 0; k < kWidth; ++k) buffer[k] = i + k < n ? x[i + k] : 0.0F;
    exp16(buffer, shift, buffer);
    for (int64_t k = 0; k < kWidth; ++k) {
      if (i + k < n) y[i + k] = buffer[k];
    }
  }
}

// y[0..16) = log(x[0..16)), Cephes' logf on vectors: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
// log(m) from a degree-9 polynomial in m - 1 (exact, by Sterbenz), e ln2 added in two parts.
// Subnormal inputs are scaled by 2^23 first; x < 0 and NaN give NaN, +-0 gives -inf, inf gives inf.
[[gnu::always_inline]] inline void log16(const float* x, float* y) {
  constexpr float kSmallestNormal = 1.17549435e-38F;
  constexpr float kInf = __builtin_inff();
  Floats v;
  std::memcpy(&v, x, sizeof(v));
  const Ints tiny = v < kSmallestNormal;
  const Floats scaled = tiny ? v * 8388608.0F : v;
  Ints bits;
  std::memcpy(&bits, &scaled, sizeof(bits));
  const Ints exponent = (((bits >> 23) & 0xff) - 126) - (tiny & 23);
  const Ints mantissa_bits = (bits & 0x007fffff) | 0x3f000000;  // m in [0.5, 1)
  Floats m;
  std::memcpy(&m, &mantissa_bits, sizeof(m));
  const Ints below_root_half = m < 0.707106781186547524F;
  Floats e = __builtin_convertvector(exponent, Floats);
  e = below_root_half ? e - 1.0F : e;
  m = below_root_half ? (m + m) - 1.0F : m - 1.0F;
  const Floats z = m * m;
  Floats p = m * 7.0376836292E-2F - 1.1514610310E-1F;
  p = p * m + 1.1676998740E-1F;
  p = p * m - 1.2420140846E-1F;
  p = p * m + 1.4249322787E-1F;
  p = p * m - 1.6668057665E-1F;
  p = p * m + 2.0000714765E-1F;
  p = p * m - 2.4999993993E-1F;
  p = p * m + 3.3333331174E-1F;
  Floats r = (p * m) * z;
  r = r + e * -2.12194440e-4F;
  r = r - z * 0.5F;
  r = m + r;
  r = r + e * 0.693359375F;
  const Floats nan = Floats{} + __builtin_nanf("");
  r = v > 0.0F ? r : (v == 0.0F ? -kInf : nan);
  r = v == kInf ? kInf : r;
  std::memcpy(y, &r, sizeof(r));
}

// The largest element, NaNs ignored unless x[0] is one (then NaN), n >= 1.
[[gnu::always_inline]] inline float row_max(const float* x, int64_t n) {
  float top = x[0];
  int64_t i = 0;
  if (n >= kWidth) {
    Floats best;
    std::memcpy(&best, x, sizeof(best));
    for (i = kWidth; i + kWidth <= n; i += kWidth) {
      Floats v;
      std::memcpy(&v, x + i, sizeof(v));
      best = v > best ? v : best;
    }
    for (int64_t k = 0; k < kWidth; ++k) top = best[k] > top ? best[k] : top;
  }
  for (; i < n; ++i) top = x[i] > top ? x[i] : top;
  return top;
}

// Writes y[i] = exp(x[i] - shift) and returns their sum with the tree of reduce.cpp's pairwise
// sums (so the bits equal those of the exponentials summed afterwards), one leaf at a time while
// it is in L1. NOTE: no forward declaration: clang refuses one that a multiversioned definition
// follows.
NABLA_WIDE_VECTOR_CLONES float exp_sum(const float* x, float shift, float* y, int64_t n) {
  if (n <= detail::kPairwiseLeaf<float>) {
    exp_shifted(x, shift, y, n);
    return detail::leaf_sum(y, n);
  }
  const int64_t half = detail::pairwise_half<float>(n);
  return exp_sum(x, shift, y, half) + exp_sum(x + half, shift, y + half, n - half);
}

// Rows this short go through softmax a block at a time (each pass over the whole block), so the
// vector exp runs over many rows at once instead of a padded vector or two per row.
constexpr int64_t kShortRow = 64;

}  // namespace

NABLA_WIDE_VECTOR_CLONES void exp_float(const float* x, float* y, int64_t n) {
  exp_shifted(x, 0.0F, y, n);
}

NABLA_WIDE_VECTOR_CLONES void log_float(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) log16(x + i, y + i);
  if (i < n) {
    float buffer[kWidth];
    for (int64_t k = 0; k < kWidth; ++k) buffer[k] = i + k < n ? x[i + k] : 1.0F;
    log16(buffer, buffer);
    for (int64_t k = 0; k < kWidth; ++k) {
      if (i + k < n) y[i + k] = buffer[k];
    }
  }
}

NABLA_WIDE_VECTOR_CLONES void softmax_rows_float(const float* x, float* y, int64_t rows,
                                                 int64_t inner, bool take_log) {
  if (inner == 0) return;
  if (inner >= kShortRow) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* x_row = x + r * inner;
      float* y_row = y + r * inner;
      float top = row_max(x_row, inner);
      if (!std::isfinite(top)) top = 0;
      const float total = exp_sum(x_row, top, y_row, inner);
      if (take_log) {
        const float log_total = std::log(total);
        for (int64_t i = 0; i < inner; ++i) y_row[i] = (x_row[i] - top) - log_total;
      } else {
        const float scale = 1.0F / total;
        for (int64_t i = 0; i < inner; ++i) y_row[i] *= scale;
      }
    }
    return;
  }
  // Short rows: shift each row by its max into y, exponentiate the block in one pass (in place
  // for softmax, into scratch for log_softmax, which keeps the shifted values), then normalize.
  const int64_t n = rows * inner;
  for (int64_t r = 0; r < rows; ++r) {
    float top = row_max(x + r * inner, inner);
    if (!std::isfinite(top)) top = 0;
    for (int64_t i = r * inner; i < (r + 1) * inner; ++i) y[i] = x[i] - top;
  }
  float* e = y;
  if (take_log) {
    thread_local std::vector<float> scratch;
    scratch.resize(static_cast<size_t>(n));
    e = scratch.data();
  }
  exp_shifted(y, 0.0F, e, n);
  for (int64_t r = 0; r < rows; ++r) {
    const float total = detail::leaf_sum(e + r * inner, inner);
    float* y_row = y + r * inner;
    if (take_log) {
      const float log_total = std::log(total);
      for (int64_t i = 0; i < inner; ++i) y_row[i] -= log_total;
    } else {
      const float scale = 1.0F / total;
      for (int64_t i = 0; i < inner; ++i) y_row[i] *= scale;
    }
  }
}

}  // namespace nabla::kernels
