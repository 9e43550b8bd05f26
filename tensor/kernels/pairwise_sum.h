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
  using Type = float __attribute__((vector_size(64)));
};
template <>
struct SumVector<double> {
  using Type = double __attribute__((vector_size(64)));
};

// lanes[0] + ... + lanes[kWidth - 1] folded in halves: lane k + w onto lane k for w = kWidth / 2,
// ..., 1 (each stage a fixed-length loop, so the compiler unrolls it).
template <int64_t kWidth, typename T>
[[gnu::always_inline]] inline T fold_lanes(T* lanes) {
  if constexpr (kWidth == 1) {
    return lanes[0];
  } else {
    for (int64_t k = 0; k < kWidth / 2; ++k) lanes[k] += lanes[k + kWidth / 2];
    return fold_lanes<kWidth / 2>(lanes);
  }
}

// The sum of n <= kPairwiseLeaf<T> elements. Four vector accumulators take x in blocks of four
// vectors and the vectors left over go to the first; the accumulators fold (2 onto 0, 3 onto 1,
// 1 onto 0); the last n % kWidth elements are added to the first lanes, and the lanes fold in
// halves (fold_lanes).
template <typename T>
[[gnu::always_inline]] inline T leaf_sum(const T* x, int64_t n) {
  using Vector = typename SumVector<T>::Type;
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
  a0 += a2;
  a1 += a3;
  a0 += a1;
  // NOTE: the tail goes into the lanes one by one after one vector store. Filling a padded vector
  // in memory and loading it whole stalls the load (it cannot take its data from the narrow
  // stores), which cost more than a short row's whole sum.
  T lanes[kWidth];
  std::memcpy(lanes, &a0, sizeof(Vector));
  for (int64_t k = 0; i + k < n; ++k) lanes[k] += x[i + k];
  return fold_lanes<kWidth>(lanes);
}

// Where a pairwise sum of n > kPairwiseLeaf<T> elements splits: half, rounded up to whole blocks
// of four vectors.
template <typename T>
constexpr int64_t pairwise_half(int64_t n) {
  constexpr int64_t kBlock = 4 * kSumWidth<T>;
  return (n / 2 + kBlock - 1) / kBlock * kBlock;
}

}  // namespace nabla::kernels::detail
