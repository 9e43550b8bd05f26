// The pairwise float sum that reductions and softmax share: leaves of up to kPairwiseLeaf elements
// summed in four 64-byte vectors of lanes (independent adds, so they do not wait on each other),
// the halves of longer runs split at whole leaf blocks. Every operation order is fixed by the code
// (GCC vector extensions: one IEEE add per lane in any clone), so any clone (AVX-512, AVX2,
// baseline) and any split into threads gives the same bits.
#pragma once

#include <cstdint>
#include <cstring>

namespace nabla::kernels::detail {

// Lanes of one 64-byte vector: 16 floats or 8 doubles.
template <typename T>
constexpr int64_t kSumWidth = static_cast<int64_t>(64 / sizeof(T));
// A leaf: 16 rows of the four vectors, so each lane adds about 16 elements in sequence.
template <typename T>
constexpr int64_t kPairwiseLeaf = 64 * kSumWidth<T>;

template <typename T>
struct SumVector;
template <>
struct SumVector<float> {
  using type = float __attribute__((vector_size(64)));
};
template <>
struct SumVector<double> {
  using type = double __attribute__((vector_size(64)));
};

// The sum of n <= kPairwiseLeaf<T> elements. Four vector accumulators take x in blocks of four
// vectors, the vectors left over go to the first, and the last partial vector (zero-padded) to
// the first too; then the accumulators fold (2 onto 0, 3 onto 1, 1 onto 0) and the lanes of the
// result fold in halves (lane k + w onto lane k for w = width / 2, ..., 1).
template <typename T>
[[gnu::always_inline]] inline T leaf_sum(const T* x, int64_t n) {
  using Vector = typename SumVector<T>::type;
  constexpr int64_t kWidth = kSumWidth<T>;
  Vector a0 = {};
  Vector a1 = {};
  Vector a2 = {};
  Vector a3 = {};
  int64_t i = 0;
  for (; i + 4 * kWidth <= n; i += 4 * kWidth) {
    Vector v0;
    Vector v1;
    Vector v2;
    Vector v3;
    std::memcpy(&v0, x + i, sizeof(Vector));
    std::memcpy(&v1, x + i + kWidth, sizeof(Vector));
    std::memcpy(&v2, x + i + 2 * kWidth, sizeof(Vector));
    std::memcpy(&v3, x + i + 3 * kWidth, sizeof(Vector));
    a0 += v0;
    a1 += v1;
    a2 += v2;
    a3 += v3;
  }
  for (; i + kWidth <= n; i += kWidth) {
    Vector v;
    std::memcpy(&v, x + i, sizeof(Vector));
    a0 += v;
  }
  if (i < n) {
    // NOTE: a fixed-length loop with a condition, not a memcpy of n - i elements: g++ would call
    // the library memcpy, which costs more than a short row's whole sum.
    T padded[kWidth];
    for (int64_t k = 0; k < kWidth; ++k) padded[k] = i + k < n ? x[i + k] : T(0);
    Vector v;
    std::memcpy(&v, padded, sizeof(Vector));
    a0 += v;
  }
  a0 += a2;
  a1 += a3;
  a0 += a1;
  T lanes[kWidth];
  for (int64_t k = 0; k < kWidth; ++k) lanes[k] = a0[k];
  for (int64_t width = kWidth / 2; width >= 1; width /= 2) {
    for (int64_t k = 0; k < width; ++k) lanes[k] += lanes[k + width];
  }
  return lanes[0];
}

// Where a pairwise sum of n > kPairwiseLeaf<T> elements splits: half, rounded up to whole blocks
// of four vectors.
template <typename T>
constexpr int64_t pairwise_half(int64_t n) {
  constexpr int64_t kBlock = 4 * kSumWidth<T>;
  return (n / 2 + kBlock - 1) / kBlock * kBlock;
}

}  // namespace nabla::kernels::detail
