// 2-D convolution on NCHW buffers, on implicit GEMMs over zero-padded copies of the images (no
// column buffer): the forward pass reads row windows in place (gemm_offset_b, stride 1, wide
// rows) or gathers one GEMM row per output position (gemm_gather_a, narrow rows, enough output
// channels); the weight gradient gathers one row per (c, kh, kw) tap (gemm_gather_a). Otherwise
// im2col + GEMM per image; the input gradient is GEMM + col2im (AVX-512 gather form for stride 1);
// 1x1 stride-1 convolutions skip the column buffer entirely. On AVX-512, float32 layers run on a
// 6 x 64 register tile of this file's own (wide_gather_kernel): the gathered GEMMs (forward,
// weight gradient) with 48+ output channels, and the input gradient's GEMM when the output
// positions fill its 64-column panels.
#include "tensor/kernels/conv.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "tensor/kernels/gemm.h"
#include "tensor/kernels/kernels.h"
#include "tensor/parallel_for.h"

namespace nabla::kernels {
namespace {

// Below this many FLOPs a call runs on the calling thread: a parallel region costs microseconds.
constexpr int64_t kParallelFlops = int64_t{1} << 20;
// The weight gradient sums the batch in at most this many fixed chunks (computed in parallel,
// combined in index order). Fixed so the result never depends on the thread count.
constexpr int64_t kMaxWeightChunks = 8;
// Cap on the memory the weight-gradient partial sums may take.
constexpr int64_t kMaxPartialBytes = int64_t{32} << 20;

// Per-thread scratch, grown as needed and kept for the next call: a training step must not
// allocate (and page-fault) its column buffers every iteration. Tag separates independent buffers.
template <typename T, int Tag>
T* scratch(int64_t count) {
  thread_local std::vector<T> buffer;
  const auto size = static_cast<std::size_t>(count);
  if (buffer.size() < size) {
    buffer.resize(size);
  }
  return buffer.data();
}
constexpr int kColumnTag = 0;
constexpr int kPartialTag = 1;
constexpr int kBandTag = 2;
constexpr int kTransposeTag = 3;
constexpr int kReluTag = 4;
constexpr int kWideTag = 5;
// The implicit GEMM writes a band of output rows to a scratch buffer of about this size (so it
// stays in L2) before the valid columns are copied out with the bias.
constexpr int64_t kBandBytes = int64_t{128} << 10;

// The forward pass's output epilogue: the bias is already added; Relu applies relu as
// kernels::unary does (NaN stays NaN, -0 and negatives become +0), in the same pass.
template <bool Relu, typename T>
inline T epilogue(T v) {
  if constexpr (Relu) {
    return v > T(0) ? v : (v != v ? v : T(0));
  } else {
    return v;
  }
}

using detail::valid_range;
using detail::ValidRange;

// A 1x1, stride-1, unpadded convolution whose output has the input's size: the image itself is
// already the column matrix [C, H*W].
bool is_pointwise(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
         g.pad_top == 0 && g.pad_left == 0 && g.out_h == g.in_h && g.out_w == g.in_w;
}

int64_t column_rows(const Conv2dGeometry& g) { return g.in_channels * g.kernel_h * g.kernel_w; }

int64_t conv_flops(const Conv2dGeometry& g) {
  return 2 * g.batch * g.out_channels * column_rows(g) * g.out_h * g.out_w;
}

// col[(c, kh, kw), (oh, ow)] = image[c, ih, iw], zero where (ih, iw) falls in padding.
template <typename T>
void im2col(const Conv2dGeometry& g, const T* image, T* col) {
  const int64_t out_hw = g.out_h * g.out_w;
  T* row = col;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    const T* plane = image + c * g.in_h * g.in_w;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h_offset = kh * g.dilation_h - g.pad_top;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw, row += out_hw) {
        const int64_t w_offset = kw * g.dilation_w - g.pad_left;
        const ValidRange cols = valid_range(w_offset, g.stride_w, g.in_w, g.out_w);
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          T* dst = row + oh * g.out_w;
          const int64_t ih = oh * g.stride_h + h_offset;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(dst, dst + g.out_w, T(0));
            continue;
          }
          std::fill(dst, dst + cols.lo, T(0));
          // NOTE: index from the row start; forming src_row + w_offset could point before the
          // buffer, which is undefined behaviour even if never dereferenced.
          const T* src_row = plane + ih * g.in_w;
          if (g.stride_w == 1) {
            std::copy(src_row + cols.lo + w_offset, src_row + cols.hi + w_offset, dst + cols.lo);
          } else {
            for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
              dst[ow] = src_row[ow * g.stride_w + w_offset];
            }
          }
          std::fill(dst + cols.hi, dst + g.out_w, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: image[c, ih, iw] += col[(c, kh, kw), (oh, ow)]. Padding entries are
// dropped. The loop order is fixed, so the sums are deterministic.
template <typename T>
void col2im(const Conv2dGeometry& g, const T* col, T* image) {
  const int64_t out_hw = g.out_h * g.out_w;
  const T* row = col;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    T* plane = image + c * g.in_h * g.in_w;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t h_offset = kh * g.dilation_h - g.pad_top;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw, row += out_hw) {
        const int64_t w_offset = kw * g.dilation_w - g.pad_left;
        const ValidRange cols = valid_range(w_offset, g.stride_w, g.in_w, g.out_w);
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const int64_t ih = oh * g.stride_h + h_offset;
          if (ih < 0 || ih >= g.in_h) {
            continue;
          }
          const T* src = row + oh * g.out_w;
          T* dst_row = plane + ih * g.in_w;
          if (g.stride_w == 1) {
            // Contiguous: vectorized (index from the row start, as in im2col).
            for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
              dst_row[ow + w_offset] += src[ow];
            }
          } else {
            for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
              dst_row[ow * g.stride_w + w_offset] += src[ow];
            }
          }
        }
      }
    }
  }
}

#if defined(__x86_64__)
// col2im of a stride-1 convolution with AVX-512, in gather form: each vector of an image row sums
// its (kh, kw) terms in registers, each term an expand-load of the column row segment that lands
// there, and is stored once. (Adding column rows into the image instead, as col2im does, makes
// every vector load wait on the overlapping store before it: slower than scalar code.) Each
// element sums its terms in col2im's (kh, kw) order: the same bits.
template <typename T>
struct Zmm;
template <>
struct Zmm<float> {
  using V = __m512;
};
template <>
struct Zmm<double> {
  using V = __m512d;
};

// The lanes `bits` of col from index at (see col2im_unit_stride_avx512's shift). NOTE: at < 0
// (possible only at the very start of col) would form a pointer before the buffer: the
// expand-load of the same lanes reads from the segment's start instead.
template <typename T>
__attribute__((target("avx512f"))) inline typename Zmm<T>::V col2im_load(const T* col,
                                                                         unsigned bits,
                                                                         int64_t at) {
  const int64_t first = std::countr_zero(bits);
  if constexpr (std::is_same_v<T, float>) {
    const auto mask = static_cast<__mmask16>(bits);
    return at >= 0 ? _mm512_maskz_loadu_ps(mask, col + at)
                   : _mm512_maskz_expandloadu_ps(mask, col + at + first);
  } else {
    const auto mask = static_cast<__mmask8>(bits);
    return at >= 0 ? _mm512_maskz_loadu_pd(mask, col + at)
                   : _mm512_maskz_expandloadu_pd(mask, col + at + first);
  }
}

// The rows of channels [c0, c0 + U) of col2im_unit_stride_avx512's vector of columns at iw0.
template <typename T, int U>
__attribute__((target("avx512f"))) inline void col2im_channels_avx512(
    const Conv2dGeometry& g, const T* col, T* image, int64_t c0, int64_t iw0, const unsigned* bits,
    const int64_t* shift, unsigned store) {
  // Locals: read through g, every field would be reloaded after each store to image.
  const int64_t kernel_h = g.kernel_h;
  const int64_t kernel_w = g.kernel_w;
  const int64_t out_h = g.out_h;
  const int64_t out_w = g.out_w;
  const int64_t in_h = g.in_h;
  const int64_t in_w = g.in_w;
  const int64_t pad_top = g.pad_top;
  const int64_t dilation_h = g.dilation_h;
  const int64_t channel_stride = kernel_h * kernel_w * out_h * out_w;
  const int64_t row_stride = kernel_w * out_h * out_w;
  for (int64_t ih = 0; ih < in_h; ++ih) {
    typename Zmm<T>::V acc[U];
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      if constexpr (std::is_same_v<T, float>) {
        acc[u] = _mm512_setzero_ps();
      } else {
        acc[u] = _mm512_setzero_pd();
      }
    }
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      const int64_t oh = ih + pad_top - kh * dilation_h;
      if (oh < 0 || oh >= out_h) {
        continue;
      }
      const int64_t row = kh * row_stride + oh * out_w;
      for (int64_t kw = 0; kw < kernel_w; ++kw) {
        const unsigned lanes = bits[kw];
        if (lanes == 0U) {
          continue;
        }
        const int64_t at = row + shift[kw];
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) {
          // NOTE: indexed from col: at_u < 0 (only near channel 0) takes the expand-load.
          const int64_t at_u = at + (c0 + u) * channel_stride;
          if constexpr (std::is_same_v<T, float>) {
            acc[u] = _mm512_add_ps(acc[u], col2im_load(col, lanes, at_u));
          } else {
            acc[u] = _mm512_add_pd(acc[u], col2im_load(col, lanes, at_u));
          }
        }
      }
    }
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      T* dst = image + ((c0 + u) * in_h + ih) * in_w + iw0;
      if constexpr (std::is_same_v<T, float>) {
        _mm512_mask_storeu_ps(dst, static_cast<__mmask16>(store), acc[u]);
      } else {
        _mm512_mask_storeu_pd(dst, static_cast<__mmask8>(store), acc[u]);
      }
    }
  }
}

template <typename T>
__attribute__((target("avx512f"))) void col2im_unit_stride_avx512(const Conv2dGeometry& g,
                                                                  const T* col, T* image) {
  constexpr int64_t kLanes = 64 / sizeof(T);
  const int64_t out_hw = g.out_h * g.out_w;
  // Per kw, for the current vector of columns: the lanes its column-row segment fills (an
  // expand-load mask) and where that segment starts in its row; both independent of c and ih.
  std::vector<unsigned> bits(static_cast<std::size_t>(g.kernel_w));
  std::vector<int64_t> shift(static_cast<std::size_t>(g.kernel_w));
  for (int64_t iw0 = 0; iw0 < g.in_w; iw0 += kLanes) {
    const int64_t width = std::min(kLanes, g.in_w - iw0);
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t w_offset = kw * g.dilation_w - g.pad_left;
      const int64_t lo = std::max(iw0, w_offset);
      const int64_t hi = std::min(iw0 + width, g.out_w + w_offset);
      const auto k = static_cast<std::size_t>(kw);
      bits[k] = lo < hi ? ((1U << (hi - lo)) - 1U) << (lo - iw0) : 0U;
      // Where lane 0 would load from: the segment's lanes are contiguous, so a masked load at
      // shift - (lo - iw0) reads what the expand-load reads (one load uop instead of two).
      shift[k] = lo < hi ? kw * out_hw + (lo - w_offset) - (lo - iw0) : 0;
    }
    const auto store = static_cast<unsigned>((1U << width) - 1U);
    // Four channels at once: each vector's sum is a chain of dependent adds (one per (kh, kw)),
    // so independent chains in flight hide the add latency.
    int64_t c0 = 0;
    for (; c0 + 4 <= g.in_channels; c0 += 4) {
      col2im_channels_avx512<T, 4>(g, col, image, c0, iw0, bits.data(), shift.data(), store);
    }
    for (; c0 < g.in_channels; ++c0) {
      col2im_channels_avx512<T, 1>(g, col, image, c0, iw0, bits.data(), shift.data(), store);
    }
  }
}

// AVX-512 unless the CPU lacks it or NABLA_GEMM_ISA forces a narrower path (as for the GEMM);
// col2im and the relu gradient's pass.
bool use_avx512_col2im() {
  static const bool kUse = [] {
    __builtin_cpu_init();
    const char* force = std::getenv("NABLA_GEMM_ISA");
    return __builtin_cpu_supports("avx512f") && force == nullptr;
  }();
  return kUse;
}
#endif

// image = col2im(col), every element written (no zero fill needed first).
template <typename T>
void col2im_fast(const Conv2dGeometry& g, const T* col, T* image) {
#if defined(__x86_64__)
  if (g.stride_h == 1 && g.stride_w == 1 && use_avx512_col2im()) {
    col2im_unit_stride_avx512(g, col, image);
    return;
  }
#endif
  std::fill(image, image + g.in_channels * g.in_h * g.in_w, T(0));
  col2im(g, col, image);
}

// A stride-1 convolution as an implicit GEMM (gemm_offset_b) over a zero-padded copy of its
// source: out[i, r, s] = sum_p a[i, p] * padded[offsets[p] + r * pad_w + s]. Computing the
// columns s in [out_w, pad_w) of each row too (then dropping them) makes the B rows contiguous
// windows of the padded planes, so nothing is gathered or packed. The forward pass (source: the
// image) and the input gradient (source: the output gradient, weight transposed and flipped) both
// have this form.
struct DirectConv {
  int64_t planes, src_h, src_w;  // the source [planes, src_h, src_w]
  int64_t row0, col0;            // padded[r][s] = source[r + row0][s + col0], zero outside it
  int64_t pad_h, pad_w;          // the padded planes
  int64_t out_h, out_w;          // the result [m, out_h, out_w]
  int64_t span_w;                // (kernel_w - 1) * dilation_w: how far a B row reaches right
  std::vector<int64_t> offsets;  // reduction index (plane, kh, kw) -> start of its B row

  // The padded planes plus the slack gemm_offset_b reads past the last B row.
  [[nodiscard]] int64_t padded_size() const {
    return planes * pad_h * pad_w + span_w + kGemmOffsetSlack;
  }
};

// With strides (s_h, s_w) the padded planes hold the rows and columns the windows reach.
DirectConv make_direct(int64_t planes, int64_t src_h, int64_t src_w, int64_t row0, int64_t col0,
                       int64_t out_h, int64_t out_w, const Conv2dGeometry& g, int64_t s_h = 1,
                       int64_t s_w = 1) {
  DirectConv d{.planes = planes,
               .src_h = src_h,
               .src_w = src_w,
               .row0 = row0,
               .col0 = col0,
               .pad_h = std::max<int64_t>(out_h - 1, 0) * s_h + (g.kernel_h - 1) * g.dilation_h + 1,
               .pad_w = std::max<int64_t>(out_w - 1, 0) * s_w + (g.kernel_w - 1) * g.dilation_w + 1,
               .out_h = out_h,
               .out_w = out_w,
               .span_w = (g.kernel_w - 1) * g.dilation_w,
               .offsets = {}};
  d.offsets.reserve(static_cast<std::size_t>(planes * g.kernel_h * g.kernel_w));
  for (int64_t c = 0; c < planes; ++c) {
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        d.offsets.push_back((c * d.pad_h + kh * g.dilation_h) * d.pad_w + kw * g.dilation_w);
      }
    }
  }
  return d;
}

// The forward pass: the image, padded by (pad_top, pad_left) and cut to the rows/columns read.
DirectConv forward_direct(const Conv2dGeometry& g) {
  return make_direct(g.in_channels, g.in_h, g.in_w, -g.pad_top, -g.pad_left, g.out_h, g.out_w, g);
}

// The weight gradient's source: the image padded as in the forward pass, any stride.
DirectConv weight_grad_direct(const Conv2dGeometry& g) {
  return make_direct(g.in_channels, g.in_h, g.in_w, -g.pad_top, -g.pad_left, g.out_h, g.out_w, g,
                     g.stride_h, g.stride_w);
}

// Whether the row-window implicit GEMM (gemm_offset_b) pays for a forward pass: stride 1 and at
// most a tenth of its computed columns dropped (wide images: the CNNs' first layers).
bool direct_pays(const Conv2dGeometry& g) {
  const int64_t pad_w = g.out_w + (g.kernel_w - 1) * g.dilation_w;
  return g.stride_h == 1 && g.stride_w == 1 && g.out_w > 0 && 10 * g.out_w >= 9 * pad_w;
}

// Whether the gathered implicit GEMM (gemm_gather_a, one row per output position, one column per
// output channel) pays: its 32-column tiles must be at least 3/4 full.
bool gather_pays(int64_t channels) {
  constexpr int64_t kTile = 32;
  return channels > 0 && 4 * channels >= 3 * ((channels + kTile - 1) / kTile * kTile);
}

// How many images one gathered GEMM takes: enough rows to fill its tiles, few enough that the
// padded images and the product stay in L2. Depends only on the geometry.
int64_t gather_group(const DirectConv& d, int64_t channels, int64_t batch) {
  const int64_t per_image = std::max(d.planes * d.pad_h * d.pad_w, d.out_h * d.out_w * channels);
  return std::clamp<int64_t>((kBandBytes / 4) / std::max<int64_t>(per_image, 1), 1,
                             std::max<int64_t>(batch, 1));
}

#if defined(__x86_64__)
// The wide tile: the gathered implicit GEMMs of float32 convolutions with 48+ output channels
// (the small CNN's second layer) run on their own 6 x 64 AVX-512 register tile instead of
// gemm_gather_a's 12 x 32. Six gathered rows need six row pointers (twelve do not fit the
// general registers: the loop spilled three, ~15% of its time) and each broadcast feeds four
// FMAs instead of two. B is packed once into 64-column panels, k-major.
constexpr int kWideRows = 6;
constexpr int64_t kWideCols = 64;
// K block: a 128 x 64 panel (32 KiB) stays in L1/L2 while every row tile passes over it.
constexpr int64_t kWideStep = 128;
// The weight gradient's sub-groups of images: their padded copies and packed gradients together
// take at most about this much (L2).
constexpr int64_t kWideSubBytes = int64_t{512} << 10;
// The input gradient takes the wide tile up to this many output positions per image (its packed
// output gradient then stays in L2).
constexpr int64_t kWideMaxPositions = 2048;

// Whether the wide tile takes a product with `channels` columns: float32 on an AVX-512 machine
// (not forced narrower), its 64-column panels computing no more padding columns than 32-column
// ones would (48 columns: 64 either way) or at least 7/8 full. (96 columns stay on 32-column
// tiles: two 64-column panels would waste a quarter.)
bool wide_tile_pays(int64_t channels) {
  const int64_t wide = (channels + kWideCols - 1) / kWideCols * kWideCols;
  const int64_t narrow = (channels + 31) / 32 * 32;
  return channels > 0 && (wide == narrow || 8 * channels >= 7 * wide) && use_avx512_col2im();
}

// c[i, j] = (load_c ? c[i, j] : 0) + sum_{p < kc} a_rows[i][k_offsets[p]] * bp[p * 64 + j] for
// i < mr, j < nr, each element one fixed-order fma chain over p. Rows past mr read row 0 and are
// never stored.
__attribute__((target("avx512f"))) void wide_gather_kernel(int64_t kc, const float* const* a_rows,
                                                           const int64_t* k_offsets,
                                                           const float* bp, float* c, int64_t ldc,
                                                           int64_t mr, int64_t nr, bool load_c) {
  __m512 acc[kWideRows][4];
#pragma GCC unroll 8
  for (auto& row : acc) {
#pragma GCC unroll 4
    for (auto& v : row) {
      v = _mm512_setzero_ps();
    }
  }
  const float* r0 = a_rows[0];
  const float* r1 = a_rows[1];
  const float* r2 = a_rows[2];
  const float* r3 = a_rows[3];
  const float* r4 = a_rows[4];
  const float* r5 = a_rows[5];
  for (int64_t p = 0; p < kc; ++p, bp += kWideCols) {
    const int64_t off = k_offsets[p];
    const __m512 b0 = _mm512_loadu_ps(bp);
    const __m512 b1 = _mm512_loadu_ps(bp + 16);
    const __m512 b2 = _mm512_loadu_ps(bp + 32);
    const __m512 b3 = _mm512_loadu_ps(bp + 48);
    const float* rows[kWideRows] = {r0, r1, r2, r3, r4, r5};
#pragma GCC unroll 8
    for (int i = 0; i < kWideRows; ++i) {
      const __m512 a = _mm512_set1_ps(rows[i][off]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(a, b2, acc[i][2]);
      acc[i][3] = _mm512_fmadd_ps(a, b3, acc[i][3]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kWideRows; ++i) {
    if (i >= mr) {
      break;
    }
    float* crow = c + i * ldc;
#pragma GCC unroll 4
    for (int64_t v = 0; v < 4; ++v) {
      const int64_t left = nr - v * 16;
      if (left <= 0) {
        break;
      }
      const auto lanes =
          static_cast<__mmask16>(left >= 16 ? 0xFFFFU : (1U << static_cast<unsigned>(left)) - 1U);
      __m512 r = acc[i][v];
      if (load_c) {
        r = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, crow + v * 16), r);
      }
      _mm512_mask_storeu_ps(crow + v * 16, lanes, r);
    }
  }
}

// Packs rows [0, count) of B = bt^T (bt: n x count, row stride ldbt) as rows [first, first +
// count) of the wide panels of a B with `total` rows: panels[(panel * total + p) * 64 + jj] =
// bt[(panel * 64 + jj) * ldbt + p - first], zero for columns >= n.
// The same with AVX-512 gathers, 16 columns at a time (the scalar transpose's strided stores
// took 14% of the small CNN's weight gradient). Needs 16 * ldbt to fit an int32 index.
__attribute__((target("avx512f"))) void pack_wide_avx512(const float* bt, int64_t ldbt, int64_t n,
                                                         int64_t count, float* panels,
                                                         int64_t total, int64_t first) {
  const __m512i index =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int32_t>(ldbt)));
  const __m512 zero = _mm512_setzero_ps();
  const int64_t panel_count = (n + kWideCols - 1) / kWideCols;
  for (int64_t panel = 0; panel < panel_count; ++panel) {
    for (int64_t v = 0; v < kWideCols / 16; ++v) {
      const int64_t j0 = panel * kWideCols + v * 16;
      const int64_t left = n - j0;
      const auto lanes = static_cast<__mmask16>(
          left >= 16 ? 0xFFFFU : (left > 0 ? (1U << static_cast<unsigned>(left)) - 1U : 0U));
      const float* src = left > 0 ? bt + j0 * ldbt : bt;
      float* dst = panels + (panel * total + first) * kWideCols + v * 16;
      for (int64_t p = 0; p < count; ++p) {
        _mm512_storeu_ps(dst + p * kWideCols,
                         _mm512_mask_i32gather_ps(zero, lanes, index, src + p, 4));
      }
    }
  }
}

void pack_wide(const float* bt, int64_t ldbt, int64_t n, int64_t count, float* panels,
               int64_t total, int64_t first) {
  if (16 * ldbt <= std::numeric_limits<int32_t>::max()) {
    pack_wide_avx512(bt, ldbt, n, count, panels, total, first);
    return;
  }
  const int64_t panel_count = (n + kWideCols - 1) / kWideCols;
  for (int64_t panel = 0; panel < panel_count; ++panel) {
    float* dst = panels + (panel * total + first) * kWideCols;
    for (int64_t jj = 0; jj < kWideCols; ++jj) {
      const int64_t j = panel * kWideCols + jj;
      if (j >= n) {
        for (int64_t p = 0; p < count; ++p) {
          dst[p * kWideCols + jj] = 0.0F;
        }
        continue;
      }
      const float* src = bt + j * ldbt;
      for (int64_t p = 0; p < count; ++p) {
        dst[p * kWideCols + jj] = src[p];
      }
    }
  }
}

// Packs B itself (k x n row-major, row stride ldb) into the wide panels: panels[(panel * k + p)
// * 64 + jj] = b[p * ldb + panel * 64 + jj], zero for columns >= n.
__attribute__((target("avx512f"))) void pack_wide_rows(const float* b, int64_t ldb, int64_t k,
                                                       int64_t n, float* panels) {
  const int64_t panel_count = (n + kWideCols - 1) / kWideCols;
  for (int64_t panel = 0; panel < panel_count; ++panel) {
    const int64_t j0 = panel * kWideCols;
    __mmask16 lanes[kWideCols / 16];
    for (int64_t v = 0; v < kWideCols / 16; ++v) {
      const int64_t left = n - j0 - v * 16;
      lanes[v] = static_cast<__mmask16>(
          left >= 16 ? 0xFFFFU : (left > 0 ? (1U << static_cast<unsigned>(left)) - 1U : 0U));
    }
    for (int64_t p = 0; p < k; ++p) {
      const float* src = b + p * ldb + j0;
      float* dst = panels + (panel * k + p) * kWideCols;
#pragma GCC unroll 4
      for (int64_t v = 0; v < kWideCols / 16; ++v) {
        // Masked: lanes past n are not read and get zero (NOTE: no pointer is formed for a
        // vector wholly past n, which could lie beyond the buffer).
        _mm512_storeu_ps(dst + v * 16, lanes[v] == 0
                                           ? _mm512_setzero_ps()
                                           : _mm512_maskz_loadu_ps(lanes[v], src + v * 16));
      }
    }
  }
}

// The floats pack_wide's panels take for n columns and k rows.
int64_t wide_panel_size(int64_t n, int64_t k) {
  return (n + kWideCols - 1) / kWideCols * kWideCols * k;
}

// c[i, j] (+)= sum_{p < k} a[a_offsets[i] + k_offsets[p]] * B[p, j] for i < m, j < n, B packed
// by pack_wide (k rows), C row-major (row stride ldc). K is cut into blocks that depend on k
// alone and C accumulates block after block: every element is one fixed-order sum.
void wide_gather_gemm(int64_t m, int64_t n, int64_t k, const float* a, const int64_t* a_offsets,
                      const int64_t* k_offsets, const float* panels, float* c, int64_t ldc,
                      bool accumulate) {
  if (m <= 0 || n <= 0) {
    return;
  }
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) {
        std::fill(c + i * ldc, c + i * ldc + n, 0.0F);
      }
    }
    return;
  }
  const int64_t blocks = (k + kWideStep - 1) / kWideStep;
  const int64_t kc_max = (k + blocks - 1) / blocks;
  const int64_t panel_count = (n + kWideCols - 1) / kWideCols;
  for (int64_t pc = 0; pc < k; pc += kc_max) {
    const int64_t kc = std::min(kc_max, k - pc);
    const bool load_c = accumulate || pc > 0;
    for (int64_t panel = 0; panel < panel_count; ++panel) {
      const int64_t j0 = panel * kWideCols;
      const int64_t nr = std::min(kWideCols, n - j0);
      const float* bp = panels + (panel * k + pc) * kWideCols;
      for (int64_t ir = 0; ir < m; ir += kWideRows) {
        const int64_t mr = std::min<int64_t>(kWideRows, m - ir);
        const float* rows[kWideRows];
        for (int64_t i = 0; i < kWideRows; ++i) {
          rows[i] = a + a_offsets[ir + (i < mr ? i : 0)];
        }
        wide_gather_kernel(kc, rows, k_offsets + pc, bp, c + ir * ldc + j0, ldc, mr, nr, load_c);
      }
    }
  }
}
#endif

// Writes the padded planes of one source image to dst, then (with_slack) the zeros that
// gemm_offset_b may read past them.
template <typename T>
void pad_source(const DirectConv& d, const T* src, T* dst, bool with_slack = true) {
  const int64_t lo = std::clamp<int64_t>(-d.col0, 0, d.pad_w);
  const int64_t hi = std::clamp<int64_t>(d.src_w - d.col0, lo, d.pad_w);
  if (lo == 0 && hi == d.pad_w && d.col0 == 0 && d.src_w == d.pad_w) {
    // No column padding: the valid rows of a plane are one contiguous run on both sides (one
    // copy per plane, not one short memcpy call per row).
    const int64_t r_lo = std::clamp<int64_t>(-d.row0, 0, d.pad_h);
    const int64_t r_hi = std::clamp<int64_t>(d.src_h - d.row0, r_lo, d.pad_h);
    for (int64_t plane = 0; plane < d.planes; ++plane) {
      T* out = dst + plane * d.pad_h * d.pad_w;
      std::fill(out, out + r_lo * d.pad_w, T(0));
      if (r_hi > r_lo) {
        std::memcpy(out + r_lo * d.pad_w, src + (plane * d.src_h + r_lo + d.row0) * d.src_w,
                    static_cast<std::size_t>((r_hi - r_lo) * d.pad_w) * sizeof(T));
      }
      std::fill(out + r_hi * d.pad_w, out + d.pad_h * d.pad_w, T(0));
    }
  } else {
    for (int64_t plane = 0; plane < d.planes; ++plane) {
      const T* src_plane = src + plane * d.src_h * d.src_w;
      for (int64_t r = 0; r < d.pad_h; ++r) {
        T* row = dst + (plane * d.pad_h + r) * d.pad_w;
        const int64_t sr = r + d.row0;
        if (sr < 0 || sr >= d.src_h) {
          std::fill(row, row + d.pad_w, T(0));
          continue;
        }
        std::fill(row, row + lo, T(0));
        if (hi > lo) {
          std::memcpy(row + lo, src_plane + sr * d.src_w + lo + d.col0,
                      static_cast<std::size_t>(hi - lo) * sizeof(T));
        }
        std::fill(row + hi, row + d.pad_w, T(0));
      }
    }
  }
  if (with_slack) {
    T* slack = dst + d.planes * d.pad_h * d.pad_w;
    std::fill(slack, slack + d.span_w + kGemmOffsetSlack, T(0));
  }
}

#if defined(__x86_64__)
// to[r][s] = epilogue<Relu>(from[r][s] + b) for rows x cols, 16 columns a vector (masked at the
// row's end): the row-window GEMM's rows are too short (26 in the small CNN) for the baseline
// build's 4-wide loop. The same operations, so the same bits.
template <bool Relu>
__attribute__((target("avx512f"))) void epilogue_rows_avx512(const float* from, int64_t from_stride,
                                                             float* to, int64_t to_stride,
                                                             int64_t rows, int64_t cols, float b) {
  const __m512 bias = _mm512_set1_ps(b);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t s = 0; s < cols; s += 16) {
      const auto lanes = static_cast<__mmask16>(
          (1U << static_cast<unsigned>(std::min<int64_t>(16, cols - s))) - 1U);
      __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, from + r * from_stride + s), bias);
      if constexpr (Relu) {
        // Kept where v > 0 or v is NaN (not-less-or-equal, unordered): relu as epilogue has it.
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLE_UQ), v);
      }
      _mm512_mask_storeu_ps(to + r * to_stride + s, lanes, v);
    }
  }
}
#endif

// out[i, :, :] (m x out_h x out_w) = the convolution of one source image, plus bias[i] if given.
template <bool Relu, typename T>
void direct_image(const DirectConv& d, int64_t m, const T* a, const T* src, const T* bias, T* out) {
  const auto k = static_cast<int64_t>(d.offsets.size());
  T* padded = scratch<T, kColumnTag>(d.padded_size());
  pad_source(d, src, padded);
  const int64_t band_elements = kBandBytes / static_cast<int64_t>(sizeof(T));
  const int64_t band = std::clamp<int64_t>(band_elements / std::max<int64_t>(m * d.pad_w, 1), 1,
                                           std::max<int64_t>(d.out_h, 1));
  T* tmp = scratch<T, kBandTag>(m * band * d.pad_w);
  const int64_t out_hw = d.out_h * d.out_w;
  for (int64_t r0 = 0; r0 < d.out_h; r0 += band) {
    const int64_t rows = std::min(band, d.out_h - r0);
    const int64_t cols = rows * d.pad_w;
    gemm_offset_b(m, cols, k, a, k, padded + r0 * d.pad_w, d.offsets.data(), tmp, cols);
    for (int64_t i = 0; i < m; ++i) {
      const T b = bias != nullptr ? bias[i] : T(0);
#if defined(__x86_64__)
      if constexpr (std::is_same_v<T, float>) {
        if (use_avx512_col2im()) {
          epilogue_rows_avx512<Relu>(tmp + i * cols, d.pad_w, out + i * out_hw + r0 * d.out_w,
                                     d.out_w, rows, d.out_w, b);
          continue;
        }
      }
#endif
      for (int64_t r = 0; r < rows; ++r) {
        const T* from = tmp + i * cols + r * d.pad_w;
        T* to = out + i * out_hw + (r0 + r) * d.out_w;
        for (int64_t s = 0; s < d.out_w; ++s) {
          to[s] = epilogue<Relu>(from[s] + b);
        }
      }
    }
  }
}

#if defined(__x86_64__)
// to[oc, pos] = epilogue<Relu>(from[pos, oc] + bias[oc]) (bias may be null: + 0), 16 positions a
// vector gathered down a column of from (the scalar loop reads one strided element at a time).
// The same operations, so the same bits.
template <bool Relu>
__attribute__((target("avx512f"))) void transpose_epilogue_avx512(const float* from,
                                                                  int64_t positions,
                                                                  int64_t channels,
                                                                  const float* bias, float* to) {
  const __m512i index =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int32_t>(channels)));
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t oc = 0; oc < channels; ++oc) {
    const __m512 b = _mm512_set1_ps(bias != nullptr ? bias[oc] : 0.0F);
    float* plane = to + oc * positions;
    for (int64_t pos = 0; pos < positions; pos += 16) {
      const auto lanes = static_cast<__mmask16>(
          (1U << static_cast<unsigned>(std::min<int64_t>(16, positions - pos))) - 1U);
      __m512 v = _mm512_mask_i32gather_ps(zero, lanes, index, from + pos * channels + oc, 4);
      v = _mm512_add_ps(v, b);
      if constexpr (Relu) {
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLE_UQ), v);
      }
      _mm512_mask_storeu_ps(plane + pos, lanes, v);
    }
  }
}
#endif

// out[n, i, pos] = bias[i] + sum_p bt[i, p] * padded_n[pos window + d.offsets[p]] for every
// source image, `group` images per gemm_gather_a (the product, [positions, out_channels], is
// transposed into NCHW with the bias). Strides (s_h, s_w) space the output positions.
template <bool Relu, typename T>
void gather_conv(const DirectConv& d, int64_t batch, int64_t group, int64_t s_h, int64_t s_w,
                 const T* src, int64_t src_image, int64_t out_channels, const T* bt, const T* bias,
                 T* out, bool parallel) {
  const int64_t out_hw = d.out_h * d.out_w;
  const int64_t padded_image = d.planes * d.pad_h * d.pad_w;
  const auto k = static_cast<int64_t>(d.offsets.size());
  std::vector<int64_t> positions(static_cast<std::size_t>(group * out_hw));
  for (int64_t i = 0; i < group; ++i) {
    for (int64_t r = 0; r < d.out_h; ++r) {
      for (int64_t c = 0; c < d.out_w; ++c) {
        positions[static_cast<std::size_t>((i * d.out_h + r) * d.out_w + c)] =
            i * padded_image + r * s_h * d.pad_w + c * s_w;
      }
    }
  }
  const int64_t groups = (batch + group - 1) / group;
  // The wide tile's panels of the weight, packed once here (read by every thread).
  const float* wide = nullptr;
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (wide_tile_pays(out_channels)) {
      auto* panels = scratch<float, kWideTag>(wide_panel_size(out_channels, k));
      pack_wide(bt, k, out_channels, k, panels, k, 0);
      wide = panels;
    }
  }
#endif
  for_each_image(groups, parallel, [&](int64_t gi) {
    const int64_t first = gi * group;
    const int64_t count = std::min(group, batch - first);
    T* padded = scratch<T, kColumnTag>(count * padded_image);
    T* product = scratch<T, kTransposeTag>(count * out_hw * out_channels);
    for (int64_t i = 0; i < count; ++i) {
      pad_source(d, src + (first + i) * src_image, padded + i * padded_image,
                 /*with_slack=*/false);
    }
#if defined(__x86_64__)
    if constexpr (std::is_same_v<T, float>) {
      if (wide != nullptr) {
        wide_gather_gemm(count * out_hw, out_channels, k, padded, positions.data(),
                         d.offsets.data(), wide, product, out_channels, false);
      }
    }
#endif
    if (!std::is_same_v<T, float> || wide == nullptr) {
      gemm_gather_a(count * out_hw, out_channels, k, padded, positions.data(), d.offsets.data(), bt,
                    k, product, out_channels, false);
    }
    for (int64_t i = 0; i < count; ++i) {
      const T* from = product + i * out_hw * out_channels;
      T* to = out + (first + i) * out_channels * out_hw;
#if defined(__x86_64__)
      if constexpr (std::is_same_v<T, float>) {
        if (out_channels * 16 <= std::numeric_limits<int32_t>::max() && use_avx512_col2im()) {
          transpose_epilogue_avx512<Relu>(from, out_hw, out_channels, bias, to);
          continue;
        }
      }
#endif
      for (int64_t oc = 0; oc < out_channels; ++oc) {
        const T b = bias != nullptr ? bias[oc] : T(0);
        T* plane = to + oc * out_hw;
        for (int64_t pos = 0; pos < out_hw; ++pos) {
          plane[pos] = epilogue<Relu>(from[pos * out_channels + oc] + b);
        }
      }
    }
  });
}

// Runs body(n) for every image, spread over threads only when the call is large. Each image is
// independent, so the result does not depend on how images are spread.
template <typename Body>
void for_each_image(int64_t batch, bool parallel, const Body& body) {
  if (parallel && batch > 1) {
    parallel_for(batch, body);
  } else {
    for (int64_t n = 0; n < batch; ++n) {
      body(n);
    }
  }
}

void check_geometry(const Conv2dGeometry& g) {
  assert(g.batch >= 0 && g.in_channels >= 0 && g.in_h >= 0 && g.in_w >= 0);
  assert(g.out_channels >= 0 && g.kernel_h >= 1 && g.kernel_w >= 1);
  assert(g.stride_h >= 1 && g.stride_w >= 1 && g.dilation_h >= 1 && g.dilation_w >= 1);
  assert(g.pad_top >= 0 && g.pad_left >= 0 && g.out_h >= 0 && g.out_w >= 0);
  static_cast<void>(g);
}

template <bool Relu, typename T>
void forward_impl(const Conv2dGeometry& g, const T* input, const T* weight, const T* bias,
                  T* output) {
  check_geometry(g);
  const int64_t rows = column_rows(g);
  const int64_t out_hw = g.out_h * g.out_w;
  const int64_t in_image = g.in_channels * g.in_h * g.in_w;
  const int64_t out_image = g.out_channels * out_hw;
  const bool pointwise = is_pointwise(g);
  const bool parallel = conv_flops(g) >= kParallelFlops;
  if (!pointwise && direct_pays(g)) {
    const DirectConv d = forward_direct(g);
    for_each_image(g.batch, parallel, [&](int64_t n) {
      direct_image<Relu>(d, g.out_channels, weight, input + n * in_image, bias,
                         output + n * out_image);
    });
    return;
  }
  if (!pointwise && gather_pays(g.out_channels)) {
    const DirectConv d = weight_grad_direct(g);
    gather_conv<Relu>(d, g.batch, gather_group(d, g.out_channels, g.batch), g.stride_h, g.stride_w,
                      input, in_image, g.out_channels, weight, bias, output, parallel);
    return;
  }
  for_each_image(g.batch, conv_flops(g) >= kParallelFlops, [&](int64_t n) {
    const T* image = input + n * in_image;
    T* out = output + n * out_image;
    const T* col = image;
    if (!pointwise) {
      T* buffer = scratch<T, kColumnTag>(rows * out_hw);
      im2col(g, image, buffer);
      col = buffer;
    }
    // out[OC, OH*OW] = weight[OC, C*KH*KW] * col[C*KH*KW, OH*OW], then the bias is added
    // while the image's output is still in cache.
    gemm(false, false, g.out_channels, out_hw, rows, T(1), weight, rows, col, out_hw, T(0), out,
         out_hw);
    if (bias != nullptr || Relu) {
      for (int64_t oc = 0; oc < g.out_channels; ++oc) {
        T* plane = out + oc * out_hw;
        const T b = bias != nullptr ? bias[oc] : T(0);
        for (int64_t i = 0; i < out_hw; ++i) {
          plane[i] = epilogue<Relu>(plane[i] + b);
        }
      }
    }
  });
}

template <typename T>
void backward_input_impl(const Conv2dGeometry& g, const T* grad_output, const T* weight,
                         T* grad_input) {
  check_geometry(g);
  const int64_t rows = column_rows(g);
  const int64_t out_hw = g.out_h * g.out_w;
  const int64_t in_image = g.in_channels * g.in_h * g.in_w;
  const int64_t out_image = g.out_channels * out_hw;
  const bool pointwise = is_pointwise(g);
  // The wide tile (float32 on AVX-512) when its 64-position panels are at least 3/4 full, the
  // image's panels stay in L2 and the reduction (output channels) is long enough to pay for a
  // tile's store; each element is then one fma chain over the output channels, as in the GEMM.
  [[maybe_unused]] bool wide = false;
  [[maybe_unused]] std::vector<int64_t> tap_rows;
  [[maybe_unused]] std::vector<int64_t> oc_offsets;
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    wide =
        !pointwise && g.out_channels >= 16 && out_hw <= kWideMaxPositions && wide_tile_pays(out_hw);
  }
  if (wide) {
    tap_rows.resize(static_cast<std::size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      tap_rows[static_cast<std::size_t>(r)] = r;
    }
    oc_offsets.resize(static_cast<std::size_t>(g.out_channels));
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      oc_offsets[static_cast<std::size_t>(oc)] = oc * rows;
    }
  }
#endif
  for_each_image(g.batch, conv_flops(g) >= kParallelFlops, [&](int64_t n) {
    const T* grad_out = grad_output + n * out_image;
    T* grad_in = grad_input + n * in_image;
    // col[C*KH*KW, OH*OW] = weight^T * grad_out[OC, OH*OW]; the transpose is done by the GEMM.
    if (pointwise) {
      gemm(true, false, rows, out_hw, g.out_channels, T(1), weight, rows, grad_out, out_hw, T(0),
           grad_in, out_hw);
      return;
    }
    T* col = scratch<T, kColumnTag>(rows * out_hw);
#if defined(__x86_64__)
    if constexpr (std::is_same_v<T, float>) {
      if (wide) {
        // col = weight^T * grad_out on the wide tile: A gathered straight from the weight
        // (element (r, oc) at weight[oc * rows + r]), grad_out packed into 64-position panels.
        auto* panels = scratch<float, kWideTag>(wide_panel_size(out_hw, g.out_channels));
        pack_wide_rows(grad_out, out_hw, g.out_channels, out_hw, panels);
        wide_gather_gemm(rows, out_hw, g.out_channels, weight, tap_rows.data(), oc_offsets.data(),
                         panels, col, out_hw, false);
        col2im_fast(g, col, grad_in);
        return;
      }
    }
#endif
    gemm(true, false, rows, out_hw, g.out_channels, T(1), weight, rows, grad_out, out_hw, T(0), col,
         out_hw);
    col2im_fast(g, col, grad_in);
  });
}

// grad_image(n) gives image n's output gradient [OC, OH*OW] (the stored one, or one computed
// into per-thread scratch just before its GEMM reads it).
template <typename T, typename GradImage>
void backward_weight_impl(const Conv2dGeometry& g, const GradImage& grad_image, const T* input,
                          T* grad_weight) {
  check_geometry(g);
  const int64_t rows = column_rows(g);
  const int64_t out_hw = g.out_h * g.out_w;
  const int64_t in_image = g.in_channels * g.in_h * g.in_w;
  const int64_t weight_size = g.out_channels * rows;
  if (g.batch == 0 || weight_size == 0) {
    std::fill(grad_weight, grad_weight + weight_size, T(0));
    return;
  }

  // The chunking depends only on the geometry, never on the thread count, and the serial and
  // parallel paths perform the same additions in the same order.
  int64_t chunks = std::min(g.batch, kMaxWeightChunks);
  const auto weight_bytes = weight_size * static_cast<int64_t>(sizeof(T));
  while (chunks > 1 && (chunks - 1) * weight_bytes > kMaxPartialBytes) {
    --chunks;
  }

  // Writes the sum over the chunk's images of grad_out[OC, OH*OW] * col^T into dst[OC, C*KH*KW],
  // col never materialised: gemm_gather_a reads row (c, kh, kw) of col as the window of the
  // padded image it is, and the product is formed transposed, [C*KH*KW, OC], then transposed.
  const DirectConv d = weight_grad_direct(g);
  std::vector<int64_t> positions(static_cast<std::size_t>(out_hw));
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      positions[static_cast<std::size_t>(oh * g.out_w + ow)] =
          oh * g.stride_h * d.pad_w + ow * g.stride_w;
    }
  }
  // Each chunk's sum is written transposed, [C*KH*KW, OC], as gemm_gather_a forms it; chunks
  // are combined in that layout and grad_weight is transposed once at the end.
  //
  // With the wide tile (float32, 48+ output channels) the images of a chunk go in sub-groups
  // of `sub` (fixed by the geometry): their padded copies side by side and their gradients
  // packed as one B, the reduction running over (image, position) of the sub-group at once.
  [[maybe_unused]] bool wide = false;
  [[maybe_unused]] int64_t sub = 1;
  [[maybe_unused]] std::vector<int64_t> sub_positions;
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    wide = wide_tile_pays(g.out_channels);
  }
  if (wide) {
    const int64_t padded_image = d.planes * d.pad_h * d.pad_w;
    const int64_t per_image = padded_image + wide_panel_size(g.out_channels, out_hw);
    sub = std::clamp<int64_t>(
        kWideSubBytes / static_cast<int64_t>(sizeof(T)) / std::max<int64_t>(per_image, 1), 1,
        std::max<int64_t>((g.batch + chunks - 1) / chunks, 1));
    sub_positions.resize(static_cast<std::size_t>(sub * out_hw));
    for (int64_t i = 0; i < sub; ++i) {
      for (int64_t q = 0; q < out_hw; ++q) {
        sub_positions[static_cast<std::size_t>(i * out_hw + q)] =
            i * padded_image + positions[static_cast<std::size_t>(q)];
      }
    }
  }
#endif
  auto chunk_sum = [&](int64_t chunk, T* dst) {
    const int64_t first = chunk * g.batch / chunks;
    const int64_t last = (chunk + 1) * g.batch / chunks;
#if defined(__x86_64__)
    if constexpr (std::is_same_v<T, float>) {
      if (wide) {
        const int64_t padded_image = d.planes * d.pad_h * d.pad_w;
        for (int64_t n0 = first; n0 < last; n0 += sub) {
          const int64_t count = std::min(sub, last - n0);
          auto* padded = scratch<float, kColumnTag>(count * padded_image);
          auto* panels = scratch<float, kWideTag>(wide_panel_size(g.out_channels, count * out_hw));
          for (int64_t i = 0; i < count; ++i) {
            pad_source(d, input + (n0 + i) * in_image, padded + i * padded_image,
                       /*with_slack=*/false);
            pack_wide(grad_image(n0 + i), out_hw, g.out_channels, out_hw, panels, count * out_hw,
                      i * out_hw);
          }
          wide_gather_gemm(rows, g.out_channels, count * out_hw, padded, d.offsets.data(),
                           sub_positions.data(), panels, dst, g.out_channels, n0 != first);
        }
        return;
      }
    }
#endif
    T* padded = scratch<T, kColumnTag>(d.padded_size());
    for (int64_t n = first; n < last; ++n) {
      pad_source(d, input + n * in_image, padded, /*with_slack=*/false);
      gemm_gather_a(rows, g.out_channels, out_hw, padded, d.offsets.data(), positions.data(),
                    grad_image(n), out_hw, dst, g.out_channels, n != first);
    }
  };
  auto transpose_result = [&] {
    T* product = scratch<T, kTransposeTag>(weight_size);
    std::copy(grad_weight, grad_weight + weight_size, product);
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      for (int64_t r = 0; r < rows; ++r) {
        grad_weight[oc * rows + r] = product[r * g.out_channels + oc];
      }
    }
  };

  const bool parallel = chunks > 1 && conv_flops(g) >= kParallelFlops;
  if (!parallel) {
    chunk_sum(0, grad_weight);
    T* partial = chunks > 1 ? scratch<T, kPartialTag>(weight_size) : nullptr;
    for (int64_t chunk = 1; chunk < chunks; ++chunk) {
      chunk_sum(chunk, partial);
      for (int64_t i = 0; i < weight_size; ++i) {
        grad_weight[i] += partial[i];
      }
    }
    transpose_result();
    return;
  }

  // Partial sums of chunks 1.. live in the calling thread's scratch; chunk 0 goes straight into
  // grad_weight. Then grad_weight[i] = ((p0 + p1) + p2) + ..., exactly as the serial path.
  T* partials = scratch<T, kPartialTag>((chunks - 1) * weight_size);
  parallel_for(chunks, [&](int64_t chunk) {
    chunk_sum(chunk, chunk == 0 ? grad_weight : partials + (chunk - 1) * weight_size);
  });
  // The combine, in fixed slices of weights (each weight's sum is the same for any split).
  constexpr int64_t kCombineSlice = 4096;
  parallel_for((weight_size + kCombineSlice - 1) / kCombineSlice, [&](int64_t slice) {
    const int64_t last = std::min(weight_size, (slice + 1) * kCombineSlice);
    for (int64_t i = slice * kCombineSlice; i < last; ++i) {
      T sum = grad_weight[i];
      for (int64_t chunk = 1; chunk < chunks; ++chunk) {
        sum += partials[(chunk - 1) * weight_size + i];
      }
      grad_weight[i] = sum;
    }
  });
  transpose_result();
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options, bool relu) {
  detail::check_floating_4d("conv2d", "input", input);
  detail::check_floating_4d("conv2d", "weight", weight);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    throw error("conv2d: bias of shape {} does not match {} output channels",
                shape_str(bias.shape()), weight.size(0));
  }
  const Conv2dGeometry g = conv2d_geometry(input.shape(), weight.shape(), options);
  const DType dtype = promote_types(input.dtype(), weight.dtype());
  const Tensor input_c = contiguous(to_dtype(input, dtype));
  const Tensor weight_c = contiguous(to_dtype(weight, dtype));
  const Tensor bias_c = bias.defined() ? contiguous(to_dtype(bias, dtype)) : Tensor();
  Tensor out = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, dtype);
  visit_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* bias_data = bias_c.defined() ? bias_c.data_ptr<T>() : nullptr;
    if (relu) {
      forward_impl<true>(g, input_c.data_ptr<T>(), weight_c.data_ptr<T>(), bias_data,
                         out.data_ptr<T>());
    } else {
      forward_impl<false>(g, input_c.data_ptr<T>(), weight_c.data_ptr<T>(), bias_data,
                          out.data_ptr<T>());
    }
  });
  return out;
}

Tensor conv2d_input_grad(const Tensor& grad, const Tensor& weight, const Shape& input_shape,
                         const Conv2dOptions& options) {
  const Conv2dGeometry g = conv2d_geometry(input_shape, weight.shape(), options);
  detail::check_output_grad("conv2d_input_grad", grad, {g.batch, g.out_channels, g.out_h, g.out_w});
  const Tensor grad_c = contiguous(grad);
  const Tensor weight_c = contiguous(to_dtype(weight, grad.dtype()));
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    backward_input_impl(g, grad_c.data_ptr<T>(), weight_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return out;
}

Tensor conv2d_weight_grad(const Tensor& grad, const Tensor& input, const Shape& weight_shape,
                          const Conv2dOptions& options) {
  const Conv2dGeometry g = conv2d_geometry(input.shape(), weight_shape, options);
  detail::check_output_grad("conv2d_weight_grad", grad,
                            {g.batch, g.out_channels, g.out_h, g.out_w});
  const Tensor grad_c = contiguous(grad);
  const Tensor input_c = contiguous(to_dtype(input, grad.dtype()));
  Tensor out = Tensor::empty(weight_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* grad_data = grad_c.data_ptr<T>();
    const int64_t out_image = g.out_channels * g.out_h * g.out_w;
    backward_weight_impl(
        g, [grad_data, out_image](int64_t n) { return grad_data + n * out_image; },
        input_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return out;
}

namespace {

// The relu mask and the sum of one plane: m[i] = y[i] > 0 ? g[i] : 0, returning the sum of m in
// 16 interleaved partial sums (element i into lane i % 16, the last block padded with zeros),
// then the lanes in order. The AVX-512 form below adds the same numbers in the same order.
constexpr int64_t kSumLanes = 16;

template <typename T>
T relu_grad_plane(const T* g, const T* y, T* m, int64_t n) {
  T acc[kSumLanes] = {};
  int64_t i = 0;
  for (; i < n; i += kSumLanes) {
    T block[kSumLanes] = {};
    const int64_t count = std::min(kSumLanes, n - i);
    for (int64_t j = 0; j < count; ++j) {
      block[j] = y[i + j] > T(0) ? g[i + j] : T(0);
    }
    std::copy(block, block + count, m + i);
#pragma GCC unroll 16
    for (int64_t j = 0; j < kSumLanes; ++j) {
      acc[j] += block[j];
    }
  }
  T total = T(0);
  for (const T a : acc) {
    total += a;
  }
  return total;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) float relu_grad_plane_avx512(const float* g, const float* y,
                                                                float* m, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 acc = zero;
  for (int64_t i = 0; i < n; i += kSumLanes) {
    const auto lanes =
        static_cast<__mmask16>((1U << static_cast<unsigned>(std::min(kSumLanes, n - i))) - 1U);
    const __m512 yv = _mm512_maskz_loadu_ps(lanes, y + i);
    const __m512 gv = _mm512_maskz_loadu_ps(lanes, g + i);
    const __m512 v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(yv, zero, _CMP_GT_OQ), gv);
    _mm512_mask_storeu_ps(m + i, lanes, v);
    acc = _mm512_add_ps(acc, v);
  }
  alignas(64) float lanes[kSumLanes];
  _mm512_store_ps(lanes, acc);
  float total = 0.0F;
  for (const float a : lanes) {
    total += a;
  }
  return total;
}
#endif

// masked[p] = grad[p] where output[p] > 0, else 0, per (n, c) plane; plane_sums[p] = the plane's
// sum of masked. Planes are independent: any thread count gives the same bits.
template <typename T>
void relu_grad_planes(int64_t planes, int64_t plane, const T* grad, const T* output, T* masked,
                      T* plane_sums, bool parallel) {
  const auto body = [&](int64_t p) {
    const T* g = grad + p * plane;
    const T* y = output + p * plane;
    T* m = masked + p * plane;
#if defined(__x86_64__)
    if constexpr (std::is_same_v<T, float>) {
      if (use_avx512_col2im()) {
        plane_sums[p] = relu_grad_plane_avx512(g, y, m, plane);
        return;
      }
    }
#endif
    plane_sums[p] = relu_grad_plane(g, y, m, plane);
  };
  if (parallel && planes * plane >= kParallelFlops / 4 && planes > 1) {
    // Chunks of whole planes, about 32768 values each (one claim per small plane costs more).
    const int64_t per_chunk =
        std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(plane, 1));
    parallel_for((planes + per_chunk - 1) / per_chunk, [&](int64_t c) {
      const int64_t last = std::min(planes, (c + 1) * per_chunk);
      for (int64_t p = c * per_chunk; p < last; ++p) {
        body(p);
      }
    });
  } else {
    for (int64_t p = 0; p < planes; ++p) {
      body(p);
    }
  }
}

// out[c] = the sum over n of plane_sums[n * channels + c], in batch order and in double for
// float: a fixed order, so the bits do not depend on the thread count.
template <typename T>
void channel_totals(int64_t batch, int64_t channels, const std::vector<T>& plane_sums, T* out) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  for (int64_t c = 0; c < channels; ++c) {
    Acc total = 0;
    for (int64_t n = 0; n < batch; ++n) {
      total += static_cast<Acc>(plane_sums[static_cast<std::size_t>(n * channels + c)]);
    }
    out[c] = static_cast<T>(total);
  }
}

}  // namespace

std::pair<Tensor, Tensor> conv2d_relu_grad(const Tensor& grad, const Tensor& output,
                                           bool bias_grad) {
  detail::check_floating_4d("conv2d_relu_grad", "output", output);
  detail::check_output_grad("conv2d_relu_grad", grad, output.shape());
  if (grad.dtype() != output.dtype()) {
    throw error("conv2d_relu_grad: grad ({}) and output ({}) must be of one dtype",
                dtype_name(grad.dtype()), dtype_name(output.dtype()));
  }
  const Shape& shape = output.shape();
  const int64_t batch = shape[0];
  const int64_t channels = shape[1];
  const int64_t plane = shape[2] * shape[3];
  const Tensor grad_c = contiguous(grad);
  const Tensor output_c = contiguous(output);
  Tensor masked = Tensor::empty(shape, grad.dtype());
  Tensor sums = bias_grad ? Tensor::empty({channels}, grad.dtype()) : Tensor();
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> plane_sums(static_cast<std::size_t>(batch * channels));
    relu_grad_planes(batch * channels, plane, grad_c.data_ptr<T>(), output_c.data_ptr<T>(),
                     masked.data_ptr<T>(), plane_sums.data(), /*parallel=*/true);
    if (bias_grad) {
      channel_totals(batch, channels, plane_sums, sums.data_ptr<T>());
    }
  });
  return {masked, sums};
}

std::pair<Tensor, Tensor> conv2d_relu_weight_grad(const Tensor& grad, const Tensor& output,
                                                  const Tensor& input, const Shape& weight_shape,
                                                  const Conv2dOptions& options, bool bias_grad) {
  const Conv2dGeometry g = conv2d_geometry(input.shape(), weight_shape, options);
  const Shape out_shape{g.batch, g.out_channels, g.out_h, g.out_w};
  detail::check_output_grad("conv2d_relu_weight_grad", grad, out_shape);
  detail::check_output_grad("conv2d_relu_weight_grad", output, out_shape);
  if (grad.dtype() != output.dtype()) {
    throw error("conv2d_relu_weight_grad: grad ({}) and output ({}) must be of one dtype",
                dtype_name(grad.dtype()), dtype_name(output.dtype()));
  }
  const Tensor grad_c = contiguous(grad);
  const Tensor output_c = contiguous(output);
  const Tensor input_c = contiguous(to_dtype(input, grad.dtype()));
  Tensor weight_grad = Tensor::empty(weight_shape, grad.dtype());
  Tensor sums = bias_grad ? Tensor::empty({g.out_channels}, grad.dtype()) : Tensor();
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* grad_data = grad_c.data_ptr<T>();
    const T* output_data = output_c.data_ptr<T>();
    const int64_t plane = g.out_h * g.out_w;
    const int64_t out_image = g.out_channels * plane;
    // Each image's plane sums land in their own slots, whichever thread computes them.
    std::vector<T> plane_sums(static_cast<std::size_t>(g.batch * g.out_channels));
    T* sums_data = plane_sums.data();
    backward_weight_impl(
        g,
        [&](int64_t n) {
          T* masked = scratch<T, kReluTag>(out_image);
          relu_grad_planes(g.out_channels, plane, grad_data + n * out_image,
                           output_data + n * out_image, masked, sums_data + n * g.out_channels,
                           /*parallel=*/false);
          return static_cast<const T*>(masked);
        },
        input_c.data_ptr<T>(), weight_grad.data_ptr<T>());
    if (bias_grad) {
      channel_totals(g.batch, g.out_channels, plane_sums, sums.data_ptr<T>());
    }
  });
  return {weight_grad, sums};
}

}  // namespace nabla::kernels
