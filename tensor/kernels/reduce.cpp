// Reductions (sum, mean, max, min, argmax, logsumexp) and softmax. Every reduction is brought to
// rows of a contiguous matrix, except sums of contiguous tensors, which read column blocks and
// strided runs in place (sum_columns, sum_strided); float sums are pairwise in fixed chunks, so
// they are accurate and bit-identical for any thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <type_traits>
#include <vector>

#include "tensor/kernels/exp.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/loops.h"
#include "tensor/kernels/pairwise_sum.h"
#include "tensor/kernels/simd.h"
#include "tensor/parallel_for.h"

namespace nabla::kernels {
namespace {

constexpr int64_t kSumChunk = 65536;

// detail::pairwise_sum's tree over whole leaves, in each clone (the recursion calls the clone).
NABLA_WIDE_VECTOR_CLONES float pairwise_sum_float(const float* x, int64_t n) {
  if (n <= detail::kPairwiseLeaf<float>) return detail::leaf_sum(x, n);
  const int64_t half = detail::pairwise_half<float>(n);
  return pairwise_sum_float(x, half) + pairwise_sum_float(x + half, n - half);
}
NABLA_WIDE_VECTOR_CLONES double pairwise_sum_double(const double* x, int64_t n) {
  if (n <= detail::kPairwiseLeaf<double>) return detail::leaf_sum(x, n);
  const int64_t half = detail::pairwise_half<double>(n);
  return pairwise_sum_double(x, half) + pairwise_sum_double(x + half, n - half);
}

// out[r] = the pairwise sum of row r of a contiguous [rows, n] matrix; rows within one leaf are
// summed inline, so short rows do not pay a call each.
NABLA_WIDE_VECTOR_CLONES void row_sums(const float* x, int64_t rows, int64_t n, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = n <= detail::kPairwiseLeaf<float> ? detail::leaf_sum(x + r * n, n)
                                               : pairwise_sum_float(x + r * n, n);
  }
}
NABLA_WIDE_VECTOR_CLONES void row_sums(const double* x, int64_t rows, int64_t n, double* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = n <= detail::kPairwiseLeaf<double> ? detail::leaf_sum(x + r * n, n)
                                                : pairwise_sum_double(x + r * n, n);
  }
}

// out[m] = the sum of the n <= kPairwiseLeaf elements at x + offsets[m], m < count: the same leaf
// sums as pairwise_sum, in one call (the conv bias gradient of small planes sums thousands).
NABLA_WIDE_VECTOR_CLONES void leaf_sums(const float* x, const int64_t* offsets, int64_t count,
                                        int64_t n, float* out) {
  for (int64_t m = 0; m < count; ++m) out[m] = detail::leaf_sum(x + offsets[m], n);
}
NABLA_WIDE_VECTOR_CLONES void leaf_sums(const double* x, const int64_t* offsets, int64_t count,
                                        int64_t n, double* out) {
  for (int64_t m = 0; m < count; ++m) out[m] = detail::leaf_sum(x + offsets[m], n);
}

template <typename T>
T pairwise_sum(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    return pairwise_sum_float(x, n);
  } else if constexpr (std::is_same_v<T, double>) {
    return pairwise_sum_double(x, n);
  } else {
    T acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += x[i];
    return acc;
  }
}

// Sum of a long contiguous run: fixed chunks (in parallel when large) combined pairwise in order.
template <typename T>
T long_sum(const T* x, int64_t n) {
  if (n < 2 * kSumChunk) return pairwise_sum(x, n);
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<T> partial(static_cast<size_t>(chunks));
  parallel_for(chunks, [&](int64_t c) {
    partial[static_cast<size_t>(c)] =
        pairwise_sum(x + c * kSumChunk, std::min(kSumChunk, n - c * kSumChunk));
  });
  return pairwise_sum(partial.data(), chunks);
}

// This thread's scratch of at least n values of T, kept between calls (its contents are garbage:
// the column sums write every value before they read it).
template <typename T>
std::vector<T>& thread_scratch(size_t n) {
  thread_local std::vector<T> scratch;
  if (scratch.size() < n) scratch.resize(n);
  return scratch;
}

// Sums over dims that lie in the middle or at the front of a contiguous tensor, without the copy
// that to_rows would make: viewed as [before, reduced, after], each reduced slice is a stack of
// `after`-wide rows that are added column by column. Rows combine pairwise (leaves of kColumnLeaf
// rows added in order), so long reductions stay as accurate as the row sums; columns are
// independent, so threads split them and the bits do not depend on the thread count. The tree is
// evaluated a band of up to kColumnBand rows at a time (below), in one pass per band.
constexpr int64_t kColumnLeaf = 8;
// Columns per task: 8 KiB of float partial sums per tree level (16 of double).
constexpr int64_t kColumnWidth = 2048;

// out[j] += row[j].
template <typename T>
void add_row_of(T* __restrict out, const T* __restrict row, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] += row[j];
}

NABLA_WIDE_VECTOR_CLONES void add_row(float* out, const float* row, int64_t n) {
  add_row_of(out, row, n);
}
NABLA_WIDE_VECTOR_CLONES void add_row(double* out, const double* row, int64_t n) {
  add_row_of(out, row, n);
}
void add_row(int64_t* out, const int64_t* row, int64_t n) { add_row_of(out, row, n); }

// Rows in the first half of a split: half the rows rounded up to whole leaves.
int64_t column_split(int64_t rows) {
  return (rows / 2 + kColumnLeaf - 1) / kColumnLeaf * kColumnLeaf;
}

// The scratch rows column_pairwise_sum needs: one per level of its deepest branch. NOTE: the
// second half can be the larger (17 rows split 8 + 9), so both branches count.
int64_t column_sum_depth(int64_t rows) {
  if (rows <= kColumnLeaf) return 0;
  const int64_t half = column_split(rows);
  return 1 + std::max(column_sum_depth(half), column_sum_depth(rows - half));
}

// Row-band leaves of up to kColumnBand rows, summed in registers one strip of columns at a time:
// the same tree as the splits below (column_split, leaves of kColumnLeaf), so the same bits.
constexpr int64_t kColumnBandLevels = 1;
constexpr int64_t kColumnBand = kColumnLeaf << kColumnBandLevels;

// kBytes of T, one IEEE operation per lane in any clone (as detail::SumVector); kBytes ==
// sizeof(T) is T itself.
template <typename T, int kBytes>
struct BandVector {
  typedef T Type __attribute__((vector_size(kBytes)));  // NOLINT(modernize-use-using)
};
template <typename T>
struct BandVector<T, static_cast<int>(sizeof(T))> {
  using Type = T;
};

// Vectors go through references, not values, so no clone's call ABI depends on their width.
template <typename V, typename T>
[[gnu::always_inline]] inline void load_to(V& v, const T* p) {
  std::memcpy(&v, p, sizeof(V));
}

// v = the sum of rows <= kColumnLeaf rows at p (row stride s): a balanced tree for a full leaf,
// else in order (as the splits of column_tree_sum leave them).
template <typename V, typename T>
[[gnu::always_inline]] inline void leaf_value(V& v, const T* p, int64_t rows, int64_t s) {
  V r[kColumnLeaf];
  if (rows == kColumnLeaf) {
    for (int64_t k = 0; k < kColumnLeaf; ++k) load_to(r[k], p + k * s);
    v = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    return;
  }
  load_to(v, p);
  for (int64_t k = 1; k < rows; ++k) {
    load_to(r[0], p + k * s);
    v += r[0];
  }
}

// v = the sum of rows <= kColumnLeaf << kLevels rows at p, split as column_tree_sum splits.
template <int64_t kLevels, typename V, typename T>
[[gnu::always_inline]] inline void band_value(V& v, const T* p, int64_t rows, int64_t s) {
  if constexpr (kLevels == 0) {
    leaf_value(v, p, rows, s);
  } else {
    if (rows <= (kColumnLeaf << (kLevels - 1))) {
      band_value<kLevels - 1>(v, p, rows, s);
      return;
    }
    const int64_t half = column_split(rows);
    V right;
    band_value<kLevels - 1>(v, p, half, s);
    band_value<kLevels - 1>(right, p + half * s, rows - half, s);
    v = v + right;
  }
}

// band_sum_of on kCount vectors of kBytes at column j.
template <int kBytes, int kCount, typename T>
[[gnu::always_inline]] inline void band_strip(const T* x, int64_t rows, int64_t stride,
                                              const T* const* pend, int64_t npend, T* dst,
                                              int64_t j) {
  using V = typename BandVector<T, kBytes>::Type;
  constexpr auto kLanes = static_cast<int64_t>(kBytes / sizeof(T));
  V v[kCount];
  for (int c = 0; c < kCount; ++c) {
    band_value<kColumnBandLevels>(v[c], x + j + c * kLanes, rows, stride);
  }
  for (int64_t k = 0; k < npend; ++k) {
    for (int c = 0; c < kCount; ++c) {
      V left;
      load_to(left, pend[k] + j + c * kLanes);
      v[c] = left + v[c];
    }
  }
  std::memcpy(dst + j, v, sizeof(v));
}

// dst[j] = pend[npend - 1][j] + (... + (pend[0][j] + band[j])) for j < width, where band is the
// sum of the rows <= kColumnBand rows at x: a band and the pending left halves of the tree above
// it, added in one pass (dst is none of the pend rows). Strips of two 64-byte vectors, then
// narrower ones for the last columns.
template <typename T>
[[gnu::always_inline]] inline void band_sum_of(const T* x, int64_t rows, int64_t stride,
                                               int64_t width, const T* const* pend, int64_t npend,
                                               T* dst) {
  constexpr auto kLanes = static_cast<int64_t>(64 / sizeof(T));
  int64_t j = 0;
  for (; j + 2 * kLanes <= width; j += 2 * kLanes) {
    band_strip<64, 2>(x, rows, stride, pend, npend, dst, j);
  }
  if (j + kLanes <= width) {
    band_strip<64, 1>(x, rows, stride, pend, npend, dst, j);
    j += kLanes;
  }
  if (j + kLanes / 2 <= width) {
    band_strip<32, 1>(x, rows, stride, pend, npend, dst, j);
    j += kLanes / 2;
  }
  if constexpr (sizeof(T) <= 4) {
    if (j + kLanes / 4 <= width) {
      band_strip<16, 1>(x, rows, stride, pend, npend, dst, j);
      j += kLanes / 4;
    }
  }
  for (; j < width; ++j) {
    band_strip<static_cast<int>(sizeof(T)), 1>(x, rows, stride, pend, npend, dst, j);
  }
}

NABLA_WIDE_VECTOR_CLONES void band_sum(const float* x, int64_t rows, int64_t stride, int64_t width,
                                       const float* const* pend, int64_t npend, float* dst) {
  band_sum_of(x, rows, stride, width, pend, npend, dst);
}
NABLA_WIDE_VECTOR_CLONES void band_sum(const double* x, int64_t rows, int64_t stride, int64_t width,
                                       const double* const* pend, int64_t npend, double* dst) {
  band_sum_of(x, rows, stride, width, pend, npend, dst);
}
void band_sum(const int64_t* x, int64_t rows, int64_t stride, int64_t width,
              const int64_t* const* pend, int64_t npend, int64_t* dst) {
  band_sum_of(x, rows, stride, width, pend, npend, dst);
}

// dst = pend[npend - 1] + (... + (pend[0] + the column sums of the `rows` rows at x)): a node of
// the pairwise tree over rows (halves at column_split). Its left half goes to scratch row 0 and
// joins the right half's pending rows, so every addition of the tree happens within the pass of a
// band, never as a pass of its own.
template <typename T>
void column_tree_sum(const T* x, int64_t rows, int64_t stride, int64_t width, T* dst, T* scratch,
                     const T** pend, int64_t npend) {
  if (rows <= kColumnBand) {
    band_sum(x, rows, stride, width, pend, npend, dst);
    return;
  }
  const int64_t half = column_split(rows);
  column_tree_sum(x, half, stride, width, scratch, scratch + width, pend + npend, 0);
  // The left half is the innermost pending row of the right half: shift the others up one.
  std::copy_backward(pend, pend + npend, pend + npend + 1);
  pend[0] = scratch;
  column_tree_sum(x + half * stride, rows - half, stride, width, dst, scratch + width, pend,
                  npend + 1);
  std::copy(pend + 1, pend + npend + 1, pend);
}

// out[j] = sum over r < rows of x[r * stride + j] for j < width; `scratch` holds
// column_sum_depth(rows) * width values.
template <typename T>
void column_pairwise_sum(const T* x, int64_t rows, int64_t stride, int64_t width, T* out,
                         T* scratch) {
  // Room for the pending rows of every level (depth <= 61 for rows < 2^63) and the left calls'.
  std::array<const T*, 128> pend{};
  column_tree_sum(x, rows, stride, width, out, scratch, pend.data(), 0);
}

// The column-sum form of sum(t, dims, keepdim) when it applies (see above), else nullopt.
std::optional<Tensor> sum_columns(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  if (!t.is_contiguous() || t.numel() == 0) return std::nullopt;
  const std::vector<int64_t> reduced = normalize_dims("sum", dims, t.dim());
  if (reduced.empty() ||
      reduced.back() - reduced.front() + 1 != static_cast<int64_t>(reduced.size())) {
    return std::nullopt;
  }
  int64_t before = 1;
  int64_t rows = 1;
  int64_t after = 1;
  Shape out_shape;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t extent = t.shape()[static_cast<size_t>(d)];
    if (d < reduced.front()) {
      before *= extent;
    } else if (d > reduced.back()) {
      after *= extent;
    } else {
      rows *= extent;
      if (keepdim) out_shape.push_back(1);
      continue;
    }
    out_shape.push_back(extent);
  }
  if (after == 1) return std::nullopt;  // trailing dims: to_rows needs no copy
  Tensor out = Tensor::empty(out_shape, t.dtype());
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = t.data_ptr<T>();
    T* po = out.data_ptr<T>();
    const int64_t blocks = (after + kColumnWidth - 1) / kColumnWidth;
    const int64_t tasks = before * blocks;
    const auto scratch_size =
        static_cast<size_t>(column_sum_depth(rows) * std::min(kColumnWidth, after));
    auto task = [&](int64_t k, std::vector<T>& scratch) {
      const int64_t b = k / blocks;
      const int64_t j0 = (k % blocks) * kColumnWidth;
      column_pairwise_sum(in + b * rows * after + j0, rows, after,
                          std::min(kColumnWidth, after - j0), po + b * after + j0, scratch.data());
    };
    if (tasks > 1 && t.numel() >= detail::kParallelGrain) {
      parallel_for(tasks, [&](int64_t k) { task(k, thread_scratch<T>(scratch_size)); });
    } else {
      std::vector<T> scratch(scratch_size);
      for (int64_t k = 0; k < tasks; ++k) task(k, scratch);
    }
  });
  return out;
}

// Sums over reduced dims that are not adjacent (the conv bias gradient: [N, C, H, W] over
// {0, 2, 3}) on a contiguous tensor, without the permuted copy to_rows would make. Size-1 dims are
// dropped and neighbouring dims of the same kind merged ([N, C, H*W] over {0, 2}). The innermost
// groups make a leaf: a trailing reduced run (summed pairwise as a row), or a reduced group
// followed by a kept one (a [rows, width] matrix summed column-wise as in sum_columns). The other
// reduced groups index M leaves per output, combined pairwise in index order. Outputs (and
// column blocks) are independent tasks, so the bits do not depend on the thread count.
struct Group {
  int64_t extent = 1;
  int64_t stride = 1;
  bool reduced = false;
};

// The dims of contiguous `t` with size-1 dims dropped and adjacent dims of one kind merged.
std::vector<Group> coalesce_groups(const Tensor& t, const std::vector<int64_t>& reduced) {
  std::vector<Group> groups;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t extent = t.shape()[static_cast<size_t>(d)];
    if (extent == 1) continue;
    const bool is_reduced = std::find(reduced.begin(), reduced.end(), d) != reduced.end();
    if (!groups.empty() && groups.back().reduced == is_reduced) {
      groups.back().extent *= extent;
    } else {
      groups.push_back({extent, 1, is_reduced});
    }
  }
  int64_t stride = 1;
  for (size_t k = groups.size(); k-- > 0;) {
    groups[k].stride = stride;
    stride *= groups[k].extent;
  }
  return groups;
}

// The element offset of every index over `groups`, in row-major order.
std::vector<int64_t> offsets_of(const std::vector<Group>& groups) {
  std::vector<int64_t> offsets{0};
  for (const Group& g : groups) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * static_cast<size_t>(g.extent));
    for (const int64_t base : offsets) {
      for (int64_t i = 0; i < g.extent; ++i) next.push_back(base + i * g.stride);
    }
    offsets = std::move(next);
  }
  return offsets;
}

// Levels of the pairwise tree over `count` leaves (the halves split as count / 2).
int64_t tree_depth(int64_t count) {
  if (count <= 1) return 0;
  return 1 + std::max(tree_depth(count / 2), tree_depth(count - count / 2));
}

// out[j] = sum over the `count` leaves at base + offsets[m] of their column sums (`rows` rows of
// `stride`), j < width, added as a pairwise tree; `scratch` holds (tree_depth(count) +
// column_sum_depth(rows)) * width values.
template <typename T>
void tree_column_sum(const T* base, const int64_t* offsets, int64_t count, int64_t rows,
                     int64_t stride, int64_t width, T* out, T* scratch) {
  if (count == 1) {
    column_pairwise_sum(base + offsets[0], rows, stride, width, out, scratch);
    return;
  }
  const int64_t half = count / 2;
  tree_column_sum(base, offsets, half, rows, stride, width, out, scratch + width);
  tree_column_sum(base, offsets + half, count - half, rows, stride, width, scratch,
                  scratch + width);
  add_row(out, scratch, width);
}

// Runs task(k, scratch) for k < tasks, in parallel when there is enough work; each thread owns
// a scratch of at least `scratch_size` values.
template <typename T, typename Task>
void run_tasks(int64_t tasks, int64_t numel, size_t scratch_size, const Task& task) {
  if (tasks > 1 && numel >= detail::kParallelGrain) {
    parallel_for(tasks, [&](int64_t k) { task(k, thread_scratch<T>(scratch_size)); });
  } else {
    std::vector<T> scratch(scratch_size);
    for (int64_t k = 0; k < tasks; ++k) task(k, scratch);
  }
}

// The strided form of sum(t, dims, keepdim) when it applies (see above), else nullopt.
std::optional<Tensor> sum_strided(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  if (!t.is_contiguous() || t.numel() == 0) return std::nullopt;
  const std::vector<int64_t> reduced = normalize_dims("sum", dims, t.dim());
  const std::vector<Group> groups = coalesce_groups(t, reduced);
  Shape out_shape;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (std::find(reduced.begin(), reduced.end(), d) == reduced.end()) {
      out_shape.push_back(t.shape()[static_cast<size_t>(d)]);
    } else if (keepdim) {
      out_shape.push_back(1);
    }
  }
  const auto reduced_groups =
      std::count_if(groups.begin(), groups.end(), [](const Group& g) { return g.reduced; });
  if (reduced_groups == 0) return std::nullopt;
  if (reduced_groups == 1) {
    // Dropping size-1 dims left one run of reduced dims: sum_columns or to_rows take the merged
    // view without a copy.
    if (groups.size() == static_cast<size_t>(t.dim())) return std::nullopt;
    Shape merged;
    std::vector<int64_t> merged_dims;
    for (size_t k = 0; k < groups.size(); ++k) {
      merged.push_back(groups[k].extent);
      if (groups[k].reduced) merged_dims.push_back(static_cast<int64_t>(k));
    }
    return reshape(sum(reshape(t, merged), merged_dims, false), out_shape);
  }
  // The leaf: a trailing reduced run (width 1), or a reduced group then the kept innermost one.
  const bool trailing = groups.back().reduced;
  const size_t leaf_groups = trailing ? 1 : 2;
  std::vector<Group> outer_reduced;
  std::vector<Group> kept;
  for (size_t k = 0; k + leaf_groups < groups.size(); ++k) {
    (groups[k].reduced ? outer_reduced : kept).push_back(groups[k]);
  }
  const std::vector<int64_t> leaf_offsets = offsets_of(outer_reduced);
  const std::vector<int64_t> out_offsets = offsets_of(kept);
  const auto leaves = static_cast<int64_t>(leaf_offsets.size());
  const auto outputs = static_cast<int64_t>(out_offsets.size());
  Tensor out = Tensor::empty(out_shape, t.dtype());
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = t.data_ptr<T>();
    T* po = out.data_ptr<T>();
    if (trailing) {
      const int64_t run = groups.back().extent;
      run_tasks<T>(outputs, t.numel(), static_cast<size_t>(leaves),
                   [&](int64_t o, std::vector<T>& partial) {
                     const T* base = in + out_offsets[static_cast<size_t>(o)];
                     if constexpr (std::is_floating_point_v<T>) {
                       if (run <= detail::kPairwiseLeaf<T>) {
                         leaf_sums(base, leaf_offsets.data(), leaves, run, partial.data());
                         po[o] = pairwise_sum(partial.data(), leaves);
                         return;
                       }
                     }
                     for (int64_t m = 0; m < leaves; ++m) {
                       partial[static_cast<size_t>(m)] =
                           pairwise_sum(base + leaf_offsets[static_cast<size_t>(m)], run);
                     }
                     po[o] = pairwise_sum(partial.data(), leaves);
                   });
      return;
    }
    const int64_t width = groups.back().extent;
    const int64_t rows = groups[groups.size() - 2].extent;
    const int64_t blocks = (width + kColumnWidth - 1) / kColumnWidth;
    const auto scratch_size = static_cast<size_t>((tree_depth(leaves) + column_sum_depth(rows)) *
                                                  std::min(kColumnWidth, width));
    run_tasks<T>(
        outputs * blocks, t.numel(), scratch_size, [&](int64_t k, std::vector<T>& scratch) {
          const int64_t o = k / blocks;
          const int64_t j0 = (k % blocks) * kColumnWidth;
          tree_column_sum(in + out_offsets[static_cast<size_t>(o)] + j0, leaf_offsets.data(),
                          leaves, rows, width, std::min(kColumnWidth, width - j0),
                          po + o * width + j0, scratch.data());
        });
  });
  return out;
}

struct Rows {
  Tensor matrix;    // contiguous [outer, inner]
  Shape out_shape;  // the result's shape (keepdim applied)
  int64_t outer = 1;
  int64_t inner = 1;
};

// Moves the reduced dims last and makes the tensor contiguous, so each output is one row.
Rows to_rows(std::string_view op, const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  const std::vector<int64_t> reduced = normalize_dims(op, dims, t.dim());
  std::vector<int64_t> order;
  Rows rows;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const bool is_reduced = std::find(reduced.begin(), reduced.end(), d) != reduced.end();
    const int64_t extent = t.shape()[static_cast<size_t>(d)];
    if (!is_reduced) {
      order.push_back(d);
      rows.out_shape.push_back(extent);
      rows.outer *= extent;
    } else {
      rows.inner *= extent;
      if (keepdim) rows.out_shape.push_back(1);
    }
  }
  for (const int64_t d : reduced) order.push_back(d);
  rows.matrix = contiguous(permute(t, order));
  return rows;
}

// out[r] = row_fn(row r, inner), parallel over rows when there is enough work.
template <typename In, typename Out, typename RowFn>
Tensor reduce_rows(const Rows& rows, DType out_dtype, RowFn row_fn) {
  Tensor out = Tensor::empty(rows.out_shape, out_dtype);
  const In* in = rows.matrix.data_ptr<In>();
  Out* po = out.data_ptr<Out>();
  const int64_t outer = rows.outer;
  const int64_t inner = rows.inner;
  if (outer > 1 && outer * inner >= detail::kParallelGrain) {
    // Chunks of whole rows, about kSumChunk values each (a row's bits do not depend on the split).
    const int64_t per_chunk = std::max<int64_t>(1, kSumChunk / std::max<int64_t>(inner, 1));
    parallel_for((outer + per_chunk - 1) / per_chunk, [&](int64_t c) {
      const int64_t last = std::min(outer, (c + 1) * per_chunk);
      for (int64_t r = c * per_chunk; r < last; ++r) po[r] = row_fn(in + r * inner, inner);
    });
  } else {
    for (int64_t r = 0; r < outer; ++r) po[r] = row_fn(in + r * inner, inner);
  }
  return out;
}

void check_nonempty(std::string_view op, const Tensor& t, const Rows& rows) {
  if (rows.inner == 0) {
    throw error("{}: cannot reduce over an empty dimension (shape {})", op, shape_str(t.shape()));
  }
}

template <bool kMax>
Tensor extreme(std::string_view op, const Tensor& t, const std::vector<int64_t>& dims,
               bool keepdim) {
  const Rows rows = to_rows(op, t, dims, keepdim);
  check_nonempty(op, t, rows);
  return visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T, T>(rows, t.dtype(), [](const T* x, int64_t n) {
      T best = x[0];
      for (int64_t i = 1; i < n; ++i) {
        if (best != best) break;
        if (x[i] != x[i] || (kMax ? x[i] > best : x[i] < best)) best = x[i];
      }
      return best;
    });
  });
}

template <bool kMax>
Tensor arg_extreme(std::string_view op, const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  Tensor source = t;
  std::vector<int64_t> dims;
  if (dim) {
    dims.push_back(*dim);
  } else {
    source = reshape(t, {-1});
  }
  // Without a dim the flattened result is 0-d; keepdim reshapes it below.
  const Rows rows = to_rows(op, source, dims, dim ? keepdim : false);
  check_nonempty(op, t, rows);
  Tensor out = visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T, int64_t>(rows, kInt64, [](const T* x, int64_t n) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i) {
        if (x[best] != x[best]) break;
        if (x[i] != x[i] || (kMax ? x[i] > x[best] : x[i] < x[best])) best = i;
      }
      return best;
    });
  });
  if (!dim && keepdim) return reshape(out, Shape(static_cast<size_t>(t.dim()), 1));
  return out;
}

}  // namespace

Tensor sum(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  if (std::optional<Tensor> columns = sum_columns(t, dims, keepdim)) return *std::move(columns);
  if (std::optional<Tensor> strided = sum_strided(t, dims, keepdim)) return *std::move(strided);
  const Rows rows = to_rows("sum", t, dims, keepdim);
  return visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (rows.outer == 1) {
      Tensor out = Tensor::empty(rows.out_shape, t.dtype());
      *out.data_ptr<T>() = long_sum(rows.matrix.data_ptr<T>(), rows.inner);
      return out;
    }
    if constexpr (std::is_floating_point_v<T>) {
      // Tasks of whole rows (each row's bits do not depend on the split).
      Tensor out = Tensor::empty(rows.out_shape, t.dtype());
      const T* in = rows.matrix.data_ptr<T>();
      T* po = out.data_ptr<T>();
      const int64_t inner = rows.inner;
      const int64_t per_task = std::max<int64_t>(1, kSumChunk / std::max<int64_t>(inner, 1));
      const int64_t tasks = (rows.outer + per_task - 1) / per_task;
      auto task = [&](int64_t k) {
        const int64_t first = k * per_task;
        row_sums(in + first * inner, std::min(per_task, rows.outer - first), inner, po + first);
      };
      if (tasks > 1 && rows.outer * inner >= detail::kParallelGrain) {
        parallel_for(tasks, task);
      } else {
        for (int64_t k = 0; k < tasks; ++k) task(k);
      }
      return out;
    }
    return reduce_rows<T, T>(rows, t.dtype(),
                             [](const T* x, int64_t n) { return pairwise_sum(x, n); });
  });
}

Tensor mean(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  const Tensor source = t.dtype() == kInt64 ? to_dtype(t, kFloat32) : t;
  int64_t count = 1;
  for (const int64_t d : normalize_dims("mean", dims, t.dim())) {
    count *= t.shape()[static_cast<size_t>(d)];
  }
  Tensor total = sum(source, dims, keepdim);
  binary_(BinaryOp::Div, total, scalar_tensor(static_cast<double>(count), total.dtype()));
  return total;
}

Tensor amax(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme<true>("amax", t, dims, keepdim);
}
Tensor amin(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme<false>("amin", t, dims, keepdim);
}
Tensor argmax(const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme<true>("argmax", t, dim, keepdim);
}
Tensor argmin(const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme<false>("argmin", t, dim, keepdim);
}

Tensor sum_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const auto lead = static_cast<int64_t>(t.dim()) - static_cast<int64_t>(shape.size());
  if (lead < 0) {
    throw error("sum_to: shape {} cannot be summed to {}", shape_str(t.shape()), shape_str(shape));
  }
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t extent = t.shape()[static_cast<size_t>(d)];
    if (d < lead) {
      dims.push_back(d);
    } else {
      const int64_t target = shape[static_cast<size_t>(d - lead)];
      if (target == 1 && extent != 1) {
        dims.push_back(d);
      } else if (target != extent) {
        throw error("sum_to: shape {} cannot be summed to {}", shape_str(t.shape()),
                    shape_str(shape));
      }
    }
  }
  if (dims.empty()) return reshape(t, shape);
  return reshape(sum(t, dims, true), shape);
}

Tensor logsumexp(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  const Tensor source = t.dtype() == kInt64 ? to_dtype(t, kFloat32) : t;
  const Rows rows = to_rows("logsumexp", source, dims, keepdim);
  return visit_floating(source.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return reduce_rows<T, T>(rows, source.dtype(), [](const T* x, int64_t n) {
      if (n == 0) return -std::numeric_limits<T>::infinity();
      T top = x[0];
      for (int64_t i = 1; i < n; ++i) top = (x[i] > top || x[i] != x[i]) ? x[i] : top;
      if (!std::isfinite(top)) {
        // All -inf gives -inf; any +inf gives +inf; NaN stays NaN.
        T acc = 0;
        for (int64_t i = 0; i < n; ++i) acc += std::exp(x[i]);
        return std::log(acc);
      }
      // A pairwise sum of the shifted exponentials: a running sum drifts by eps * n.
      thread_local std::vector<T> exps;
      exps.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) exps[static_cast<size_t>(i)] = std::exp(x[i] - top);
      return top + std::log(pairwise_sum(exps.data(), n));
    });
  });
}

namespace {

// The largest element, NaNs ignored unless x[0] is one (then NaN). Sixteen running maxima keep the
// comparisons independent, so the loop vectorizes.
template <typename T>
T row_max(const T* x, int64_t n) {
  constexpr int64_t kLanes = 16;
  std::array<T, kLanes> best;
  best.fill(x[0]);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) {
      const auto lane = static_cast<size_t>(k);
      best[lane] = x[i + k] > best[lane] ? x[i + k] : best[lane];
    }
  }
  T top = x[0];
  for (const T candidate : best) top = candidate > top ? candidate : top;
  for (; i < n; ++i) top = x[i] > top ? x[i] : top;
  return top;
}

// softmax_rows_float's float64 counterpart, with libm's exp: shift each row by its max,
// exponentiate, then normalize each row.
template <bool kLog>
void softmax_rows_double(const double* x, double* y, int64_t rows, int64_t inner) {
  for (int64_t r = 0; r < rows; ++r) {
    double top = row_max(x + r * inner, inner);
    if (!std::isfinite(top)) top = 0;
    for (int64_t i = r * inner; i < (r + 1) * inner; ++i) y[i] = x[i] - top;
  }
  double* e = y;  // softmax exponentiates in place; log_softmax keeps the shifted values
  if constexpr (kLog) {
    thread_local std::vector<double> exps;
    exps.resize(static_cast<size_t>(rows * inner));
    e = exps.data();
  }
  for (int64_t i = 0; i < rows * inner; ++i) e[i] = std::exp(y[i]);
  for (int64_t r = 0; r < rows; ++r) {
    const double total = pairwise_sum(e + r * inner, inner);
    double* y_row = y + r * inner;
    if constexpr (kLog) {
      const double log_total = std::log(total);
      for (int64_t i = 0; i < inner; ++i) y_row[i] -= log_total;
    } else {
      const double scale = 1.0 / total;
      for (int64_t i = 0; i < inner; ++i) y_row[i] *= scale;
    }
  }
}

// Elements per softmax block: short rows share one call of the vectorized exp.
constexpr int64_t kSoftmaxBlock = 16384;

template <bool kLog>
Tensor softmax_impl(std::string_view op, const Tensor& t, int64_t dim) {
  const Tensor source = t.dtype() == kInt64 ? to_dtype(t, kFloat32) : t;
  if (source.dim() == 0) {
    return kLog ? zeros_like(source) : ones_like(source);
  }
  const int64_t d = normalize_dim(op, dim, source.dim());
  const Tensor moved = contiguous(transpose(source, d, -1));
  Tensor out = Tensor::empty(moved.shape(), moved.dtype());
  const int64_t inner = moved.shape().back();
  const int64_t outer = inner == 0 ? 0 : moved.numel() / inner;
  visit_floating(source.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = moved.data_ptr<T>();
    T* po = out.data_ptr<T>();
    // Rows [first, last): float32 goes to the fused, vectorized rows of exp.h.
    auto block = [&](int64_t first, int64_t last) {
      const T* x = in + first * inner;
      T* y = po + first * inner;
      const int64_t rows = last - first;
      if constexpr (std::is_same_v<T, float>) {
        softmax_rows_float(x, y, rows, inner, kLog);
      } else {
        softmax_rows_double<kLog>(x, y, rows, inner);
      }
    };
    const int64_t rows_per_block =
        std::max<int64_t>(1, kSoftmaxBlock / std::max<int64_t>(inner, 1));
    const int64_t blocks = (outer + rows_per_block - 1) / rows_per_block;
    auto run = [&](int64_t b) {
      block(b * rows_per_block, std::min(outer, (b + 1) * rows_per_block));
    };
    if (blocks > 1 && outer * inner >= detail::kParallelGrain) {
      parallel_for(blocks, run);
    } else {
      for (int64_t b = 0; b < blocks; ++b) run(b);
    }
  });
  return contiguous(transpose(out, d, -1));
}

}  // namespace

Tensor softmax(const Tensor& t, int64_t dim) { return softmax_impl<false>("softmax", t, dim); }
Tensor log_softmax(const Tensor& t, int64_t dim) {
  return softmax_impl<true>("log_softmax", t, dim);
}

}  // namespace nabla::kernels
