// Max and average pooling on NCHW buffers: direct loops over each (n, c) plane, planes spread
// over threads only when the call is large.
#include "tensor/kernels/pool.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "tensor/kernels/kernels.h"
#include "tensor/parallel_for.h"

namespace nabla::kernels {
namespace {

// Below this much work (window elements visited) a call runs on the calling thread.
constexpr int64_t kParallelWork = int64_t{1} << 16;
// Planes per parallel chunk are fixed by the geometry alone (never by the thread count), and each
// plane is computed independently, so results are bit-identical for any thread count.
constexpr int64_t kChunkWork = int64_t{1} << 14;

// Clipped window [h0, h1) x [w0, w1) of output (oh, ow); empty if it lies entirely in padding.
struct Window {
  int64_t h0, h1, w0, w1;
};
Window window_at(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  const int64_t h_start = oh * g.stride_h - g.pad_top;
  const int64_t w_start = ow * g.stride_w - g.pad_left;
  const int64_t h0 = std::max<int64_t>(h_start, 0);
  const int64_t w0 = std::max<int64_t>(w_start, 0);
  return {h0, std::max(h0, std::min(h_start + g.kernel_h, g.in_h)), w0,
          std::max(w0, std::min(w_start + g.kernel_w, g.in_w))};
}

using detail::valid_range;
using detail::ValidRange;

void check_geometry(const Pool2dGeometry& g) {
  assert(g.batch >= 0 && g.channels >= 0 && g.in_h >= 0 && g.in_w >= 0);
  assert(g.kernel_h >= 1 && g.kernel_w >= 1 && g.stride_h >= 1 && g.stride_w >= 1);
  assert(g.pad_top >= 0 && g.pad_left >= 0 && g.out_h >= 0 && g.out_w >= 0);
  static_cast<void>(g);
}

// Runs body(first_plane, end_plane) over all N*C planes in chunks of a size fixed by the work
// per plane; each plane is independent, so the result does not depend on the thread count.
template <typename Body>
void for_each_plane_chunk(const Pool2dGeometry& g, int64_t work_per_plane, const Body& body) {
  const int64_t planes = g.batch * g.channels;
  const int64_t work = std::max<int64_t>(work_per_plane, 1);
  if (planes > 1 && planes * work >= kParallelWork) {
    const int64_t per_chunk = std::max<int64_t>(kChunkWork / work, 1);
    const int64_t chunks = (planes + per_chunk - 1) / per_chunk;
    parallel_for(chunks, [&](int64_t chunk) {
      const int64_t begin = chunk * per_chunk;
      body(begin, std::min(begin + per_chunk, planes));
    });
  } else if (planes > 0) {
    body(int64_t{0}, planes);
  }
}

// Column taps of a window: for each kw, the outputs [lo, hi) whose tap kw is in bounds. Computed
// once per call so the loops below divide nothing.
std::vector<ValidRange> column_ranges(const Pool2dGeometry& g) {
  std::vector<ValidRange> cols(static_cast<size_t>(g.kernel_w));
  for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
    cols[static_cast<size_t>(kw)] = valid_range(kw - g.pad_left, g.stride_w, g.in_w, g.out_w);
  }
  return cols;
}

// The fast path: windows exactly tile the columns (kernel_w == stride_w == K, no left padding,
// every window fully inside the row), so one pass per window row reads K taps per output.
bool tiles_columns(const Pool2dGeometry& g, int64_t k) {
  return g.kernel_w == k && g.stride_w == k && g.pad_left == 0 && g.out_w * k <= g.in_w;
}

// ---- max ----
//
// Each output row keeps, per output column, the running maximum `best` (in the output row) and
// `code`, the position of the maximum relative to the window origin ((h - h_start) * W + kw, a
// 32-bit integer for float so that it shares the vector lanes of the values). A candidate v
// replaces best iff best is not NaN and !(v <= best): strictly greater, or the first NaN. Taps
// are visited in row-major window order, so ties keep the first maximum and the first NaN wins.
// The selects are branch-free and the loops over columns vectorize.

template <typename T>
using CodeOf = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;

template <typename T>
inline bool replaces(T v, T best) {
  return !(v <= best || std::isnan(best));
}

template <typename T, typename C>
inline void update_max(T v, C rel, T& best, C& code) {
  const bool take = replaces(v, best);
  best = take ? v : best;
  code = take ? rel : code;
}

// One window row with K taps per output (stride == K): First initializes from the first tap.
// The taps are spelled out (no inner loop) so that the loop over columns vectorizes.
template <int K, bool First, typename T, typename C>
void max_row_tiled(const T* row, T* best, C* code, int64_t n, C rel) {
  static_assert(K == 2 || K == 3);
  for (int64_t ow = 0; ow < n; ++ow) {
    const T* x = row + ow * K;
    T b = First ? x[0] : best[ow];
    C c = First ? rel : code[ow];
    if constexpr (!First) {
      update_max(x[0], rel, b, c);
    }
    update_max(x[1], static_cast<C>(rel + 1), b, c);
    if constexpr (K == 3) {
      update_max(x[2], static_cast<C>(rel + 2), b, c);
    }
    best[ow] = b;
    code[ow] = c;
  }
}

// Two window rows of 2 taps each in one pass: the common 2x2 window fully inside the plane.
template <typename T, typename C>
void max_two_rows_tiled2(const T* row0, const T* row1, T* best, C* code, int64_t n, C rel0,
                         C rel1) {
  for (int64_t ow = 0; ow < n; ++ow) {
    const T* x = row0 + ow * 2;
    const T* y = row1 + ow * 2;
    T b = x[0];
    C c = rel0;
    update_max(x[1], static_cast<C>(rel0 + 1), b, c);
    update_max(y[0], rel1, b, c);
    update_max(y[1], static_cast<C>(rel1 + 1), b, c);
    best[ow] = b;
    code[ow] = c;
  }
}

// One tap (h, kw) over the outputs [lo, hi): reads row[ow * stride + offset]. S is the stride
// when known at compile time (1 or 2), 0 for a run-time stride.
template <int S, typename T, typename C>
void max_tap(const T* row, T* best, C* code, int64_t lo, int64_t hi, int64_t stride, int64_t offset,
             C rel) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t ow = lo; ow < hi; ++ow) {
    const T v = row[ow * s + offset];
    const T b = best[ow];
    const bool take = replaces(v, b);
    best[ow] = take ? v : b;
    code[ow] = take ? rel : code[ow];
  }
}

template <typename T, typename C>
void max_forward_planes(const Pool2dGeometry& g, const std::vector<ValidRange>& cols,
                        const T* input, T* output, int64_t* argmax, int64_t begin, int64_t end) {
  const Pool2dGeometry geo = g;  // local: stores through argmax could alias g's fields
  const int64_t in_plane = geo.in_h * geo.in_w;
  const int64_t out_plane = geo.out_h * geo.out_w;
  const int64_t in_w = geo.in_w;
  const int64_t out_w = geo.out_w;
  std::vector<C> code_buffer(static_cast<size_t>(out_w));
  C* code = code_buffer.data();
  // Column of each window's origin, so the argmax pass below only adds (SSE2 has no 64-bit
  // multiply).
  std::vector<int64_t> col_origin_buffer(static_cast<size_t>(out_w));
  int64_t* col_origin = col_origin_buffer.data();
  for (int64_t ow = 0; ow < out_w; ++ow) {
    col_origin[ow] = ow * geo.stride_w - geo.pad_left;
  }
  const bool tiled2 = tiles_columns(geo, 2);
  const bool tiled3 = tiles_columns(geo, 3);
  for (int64_t p = begin; p < end; ++p) {
    const T* in = input + p * in_plane;
    for (int64_t oh = 0; oh < geo.out_h; ++oh) {
      T* best = output + p * out_plane + oh * out_w;
      int64_t* arg = argmax + p * out_plane + oh * out_w;
      const int64_t h_start = oh * geo.stride_h - geo.pad_top;
      const int64_t h_begin = std::max<int64_t>(h_start, 0);
      const int64_t h_end = std::min(h_start + geo.kernel_h, geo.in_h);
      assert(h_begin < h_end);
      const auto row_rel = [&](int64_t h) { return static_cast<C>((h - h_start) * in_w); };
      if (tiled2 || tiled3) {
        const T* row = in + h_begin * in_w;
        int64_t h = h_begin + 1;
        if (tiled2 && h_end - h_begin >= 2) {
          max_two_rows_tiled2(row, row + in_w, best, code, out_w, row_rel(h_begin),
                              row_rel(h_begin + 1));
          ++h;
        } else if (tiled2) {
          max_row_tiled<2, true>(row, best, code, out_w, row_rel(h_begin));
        } else {
          max_row_tiled<3, true>(row, best, code, out_w, row_rel(h_begin));
        }
        for (; h < h_end; ++h) {
          row = in + h * in_w;
          if (tiled2) {
            max_row_tiled<2, false>(row, best, code, out_w, row_rel(h));
          } else {
            max_row_tiled<3, false>(row, best, code, out_w, row_rel(h));
          }
        }
      } else {
        // Start every window from its first in-bounds element (row h_begin); visiting it again
        // below changes nothing (equal, or best is already NaN).
        const T* first_row = in + h_begin * in_w;
        for (int64_t ow = 0; ow < out_w; ++ow) {
          const int64_t w_start = ow * geo.stride_w - geo.pad_left;
          const int64_t w0 = std::max<int64_t>(w_start, 0);
          best[ow] = first_row[w0];
          code[ow] = static_cast<C>(row_rel(h_begin) + (w0 - w_start));
        }
        for (int64_t h = h_begin; h < h_end; ++h) {
          const T* row = in + h * in_w;
          for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
            const ValidRange r = cols[static_cast<size_t>(kw)];
            const int64_t offset = kw - geo.pad_left;
            const C rel = static_cast<C>(row_rel(h) + kw);
            if (geo.stride_w == 1) {
              max_tap<1>(row, best, code, r.lo, r.hi, 1, offset, rel);
            } else if (geo.stride_w == 2) {
              max_tap<2>(row, best, code, r.lo, r.hi, 2, offset, rel);
            } else {
              max_tap<0>(row, best, code, r.lo, r.hi, geo.stride_w, offset, rel);
            }
          }
        }
      }
      // Window origin (h_start, ow * stride - pad_left) plus the relative position.
      const int64_t row_origin = h_start * in_w;
      for (int64_t ow = 0; ow < out_w; ++ow) {
        arg[ow] = row_origin + col_origin[ow] + static_cast<int64_t>(code[ow]);
      }
    }
  }
}

// ---- 2x2 stride-2 windows inside the plane, float, AVX-512 ----
//
// The small CNN's pooling: out_w is 13 or 5, too short for the column loops above to vectorize
// (the compiler's 16-lane loop never runs, the scalar tail does everything). Here each 16 outputs
// of a row are one vector: the two window rows are loaded (32 floats each, masked at the row's
// end) and split into even and odd columns, and the four taps are compared in row-major window
// order with the scalar rule (replaces: strictly greater, or the first NaN): the same values and
// argmax as max_forward_planes, bit for bit.

#if defined(__x86_64__)
// Whether the whole plane is tiled by 2x2 windows with stride 2 and no padding (a last odd row or
// column is never read), so that every window has its four taps in bounds.
bool tiles_2x2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 &&
         g.pad_top == 0 && g.pad_left == 0 && 2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w &&
         g.in_w < std::numeric_limits<int32_t>::max();
}

// AVX-512 unless the CPU lacks it or NABLA_GEMM_ISA forces a narrower path (as for the GEMM).
bool use_avx512_pool() {
  static const bool kUse = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && std::getenv("NABLA_GEMM_ISA") == nullptr;
  }();
  return kUse;
}

// Lanes [0, n) of a 16-lane mask, n in [0, 16].
inline __mmask16 first_lanes16(int64_t n) {
  return static_cast<__mmask16>((1U << static_cast<unsigned>(std::clamp<int64_t>(n, 0, 16))) - 1U);
}
inline __mmask8 first_lanes8(int64_t n) {
  return static_cast<__mmask8>((1U << static_cast<unsigned>(std::clamp<int64_t>(n, 0, 8))) - 1U);
}

// The scalar rule (replaces) on 16 lanes: v and its code c replace best where !(v <= best) and
// best is not NaN.
__attribute__((target("avx512f"), always_inline)) inline void update_max16(__m512 v, __m512i c,
                                                                           __m512& best,
                                                                           __m512i& code) {
  const auto keep = static_cast<__mmask16>(_mm512_cmp_ps_mask(v, best, _CMP_LE_OQ) |
                                           _mm512_cmp_ps_mask(best, best, _CMP_UNORD_Q));
  const auto take = static_cast<__mmask16>(~keep);
  best = _mm512_mask_mov_ps(best, take, v);
  code = _mm512_mask_mov_epi32(code, take, c);
}

__attribute__((target("avx512f"))) void max_forward_2x2_avx512(const Pool2dGeometry& g,
                                                               const float* input, float* output,
                                                               int64_t* argmax, int64_t begin,
                                                               int64_t end) {
  const int64_t in_w = g.in_w;
  const int64_t out_w = g.out_w;
  const int64_t in_plane = g.in_h * in_w;
  const int64_t out_plane = g.out_h * out_w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i steps = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i code1 = _mm512_set1_epi32(1);
  const __m512i code_w = _mm512_set1_epi32(static_cast<int32_t>(in_w));
  const __m512i code_w1 = _mm512_set1_epi32(static_cast<int32_t>(in_w + 1));
  for (int64_t p = begin; p < end; ++p) {
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      const float* row0 = input + p * in_plane + 2 * oh * in_w;
      const float* row1 = row0 + in_w;
      float* out = output + p * out_plane + oh * out_w;
      int64_t* arg = argmax + p * out_plane + oh * out_w;
      for (int64_t ow = 0; ow < out_w; ow += 16) {
        const int64_t n = std::min<int64_t>(16, out_w - ow);
        const __mmask16 lo = first_lanes16(2 * n);
        const __mmask16 hi = first_lanes16(2 * n - 16);
        const __m512 a0 = _mm512_maskz_loadu_ps(lo, row0 + 2 * ow);
        const __m512 a1 = _mm512_maskz_loadu_ps(hi, row0 + 2 * ow + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(lo, row1 + 2 * ow);
        const __m512 b1 = _mm512_maskz_loadu_ps(hi, row1 + 2 * ow + 16);
        __m512 best = _mm512_permutex2var_ps(a0, even, a1);
        __m512i code = _mm512_setzero_si512();
        update_max16(_mm512_permutex2var_ps(a0, odd, a1), code1, best, code);
        update_max16(_mm512_permutex2var_ps(b0, even, b1), code_w, best, code);
        update_max16(_mm512_permutex2var_ps(b0, odd, b1), code_w1, best, code);
        _mm512_mask_storeu_ps(out + ow, first_lanes16(n), best);
        // argmax = the window origin (2 oh, 2 ow) in the plane plus the tap's offset.
        const __m512i origin = _mm512_add_epi64(_mm512_set1_epi64(2 * oh * in_w + 2 * ow), steps);
        const __m512i code_lo =
            _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, code, 0));
        const __m512i code_hi =
            _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, code, 1));
        _mm512_mask_storeu_epi64(arg + ow, first_lanes8(n), _mm512_add_epi64(origin, code_lo));
        _mm512_mask_storeu_epi64(
            arg + ow + 8, first_lanes8(n - 8),
            _mm512_add_epi64(_mm512_add_epi64(origin, _mm512_set1_epi64(16)), code_hi));
      }
    }
  }
}

// The same for rows of at most 8 windows (the 11x11 plane's 5): two output rows a vector, row oh
// in lanes 0-7 and row oh + 1 in lanes 8-15 (the even/odd splits then take their columns from
// the two rows' loads), packed to 2 * out_w contiguous outputs before the store. Same taps in
// the same order per window, so the same values and argmax bit for bit.
__attribute__((target("avx512f"))) void max_forward_2x2_narrow_avx512(const Pool2dGeometry& g,
                                                                      const float* input,
                                                                      float* output,
                                                                      int64_t* argmax,
                                                                      int64_t begin, int64_t end) {
  const int64_t in_w = g.in_w;
  const int64_t out_w = g.out_w;
  assert(out_w <= 8);
  const int64_t in_plane = g.in_h * in_w;
  const int64_t out_plane = g.out_h * out_w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i code1 = _mm512_set1_epi32(1);
  const __m512i code_w = _mm512_set1_epi32(static_cast<int32_t>(in_w));
  const __m512i code_w1 = _mm512_set1_epi32(static_cast<int32_t>(in_w + 1));
  // Packed lane i: window i of row oh (i < out_w) or window i - out_w of row oh + 1; its source
  // lane and its window origin relative to (2 oh, 0).
  alignas(64) int32_t pack[16] = {};
  alignas(64) int64_t origin_offset[16] = {};
  for (int64_t i = 0; i < 2 * out_w; ++i) {
    const bool first = i < out_w;
    pack[i] = static_cast<int32_t>(first ? i : 8 + i - out_w);
    origin_offset[i] = first ? 2 * i : 2 * in_w + 2 * (i - out_w);
  }
  const __m512i pack_idx = _mm512_load_si512(pack);
  const __m512i offset_lo = _mm512_load_si512(origin_offset);
  const __m512i offset_hi = _mm512_load_si512(origin_offset + 8);
  const __mmask16 cols = first_lanes16(2 * out_w);
  for (int64_t p = begin; p < end; ++p) {
    for (int64_t oh = 0; oh < g.out_h; oh += 2) {
      const bool pair = oh + 1 < g.out_h;
      const __mmask16 next_cols = pair ? cols : __mmask16{0};
      const float* row0 = input + p * in_plane + 2 * oh * in_w;
      const float* row1 = row0 + in_w;
      const __m512 a0 = _mm512_maskz_loadu_ps(cols, row0);
      const __m512 a1 = _mm512_maskz_loadu_ps(next_cols, row0 + 2 * in_w);
      const __m512 b0 = _mm512_maskz_loadu_ps(cols, row1);
      const __m512 b1 = _mm512_maskz_loadu_ps(next_cols, row1 + 2 * in_w);
      __m512 best = _mm512_permutex2var_ps(a0, even, a1);
      __m512i code = _mm512_setzero_si512();
      update_max16(_mm512_permutex2var_ps(a0, odd, a1), code1, best, code);
      update_max16(_mm512_permutex2var_ps(b0, even, b1), code_w, best, code);
      update_max16(_mm512_permutex2var_ps(b0, odd, b1), code_w1, best, code);
      const int64_t n = pair ? 2 * out_w : out_w;
      float* out = output + p * out_plane + oh * out_w;
      int64_t* arg = argmax + p * out_plane + oh * out_w;
      _mm512_mask_storeu_ps(out, first_lanes16(n),
                            _mm512_maskz_permutexvar_ps(0xFFFF, pack_idx, best));
      const __m512i packed = _mm512_maskz_permutexvar_epi32(0xFFFF, pack_idx, code);
      const __m512i origin = _mm512_set1_epi64(2 * oh * in_w);
      const __m512i code_lo =
          _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, packed, 0));
      _mm512_mask_storeu_epi64(arg, first_lanes8(n),
                               _mm512_add_epi64(_mm512_add_epi64(origin, offset_lo), code_lo));
      if (n > 8) {
        const __m512i code_hi =
            _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, packed, 1));
        _mm512_mask_storeu_epi64(arg + 8, first_lanes8(n - 8),
                                 _mm512_add_epi64(_mm512_add_epi64(origin, offset_hi), code_hi));
      }
    }
  }
}

// Lanes of 16 windows (two 8-lane halves of int64 argmax offsets) whose tap is `tap`.
__attribute__((target("avx512f"), always_inline)) inline __mmask16 tap_lanes(__m512i rel_lo,
                                                                             __m512i rel_hi,
                                                                             int64_t tap) {
  const __m512i t = _mm512_set1_epi64(tap);
  return static_cast<__mmask16>(static_cast<unsigned>(_mm512_cmpeq_epi64_mask(rel_lo, t)) |
                                (static_cast<unsigned>(_mm512_cmpeq_epi64_mask(rel_hi, t)) << 8U));
}

// The adjoint on the same geometry, one write per input element instead of a zero fill and a
// scatter: each window's gradient goes to the tap its argmax names, zeros to the other three
// (and to a last odd row or column). Returns false if an argmax does not name a tap of its own
// window (only possible for an argmax not made by max_pool2d_with_argmax): the caller then
// redoes the plane with the general scatter.
__attribute__((target("avx512f"))) bool max_backward_2x2_plane_avx512(const Pool2dGeometry& g,
                                                                      const float* grad,
                                                                      const int64_t* arg,
                                                                      float* grad_in) {
  const int64_t in_w = g.in_w;
  const int64_t out_w = g.out_w;
  const __m512i steps = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    float* row0 = grad_in + 2 * oh * in_w;
    float* row1 = row0 + in_w;
    for (int64_t ow = 0; ow < out_w; ow += 16) {
      const int64_t n = std::min<int64_t>(16, out_w - ow);
      const __mmask16 valid = first_lanes16(n);
      const __m512 gv = _mm512_maskz_loadu_ps(valid, grad + oh * out_w + ow);
      const __m512i origin = _mm512_add_epi64(_mm512_set1_epi64(2 * oh * in_w + 2 * ow), steps);
      const __m512i rel_lo = _mm512_sub_epi64(
          _mm512_maskz_loadu_epi64(first_lanes8(n), arg + oh * out_w + ow), origin);
      const __m512i rel_hi =
          _mm512_sub_epi64(_mm512_maskz_loadu_epi64(first_lanes8(n - 8), arg + oh * out_w + ow + 8),
                           _mm512_add_epi64(origin, _mm512_set1_epi64(16)));
      const __mmask16 m00 = tap_lanes(rel_lo, rel_hi, 0);
      const __mmask16 m01 = tap_lanes(rel_lo, rel_hi, 1);
      const __mmask16 m10 = tap_lanes(rel_lo, rel_hi, in_w);
      const __mmask16 m11 = tap_lanes(rel_lo, rel_hi, in_w + 1);
      if (((m00 | m01 | m10 | m11) & valid) != valid) return false;
      const __m512 t00 = _mm512_maskz_mov_ps(m00, gv);
      const __m512 t01 = _mm512_maskz_mov_ps(m01, gv);
      const __m512 t10 = _mm512_maskz_mov_ps(m10, gv);
      const __m512 t11 = _mm512_maskz_mov_ps(m11, gv);
      const __mmask16 lo = first_lanes16(2 * n);
      const __mmask16 hi = first_lanes16(2 * n - 16);
      _mm512_mask_storeu_ps(row0 + 2 * ow, lo, _mm512_permutex2var_ps(t00, lo_idx, t01));
      _mm512_mask_storeu_ps(row0 + 2 * ow + 16, hi, _mm512_permutex2var_ps(t00, hi_idx, t01));
      _mm512_mask_storeu_ps(row1 + 2 * ow, lo, _mm512_permutex2var_ps(t10, lo_idx, t11));
      _mm512_mask_storeu_ps(row1 + 2 * ow + 16, hi, _mm512_permutex2var_ps(t10, hi_idx, t11));
    }
    // NOTE: a last odd column (no window reads it) gets zeros.
    for (int64_t w = 2 * out_w; w < in_w; ++w) {
      row0[w] = 0.0F;
      row1[w] = 0.0F;
    }
  }
  std::fill(grad_in + 2 * g.out_h * in_w, grad_in + g.in_h * in_w, 0.0F);
  return true;
}

// Average pooling on the same geometry, 16 windows a vector as above. The operations are those of
// avg_forward_impl's per-window loop: the sum from 0 in row-major window order ((((0 + x00) +
// x01) + x10) + x11: the leading 0 + turns a -0 into +0), then one division by the count 4.
__attribute__((target("avx512f"))) void avg_forward_2x2_avx512(const Pool2dGeometry& g,
                                                               const float* input, float* output,
                                                               int64_t begin, int64_t end) {
  const int64_t in_w = g.in_w;
  const int64_t out_w = g.out_w;
  const int64_t in_plane = g.in_h * in_w;
  const int64_t out_plane = g.out_h * out_w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 count = _mm512_set1_ps(4.0F);
  for (int64_t p = begin; p < end; ++p) {
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      const float* row0 = input + p * in_plane + 2 * oh * in_w;
      const float* row1 = row0 + in_w;
      float* out = output + p * out_plane + oh * out_w;
      for (int64_t ow = 0; ow < out_w; ow += 16) {
        const int64_t n = std::min<int64_t>(16, out_w - ow);
        const __mmask16 lo = first_lanes16(2 * n);
        const __mmask16 hi = first_lanes16(2 * n - 16);
        const __m512 a0 = _mm512_maskz_loadu_ps(lo, row0 + 2 * ow);
        const __m512 a1 = _mm512_maskz_loadu_ps(hi, row0 + 2 * ow + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(lo, row1 + 2 * ow);
        const __m512 b1 = _mm512_maskz_loadu_ps(hi, row1 + 2 * ow + 16);
        __m512 sum = _mm512_add_ps(_mm512_setzero_ps(), _mm512_permutex2var_ps(a0, even, a1));
        sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(a0, odd, a1));
        sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(b0, even, b1));
        sum = _mm512_add_ps(sum, _mm512_permutex2var_ps(b0, odd, b1));
        _mm512_mask_storeu_ps(out + ow, first_lanes16(n), _mm512_div_ps(sum, count));
      }
    }
  }
}

// Its adjoint, one write per input element: each input gets 0 + grad / 4 (avg_backward_impl's
// zero fill, division and one share), a last odd row or column zeros. Each 16 columns of a row
// are one store (8 windows' shares, each twice), so a short row (11 columns) is one store.
__attribute__((target("avx512f"))) void avg_backward_2x2_avx512(const Pool2dGeometry& g,
                                                                const float* grad_output,
                                                                float* grad_input, int64_t begin,
                                                                int64_t end) {
  const int64_t in_w = g.in_w;
  const int64_t out_w = g.out_w;
  const int64_t in_plane = g.in_h * in_w;
  const int64_t out_plane = g.out_h * out_w;
  const __m512i twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512 count = _mm512_set1_ps(4.0F);
  for (int64_t p = begin; p < end; ++p) {
    const float* grad = grad_output + p * out_plane;
    float* grad_in = grad_input + p * in_plane;
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      float* row0 = grad_in + 2 * oh * in_w;
      float* row1 = row0 + in_w;
      for (int64_t w = 0; w < in_w; w += 16) {
        // Windows [w / 2, w / 2 + n); columns past the last window (an odd last one) get 0.
        const int64_t n = std::min<int64_t>(8, out_w - w / 2);
        const __m512 gv = _mm512_maskz_loadu_ps(first_lanes16(n), grad + oh * out_w + w / 2);
        const __m512 share = _mm512_add_ps(_mm512_setzero_ps(), _mm512_div_ps(gv, count));
        const __m512 spread = _mm512_maskz_permutexvar_ps(first_lanes16(2 * n), twice, share);
        const __mmask16 cols = first_lanes16(in_w - w);
        _mm512_mask_storeu_ps(row0 + w, cols, spread);
        _mm512_mask_storeu_ps(row1 + w, cols, spread);
      }
    }
    std::fill(grad_in + 2 * g.out_h * in_w, grad_in + in_plane, 0.0F);
  }
}
#endif

template <typename T>
void max_forward_impl(const Pool2dGeometry& g, const T* input, T* output, int64_t* argmax) {
  check_geometry(g);
  const std::vector<ValidRange> cols = column_ranges(g);
  // Relative positions are below kernel_h * W + kernel_w: 32 bits for float when they fit.
  const bool narrow = g.kernel_h <= (int64_t{std::numeric_limits<int32_t>::max()} - g.kernel_w) /
                                        std::max<int64_t>(g.in_w, 1);
  const int64_t work = std::max<int64_t>(g.out_h * g.out_w * g.kernel_h * g.kernel_w, 1);
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (tiles_2x2(g) && use_avx512_pool()) {
      for_each_plane_chunk(g, work, [&](int64_t begin, int64_t end) {
        if (g.out_w <= 8) {
          max_forward_2x2_narrow_avx512(g, input, output, argmax, begin, end);
        } else {
          max_forward_2x2_avx512(g, input, output, argmax, begin, end);
        }
      });
      return;
    }
  }
#endif
  for_each_plane_chunk(g, work, [&](int64_t begin, int64_t end) {
    if (narrow) {
      max_forward_planes<T, CodeOf<T>>(g, cols, input, output, argmax, begin, end);
    } else {
      max_forward_planes<T, int64_t>(g, cols, input, output, argmax, begin, end);
    }
  });
}

template <typename T>
void max_backward_impl(const Pool2dGeometry& g, const T* grad_output, const int64_t* argmax,
                       T* grad_input) {
  check_geometry(g);
  const int64_t in_plane = g.in_h * g.in_w;
  const int64_t out_plane = g.out_h * g.out_w;
#if defined(__x86_64__)
  // Below 8 windows a row the masked vectors do mostly nothing: the scatter is faster there.
  const bool fast = tiles_2x2(g) && g.out_w >= 8 && use_avx512_pool();
#endif
  for_each_plane_chunk(g, in_plane + out_plane, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* grad_out = grad_output + p * out_plane;
      const int64_t* arg = argmax + p * out_plane;
      T* grad_in = grad_input + p * in_plane;
#if defined(__x86_64__)
      if constexpr (std::is_same_v<T, float>) {
        if (fast && max_backward_2x2_plane_avx512(g, grad_out, arg, grad_in)) continue;
      }
#endif
      std::fill(grad_in, grad_in + in_plane, T(0));
      for (int64_t i = 0; i < out_plane; ++i) {
        if (arg[i] >= 0) {
          assert(arg[i] < in_plane);
          grad_in[arg[i]] += grad_out[i];
        }
      }
    }
  });
}

// ---- average ----
//
// Each window is summed from 0 in row-major order (0 + x0 + x1 + ...), then divided by its
// in-bounds count, exactly as a per-window loop would.

// Per-window divisors: in-bounds columns (fixed per output column) times in-bounds rows (fixed
// per output row, and the same for all interior rows), converted to T once per distinct row
// count, so the division passes neither multiply nor convert 64-bit integers and vectorize.
template <typename T>
class Divisors {
 public:
  explicit Divisors(const Pool2dGeometry& g)
      : cols_(static_cast<size_t>(g.out_w)), divisor_(static_cast<size_t>(g.out_w)) {
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const Window win = window_at(g, 0, ow);
      cols_[static_cast<size_t>(ow)] = win.w1 - win.w0;
    }
  }
  // out[ow] = x[ow] / count of window (row, ow), or 0 for a window with no in-bounds element.
  void divide(const T* x, T* out, int64_t rows) {
    if (rows != rows_) {
      rows_ = rows;
      all_positive_ = true;
      for (size_t i = 0; i < cols_.size(); ++i) {
        const int64_t count = cols_[i] * rows;
        divisor_[i] = static_cast<T>(count);
        all_positive_ = all_positive_ && count > 0;
      }
    }
    const T* d = divisor_.data();
    const auto n = static_cast<int64_t>(cols_.size());
    if (all_positive_) {
      for (int64_t i = 0; i < n; ++i) {
        out[i] = x[i] / d[i];
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        out[i] = d[i] > T(0) ? x[i] / d[i] : T(0);
      }
    }
  }

 private:
  std::vector<int64_t> cols_;
  std::vector<T> divisor_;
  int64_t rows_ = -1;
  bool all_positive_ = false;
};

template <int K, typename T>
void sum_row_tiled(const T* row, T* sum, int64_t n) {
  for (int64_t ow = 0; ow < n; ++ow) {
    T s = sum[ow];
#pragma GCC unroll 4
    for (int t = 0; t < K; ++t) {
      s += row[ow * K + t];
    }
    sum[ow] = s;
  }
}

template <int S, typename T>
void sum_tap(const T* row, T* sum, int64_t lo, int64_t hi, int64_t stride, int64_t offset) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t ow = lo; ow < hi; ++ow) {
    sum[ow] += row[ow * s + offset];
  }
}

template <typename T>
void avg_forward_impl(const Pool2dGeometry& g, const T* input, T* output) {
  check_geometry(g);
  const std::vector<ValidRange> cols = column_ranges(g);
  const int64_t work = std::max<int64_t>(g.out_h * g.out_w * g.kernel_h * g.kernel_w, 1);
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (tiles_2x2(g) && use_avx512_pool()) {
      for_each_plane_chunk(g, work, [&](int64_t begin, int64_t end) {
        avg_forward_2x2_avx512(g, input, output, begin, end);
      });
      return;
    }
  }
#endif
  for_each_plane_chunk(g, work, [&](int64_t begin, int64_t end) {
    const Pool2dGeometry geo = g;
    const int64_t in_plane = geo.in_h * geo.in_w;
    const int64_t out_plane = geo.out_h * geo.out_w;
    const int64_t in_w = geo.in_w;
    const int64_t out_w = geo.out_w;
    const bool tiled2 = tiles_columns(geo, 2);
    const bool tiled3 = tiles_columns(geo, 3);
    Divisors<T> divisors(geo);
    for (int64_t p = begin; p < end; ++p) {
      const T* in = input + p * in_plane;
      for (int64_t oh = 0; oh < geo.out_h; ++oh) {
        T* sum = output + p * out_plane + oh * out_w;
        std::fill(sum, sum + out_w, T(0));
        const int64_t h_start = oh * geo.stride_h - geo.pad_top;
        const int64_t h_begin = std::max<int64_t>(h_start, 0);
        const int64_t h_end = std::min(h_start + geo.kernel_h, geo.in_h);
        for (int64_t h = h_begin; h < h_end; ++h) {
          const T* row = in + h * in_w;
          if (tiled2) {
            sum_row_tiled<2>(row, sum, out_w);
          } else if (tiled3) {
            sum_row_tiled<3>(row, sum, out_w);
          } else {
            for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
              const ValidRange r = cols[static_cast<size_t>(kw)];
              const int64_t offset = kw - geo.pad_left;
              if (geo.stride_w == 1) {
                sum_tap<1>(row, sum, r.lo, r.hi, 1, offset);
              } else if (geo.stride_w == 2) {
                sum_tap<2>(row, sum, r.lo, r.hi, 2, offset);
              } else {
                sum_tap<0>(row, sum, r.lo, r.hi, geo.stride_w, offset);
              }
            }
          }
        }
        divisors.divide(sum, sum, std::max<int64_t>(h_end - h_begin, 0));
      }
    }
  });
}

template <int K, typename T>
void spread_row_tiled(T* row, const T* share, int64_t n) {
  for (int64_t ow = 0; ow < n; ++ow) {
#pragma GCC unroll 4
    for (int t = 0; t < K; ++t) {
      row[ow * K + t] += share[ow];
    }
  }
}

template <int S, typename T>
void spread_tap(T* row, const T* share, int64_t lo, int64_t hi, int64_t stride, int64_t offset) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t ow = lo; ow < hi; ++ow) {
    row[ow * s + offset] += share[ow];
  }
}

// Every input element accumulates, from 0, the shares of the windows covering it in (oh, ow)
// order. Without column overlap (kernel_w <= stride_w) each element gets at most one share per
// output row, so the taps may run column-vectorized in any order; with overlap the windows of a
// row are spread one after another to keep that order.
template <typename T>
void avg_backward_impl(const Pool2dGeometry& g, const T* grad_output, T* grad_input) {
  check_geometry(g);
  const std::vector<ValidRange> cols = column_ranges(g);
  const int64_t in_plane = g.in_h * g.in_w;
  const int64_t out_plane = g.out_h * g.out_w;
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (tiles_2x2(g) && use_avx512_pool()) {
      for_each_plane_chunk(g, in_plane + out_plane * 4, [&](int64_t begin, int64_t end) {
        avg_backward_2x2_avx512(g, grad_output, grad_input, begin, end);
      });
      return;
    }
  }
#endif
  for_each_plane_chunk(
      g, in_plane + out_plane * g.kernel_h * g.kernel_w, [&](int64_t begin, int64_t end) {
        const Pool2dGeometry geo = g;
        const int64_t in_w = geo.in_w;
        const int64_t out_w = geo.out_w;
        const bool tiled2 = tiles_columns(geo, 2);
        const bool tiled3 = tiles_columns(geo, 3);
        const bool overlap = geo.kernel_w > geo.stride_w;
        Divisors<T> divisors(geo);
        std::vector<T> share_buffer(static_cast<size_t>(out_w));
        T* share = share_buffer.data();
        for (int64_t p = begin; p < end; ++p) {
          const T* grad_out = grad_output + p * out_plane;
          T* grad_in = grad_input + p * in_plane;
          std::fill(grad_in, grad_in + in_plane, T(0));
          for (int64_t oh = 0; oh < geo.out_h; ++oh) {
            const int64_t h_start = oh * geo.stride_h - geo.pad_top;
            const int64_t h_begin = std::max<int64_t>(h_start, 0);
            const int64_t h_end = std::min(h_start + geo.kernel_h, geo.in_h);
            divisors.divide(grad_out + oh * out_w, share, std::max<int64_t>(h_end - h_begin, 0));
            if (overlap) {
              for (int64_t ow = 0; ow < out_w; ++ow) {
                const Window win = window_at(geo, oh, ow);
                for (int64_t h = win.h0; h < win.h1; ++h) {
                  for (int64_t w = win.w0; w < win.w1; ++w) {
                    grad_in[h * in_w + w] += share[ow];
                  }
                }
              }
              continue;
            }
            for (int64_t h = h_begin; h < h_end; ++h) {
              T* row = grad_in + h * in_w;
              if (tiled2) {
                spread_row_tiled<2>(row, share, out_w);
              } else if (tiled3) {
                spread_row_tiled<3>(row, share, out_w);
              } else {
                for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
                  const ValidRange r = cols[static_cast<size_t>(kw)];
                  const int64_t offset = kw - geo.pad_left;
                  if (geo.stride_w == 1) {
                    spread_tap<1>(row, share, r.lo, r.hi, 1, offset);
                  } else if (geo.stride_w == 2) {
                    spread_tap<2>(row, share, r.lo, r.hi, 2, offset);
                  } else {
                    spread_tap<0>(row, share, r.lo, r.hi, geo.stride_w, offset);
                  }
                }
              }
            }
          }
        }
      });
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_argmax(const Tensor& input,
                                                 const Pool2dOptions& options) {
  detail::check_floating_4d("max_pool2d", "input", input);
  const Pool2dGeometry g = pool2d_geometry("max_pool2d", input.shape(), options);
  const Tensor input_c = contiguous(input);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, input.dtype());
  Tensor argmax = Tensor::empty(out.shape(), kInt64);
  visit_floating(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_forward_impl(g, input_c.data_ptr<T>(), out.data_ptr<T>(), argmax.data_ptr<int64_t>());
  });
  return {out, argmax};
}

Tensor max_pool2d_backward(const Tensor& grad, const Tensor& argmax, const Shape& input_shape,
                           const Pool2dOptions& options) {
  const Pool2dGeometry g = pool2d_geometry("max_pool2d", input_shape, options);
  const Shape output_shape{g.batch, g.channels, g.out_h, g.out_w};
  detail::check_output_grad("max_pool2d_backward", grad, output_shape);
  if (argmax.shape() != output_shape || argmax.dtype() != kInt64) {
    throw error("max_pool2d_backward: argmax must be int64 of the output shape {}, got {} {}",
                shape_str(output_shape), dtype_name(argmax.dtype()), shape_str(argmax.shape()));
  }
  const Tensor grad_c = contiguous(grad);
  const Tensor argmax_c = contiguous(argmax);
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_backward_impl(g, grad_c.data_ptr<T>(), argmax_c.data_ptr<int64_t>(), out.data_ptr<T>());
  });
  return out;
}

Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options) {
  detail::check_floating_4d("avg_pool2d", "input", input);
  const Pool2dGeometry g = pool2d_geometry("avg_pool2d", input.shape(), options);
  const Tensor input_c = contiguous(input);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, input.dtype());
  visit_floating(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    avg_forward_impl(g, input_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad, const Shape& input_shape,
                           const Pool2dOptions& options) {
  const Pool2dGeometry g = pool2d_geometry("avg_pool2d", input_shape, options);
  detail::check_output_grad("avg_pool2d_backward", grad, {g.batch, g.channels, g.out_h, g.out_w});
  const Tensor grad_c = contiguous(grad);
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    avg_backward_impl(g, grad_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return out;
}

}  // namespace nabla::kernels
