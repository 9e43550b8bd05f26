// A branch-free expf that compilers vectorize: x = n ln2 + r with |r| <= ln2 / 2, exp(r) from a
// degree-6 polynomial (the minimax coefficients of Cephes' expf), and 2^n built from exponent
// bits in two halves, so that results down to the subnormal range come out without a branch.
#include "tensor/kernels/exp.h"

#include <algorithm>
#include <bit>
#include <cstdint>

#include "tensor/kernels/simd.h"

namespace nabla::kernels {
namespace {

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

float power_of_two(int32_t k) { return std::bit_cast<float>((k + 127) << 23); }

inline float exp_one(float x) {
  // NaN goes through as 0 (converting NaN to an integer is undefined) and is put back at the end.
  const float finite_or_inf = x != x ? 0.0F : x;
  const float clamped = std::min(std::max(finite_or_inf, kMinInput), kMaxInput);
  const float n = (clamped * kLog2e + kRoundingShift) - kRoundingShift;
  const float r = (clamped - n * kLn2High) - n * kLn2Low;
  float p = 1.9875691500e-4F;
  p = p * r + 1.3981999507e-3F;
  p = p * r + 8.3334519073e-3F;
  p = p * r + 4.1665795894e-2F;
  p = p * r + 1.6666665459e-1F;
  p = p * r + 5.0000001201e-1F;
  const float exp_r = (p * (r * r) + r) + 1.0F;
  // 2^n as 2^(n/2) * 2^(n - n/2): both halves are normal floats for n in [-150, 128].
  const auto k = static_cast<int32_t>(n);
  const int32_t half = k / 2;
  const float result = (exp_r * power_of_two(half)) * power_of_two(k - half);
  return x != x ? x : result;
}

}  // namespace

NABLA_WIDE_VECTOR_CLONES void exp_float(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = exp_one(x[i]);
}

}  // namespace nabla::kernels
