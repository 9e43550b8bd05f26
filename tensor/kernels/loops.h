// The strided iteration every elementwise kernel shares: operands with their own strides are walked
// row by row (innermost dimension linear, no per-element div/mod), in parallel above a grain size
// (fixed chunks of kParallelGrain elements on nabla::parallel_for's pool).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "tensor/parallel_for.h"
#include "tensor/shape.h"

namespace nabla::kernels::detail {

// Below this many elements a parallel call costs more than it saves (waking a sleeping worker
// takes microseconds; a 128x512 activation stays on one thread). Also the chunk size: chunk
// boundaries never depend on the thread count.
constexpr int64_t kParallelGrain = 131072;

template <size_t N>
struct Iteration {
  Shape shape;
  std::array<Shape, N> strides;  // in elements, one per operand
};

// Drops size-1 dims and merges neighbours that are contiguous for every operand, so that the
// innermost loop is as long as possible.
template <size_t N>
Iteration<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  Iteration<N> it;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!it.shape.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k) {
        if (it.strides[k].back() != strides[k][d] * shape[d]) mergeable = false;
      }
      if (mergeable) {
        it.shape.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) it.strides[k].back() = strides[k][d];
        continue;
      }
    }
    it.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) it.strides[k].push_back(strides[k][d]);
  }
  if (it.shape.empty() && shape_numel(shape) == 1) {
    it.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) it.strides[k].push_back(0);
  }
  return it;
}

// row(offsets, count, inner_strides) for the elements [begin, end) in row-major order.
template <size_t N, typename RowFn>
void for_each_row_range(const Iteration<N>& it, int64_t begin, int64_t end, RowFn& row) {
  const auto ndim = static_cast<int64_t>(it.shape.size());
  const int64_t inner = it.shape.back();
  Shape index(it.shape.size());
  std::array<int64_t, N> offsets{};
  std::array<int64_t, N> inner_strides{};
  int64_t remaining = begin;
  for (int64_t d = ndim - 1; d >= 0; --d) {
    const auto du = static_cast<size_t>(d);
    index[du] = remaining % it.shape[du];
    remaining /= it.shape[du];
    for (size_t k = 0; k < N; ++k) offsets[k] += index[du] * it.strides[k][du];
  }
  for (size_t k = 0; k < N; ++k) inner_strides[k] = it.strides[k].back();
  int64_t position = begin;
  while (position < end) {
    const int64_t count = std::min(inner - index.back(), end - position);
    row(offsets, count, inner_strides);
    position += count;
    index.back() += count;
    for (size_t k = 0; k < N; ++k) offsets[k] += count * inner_strides[k];
    if (index.back() < inner) continue;
    index.back() = 0;
    for (size_t k = 0; k < N; ++k) offsets[k] -= inner * inner_strides[k];
    for (int64_t d = ndim - 2; d >= 0; --d) {
      const auto du = static_cast<size_t>(d);
      ++index[du];
      for (size_t k = 0; k < N; ++k) offsets[k] += it.strides[k][du];
      if (index[du] < it.shape[du]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= it.shape[du] * it.strides[k][du];
      index[du] = 0;
    }
  }
}

template <size_t N, typename RowFn>
void for_each_row(const Iteration<N>& it, RowFn row) {
  const int64_t numel = shape_numel(it.shape);
  if (numel == 0 || it.shape.empty()) return;
  if (numel < kParallelGrain) {
    for_each_row_range(it, 0, numel, row);
    return;
  }
  const int64_t chunks = (numel + kParallelGrain - 1) / kParallelGrain;
  nabla::parallel_for(chunks, [&](int64_t chunk) {
    RowFn local = row;
    for_each_row_range(it, chunk * kParallelGrain, std::min(numel, (chunk + 1) * kParallelGrain),
                       local);
  });
}

}  // namespace nabla::kernels::detail
