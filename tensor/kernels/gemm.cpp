// Packed, cache-blocked GEMM (GotoBLAS/BLIS layout) with run-time selected AVX-512 / AVX2 / scalar
// micro-kernels; the hot spot under matmul, Dense and conv, so it is tuned and deterministic.
#include "tensor/kernels/gemm.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "tensor/parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NABLA_GEMM_X86 1
#define NABLA_AVX512 __attribute__((target("avx512f")))
#define NABLA_AVX2 __attribute__((target("avx2,fma")))
#else
#define NABLA_GEMM_X86 0
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/parallel_for.h"

namespace nabla::kernels {
namespace {

// Below this many multiply-adds a parallel region costs more than it saves. Measured on 2 cores:
// 128^3 (~11 us alone) is slower with two threads, 176^3 gains under 10%, 256^3 gains 85%; and
// on a busy machine every region risks waiting a scheduler tick for a preempted worker.
constexpr int64_t kParallelMinWork = int64_t{192} * 192 * 192;
constexpr std::size_t kAlign = 64;

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
constexpr int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Grows but never shrinks, so a training loop stops allocating after its first step; one per
// thread so that packing never needs locks.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data_); }

  void* get(std::size_t bytes) {
    if (bytes > size_) {
      const std::size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
      void* fresh = std::aligned_alloc(kAlign, rounded);
      if (fresh == nullptr) {
        throw std::bad_alloc();
      }
      std::free(data_);
      data_ = fresh;
      size_ = rounded;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

thread_local PackBuffer tls_pack_a;
thread_local PackBuffer tls_pack_b;

// ---------------------------------------------------------------------------------------------
// Micro-kernels. Each computes a full MR x NR tile from zero-padded packed panels (so the inner
// loop has no edge logic) and writes only the valid mr x nr corner:
//   C = alpha * AB              when !load_c (C is never read, NaN garbage cannot leak in)
//   C = fma(beta, C, alpha*AB)  otherwise (later K blocks pass beta = 1)
// Edge tiles (masked) and interior tiles do the same arithmetic per element, so how C is cut into
// tiles and blocks never changes a result. (The scalar fallback uses mul + add, not fma.)
// ---------------------------------------------------------------------------------------------

#if NABLA_GEMM_X86

template <class T>
struct Avx512;

template <>
struct Avx512<float> {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  NABLA_AVX512 static V zero() { return _mm512_setzero_ps(); }
  NABLA_AVX512 static V load(const float* p) { return _mm512_load_ps(p); }
  NABLA_AVX512 static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  NABLA_AVX512 static V splat(float x) { return _mm512_set1_ps(x); }
  NABLA_AVX512 static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  NABLA_AVX512 static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  NABLA_AVX512 static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static Mask mask(int64_t n) { return static_cast<Mask>((1U << n) - 1U); }
  NABLA_AVX512 static V mask_loadu(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  NABLA_AVX512 static void mask_storeu(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  // A fixed add tree. NOTE: the maskz forms, because GCC 12's unmasked shuffles (and so
  // _mm512_reduce_add_ps) start from an "undefined" register that -Wuninitialized rejects.
  NABLA_AVX512 static float reduce(V v) {
    v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, 0x4E));
    v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, 0xB1));
    v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, 0x4E));
    v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, 0xB1));
    return _mm512_cvtss_f32(v);
  }
};

template <>
struct Avx512<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  NABLA_AVX512 static V zero() { return _mm512_setzero_pd(); }
  NABLA_AVX512 static V load(const double* p) { return _mm512_load_pd(p); }
  NABLA_AVX512 static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  NABLA_AVX512 static V splat(double x) { return _mm512_set1_pd(x); }
  NABLA_AVX512 static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  NABLA_AVX512 static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  NABLA_AVX512 static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static Mask mask(int64_t n) { return static_cast<Mask>((1U << n) - 1U); }
  NABLA_AVX512 static V mask_loadu(Mask m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  NABLA_AVX512 static void mask_storeu(double* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  NABLA_AVX512 static double reduce(V v) {
    v = _mm512_add_pd(v, _mm512_maskz_shuffle_f64x2(0xFF, v, v, 0x4E));
    v = _mm512_add_pd(v, _mm512_maskz_shuffle_f64x2(0xFF, v, v, 0xB1));
    v = _mm512_add_pd(v, _mm512_maskz_permute_pd(0xFF, v, 0x55));
    return _mm512_cvtsd_f64(v);
  }
};

template <class T>
struct Avx2;

template <>
struct Avx2<float> {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  NABLA_AVX2 static V zero() { return _mm256_setzero_ps(); }
  NABLA_AVX2 static V load(const float* p) { return _mm256_load_ps(p); }
  NABLA_AVX2 static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  NABLA_AVX2 static V splat(float x) { return _mm256_set1_ps(x); }
  NABLA_AVX2 static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  NABLA_AVX2 static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  NABLA_AVX2 static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  NABLA_AVX2 static Mask mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  NABLA_AVX2 static V mask_loadu(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  NABLA_AVX2 static void mask_storeu(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
  NABLA_AVX2 static float reduce(V v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    return _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)));
  }
};

template <>
struct Avx2<double> {
  using V = __m256d;
  using Mask = __m256i;
  static constexpr int kLanes = 4;
  NABLA_AVX2 static V zero() { return _mm256_setzero_pd(); }
  NABLA_AVX2 static V load(const double* p) { return _mm256_load_pd(p); }
  NABLA_AVX2 static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  NABLA_AVX2 static V splat(double x) { return _mm256_set1_pd(x); }
  NABLA_AVX2 static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  NABLA_AVX2 static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  NABLA_AVX2 static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  NABLA_AVX2 static Mask mask(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  NABLA_AVX2 static V mask_loadu(Mask m, const double* p) { return _mm256_maskload_pd(p, m); }
  NABLA_AVX2 static void mask_storeu(double* p, Mask m, V v) { _mm256_maskstore_pd(p, m, v); }
  NABLA_AVX2 static double reduce(V v) {
    const __m128d r = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(r, _mm_unpackhi_pd(r, r)));
  }
};

// The two SIMD kernels share one body; it is a macro only because a target attribute cannot be
// a template parameter, and the AVX2 kernel must not be compiled with AVX-512 enabled. ROWS < MR
// serves the last row tile of a block (m = 64 would otherwise waste 11% on padding rows); it
// reads the same MR-strided panel and does the same per-element arithmetic. PF > 0 prefetches
// packed B PF elements ahead of the loads (into the next micro-panels, which follow in memory).
// NOLINTBEGIN(bugprone-macro-parentheses): ATTR and ISA are an attribute and a template name.
#define NABLA_GEMM_SIMD_KERNEL(NAME, ATTR, ISA)                                                 \
  template <class T, int MR, int NV, int ROWS, int PF = 0>                                      \
  ATTR void NAME(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* c, int64_t ldc, \
                 int64_t mr, int64_t nr, T alpha, T beta, bool load_c) {                        \
    using S = ISA<T>;                                                                           \
    using V = typename S::V;                                                                    \
    constexpr int64_t kL = S::kLanes;                                                           \
    V acc[ROWS][NV];                                                                            \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                   \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();               \
    }                                                                                           \
    _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; ++p) {                                  \
      V bv[NV];                                                                                 \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) bv[v] = S::load(bp + v * kL);        \
      if constexpr (PF > 0) {                                                                   \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV * kL; v += 64 / int(sizeof(T)))          \
            _mm_prefetch(reinterpret_cast<const char*>(bp + PF + v), _MM_HINT_T0);              \
      }                                                                                         \
      _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                 \
        const V av = S::splat(ap[i]);                                                           \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] =                        \
            S::fmadd(av, bv[v], acc[i][v]);                                                     \
      }                                                                                         \
      ap += MR;                                                                                 \
      bp += NV * kL;                                                                            \
    }                                                                                           \
    const V valpha = S::splat(alpha);                                                           \
    const V vbeta = S::splat(beta);                                                             \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                   \
      if (i >= mr) break;                                                                       \
      T* crow = c + i * ldc;                                                                    \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {                                    \
        const int64_t left = nr - v * kL;                                                       \
        if (left <= 0) break;                                                                   \
        V r = S::mul(valpha, acc[i][v]);                                                        \
        if (left >= kL) {                                                                       \
          if (load_c) r = S::fmadd(vbeta, S::loadu(crow + v * kL), r);                          \
          S::storeu(crow + v * kL, r);                                                          \
        } else {                                                                                \
          const auto m = S::mask(left);                                                         \
          if (load_c) r = S::fmadd(vbeta, S::mask_loadu(m, crow + v * kL), r);                  \
          S::mask_storeu(crow + v * kL, m, r);                                                  \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }

// NOLINTEND(bugprone-macro-parentheses)

NABLA_GEMM_SIMD_KERNEL(kernel_avx512, NABLA_AVX512, Avx512)
NABLA_GEMM_SIMD_KERNEL(kernel_avx2, NABLA_AVX2, Avx2)
#undef NABLA_GEMM_SIMD_KERNEL

// The implicit-GEMM kernel (gemm_offset_b): as above, but row p of the B tile is read in place at
// b + offsets[p] (unaligned, NV full vectors) instead of from a packed panel, and C is either
// overwritten with AB or, for later K blocks, AB is added to it (fma(1, C, AB) == C + AB).
// NOLINTBEGIN(bugprone-macro-parentheses): ATTR and ISA are an attribute and a template name.
#define NABLA_OFFSET_SIMD_KERNEL(NAME, ATTR, ISA)                                              \
  template <class T, int MR, int NV, int ROWS>                                                 \
  ATTR void NAME(int64_t kc, const T* __restrict ap, const T* b,                               \
                 const int64_t* __restrict offsets, T* c, int64_t ldc, int64_t mr, int64_t nr, \
                 bool load_c) {                                                                \
    using S = ISA<T>;                                                                          \
    using V = typename S::V;                                                                   \
    constexpr int64_t kL = S::kLanes;                                                          \
    V acc[ROWS][NV];                                                                           \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                  \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();              \
    }                                                                                          \
    for (int64_t p = 0; p < kc; ++p) {                                                         \
      const T* brow = b + offsets[p];                                                          \
      V bv[NV];                                                                                \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) bv[v] = S::loadu(brow + v * kL);    \
      _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                \
        const V av = S::splat(ap[i]);                                                          \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] =                       \
            S::fmadd(av, bv[v], acc[i][v]);                                                    \
      }                                                                                        \
      ap += MR;                                                                                \
    }                                                                                          \
    const V one = S::splat(T(1));                                                              \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                  \
      if (i >= mr) break;                                                                      \
      T* crow = c + i * ldc;                                                                   \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {                                   \
        const int64_t left = nr - v * kL;                                                      \
        if (left <= 0) break;                                                                  \
        V r = acc[i][v];                                                                       \
        if (left >= kL) {                                                                      \
          if (load_c) r = S::fmadd(one, S::loadu(crow + v * kL), r);                           \
          S::storeu(crow + v * kL, r);                                                         \
        } else {                                                                               \
          const auto m = S::mask(left);                                                        \
          if (load_c) r = S::fmadd(one, S::mask_loadu(m, crow + v * kL), r);                   \
          S::mask_storeu(crow + v * kL, m, r);                                                 \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }
// NOLINTEND(bugprone-macro-parentheses)

NABLA_OFFSET_SIMD_KERNEL(offset_kernel_avx512, NABLA_AVX512, Avx512)
NABLA_OFFSET_SIMD_KERNEL(offset_kernel_avx2, NABLA_AVX2, Avx2)
#undef NABLA_OFFSET_SIMD_KERNEL

// The gemm_gather_a kernel: A element (i, p) is broadcast straight from a_rows[i][k_offsets[p]];
// B comes from a packed NR-column panel as in the GEMM. Rows past mr read row 0 and are never
// stored.
// NOLINTBEGIN(bugprone-macro-parentheses): ATTR and ISA are an attribute and a template name.
#define NABLA_GATHER_A_SIMD_KERNEL(NAME, ATTR, ISA)                                                \
  template <class T, int NV, int ROWS>                                                             \
  ATTR void NAME(int64_t kc, const T* const* a_rows, const int64_t* __restrict k_offsets,          \
                 const T* __restrict bp, T* c, int64_t ldc, int64_t mr, int64_t nr, bool load_c) { \
    using S = ISA<T>;                                                                              \
    using V = typename S::V;                                                                       \
    constexpr int64_t kL = S::kLanes;                                                              \
    V acc[ROWS][NV];                                                                               \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                      \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();                  \
    }                                                                                              \
    const T* ar[ROWS];                                                                             \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) ar[i] = a_rows[i];                     \
    for (int64_t p = 0; p < kc; ++p) {                                                             \
      const int64_t off = k_offsets[p];                                                            \
      V bv[NV];                                                                                    \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) bv[v] = S::load(bp + v * kL);           \
      _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                    \
        const V av = S::splat(ar[i][off]);                                                         \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[i][v] =                           \
            S::fmadd(av, bv[v], acc[i][v]);                                                        \
      }                                                                                            \
      bp += NV * kL;                                                                               \
    }                                                                                              \
    const V one = S::splat(T(1));                                                                  \
    _Pragma("GCC unroll 16") for (int i = 0; i < ROWS; ++i) {                                      \
      if (i >= mr) break;                                                                          \
      T* crow = c + i * ldc;                                                                       \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) {                                       \
        const int64_t left = nr - v * kL;                                                          \
        if (left <= 0) break;                                                                      \
        V res = acc[i][v];                                                                         \
        if (left >= kL) {                                                                          \
          if (load_c) res = S::fmadd(one, S::loadu(crow + v * kL), res);                           \
          S::storeu(crow + v * kL, res);                                                           \
        } else {                                                                                   \
          const auto m = S::mask(left);                                                            \
          if (load_c) res = S::fmadd(one, S::mask_loadu(m, crow + v * kL), res);                   \
          S::mask_storeu(crow + v * kL, m, res);                                                   \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }
// NOLINTEND(bugprone-macro-parentheses)

NABLA_GATHER_A_SIMD_KERNEL(gather_a_kernel_avx512, NABLA_AVX512, Avx512)
NABLA_GATHER_A_SIMD_KERNEL(gather_a_kernel_avx2, NABLA_AVX2, Avx2)
#undef NABLA_GATHER_A_SIMD_KERNEL

// Skinny products (one side of C at most a few vectors wide), unpacked: the big operand is read
// in place, once, instead of being packed into panels that a 12 x 32 register tile would mostly
// waste. Each kernel runs over the whole of k and writes its R x J corner of C once:
//   C = alpha * AB              when beta == 0 (C is never read)
//   C = beta * C + alpha * AB   otherwise
// so every element is one fixed-order sum, whatever the tiling or the thread count.
//
// Keeps a loaded vector in a register: otherwise GCC folds the load into each FMA that uses it,
// loading a B vector once per row of the tile instead of once.
#define NABLA_IN_REGISTER(x) __asm__("" : "+v"(x))

// "dot": rows of A and of Bt (B transposed) both contiguous in k. Each of the R x J accumulators
// holds kL lane sums (p = lane mod kL, the tail zero-filled by a masked load), reduced at the end.
// Over a long k the driver cuts k into blocks that keep Bt's block in L1; between blocks the
// accumulators wait in `state` (row stride srow, kL values each): resumed unless `first`, reduced
// into C when `last`, else saved. Blocks depend on k alone, so the sum order is fixed.
// NOLINTBEGIN(bugprone-macro-parentheses): ATTR and ISA are an attribute and a template name.
#define NABLA_DOT_SIMD_KERNEL(NAME, ATTR, ISA)                                                     \
  template <class T, int R, int J>                                                                 \
  struct NAME {                                                                                    \
    ATTR static void run(int64_t kc, const T* __restrict a, int64_t lda, const T* __restrict bt,   \
                         int64_t ldbt, T* c, int64_t ldc, T alpha, T beta, T* state, int64_t srow, \
                         bool first, bool last) {                                                  \
      using S = ISA<T>;                                                                            \
      using V = typename S::V;                                                                     \
      constexpr int64_t kL = S::kLanes;                                                            \
      V acc[R][J];                                                                                 \
      _Pragma("GCC unroll 4") for (int i = 0; i < R; ++i) {                                        \
        _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) acc[i][j] =                           \
            first ? S::zero() : S::loadu(state + i * srow + j * kL);                               \
      }                                                                                            \
      int64_t p = 0;                                                                               \
      for (; p + kL <= kc; p += kL) {                                                              \
        V av[R];                                                                                   \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; ++i) av[i] = S::loadu(a + i * lda + p);     \
        _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                                     \
          V bv = S::loadu(bt + j * ldbt + p);                                                      \
          NABLA_IN_REGISTER(bv);                                                                   \
          _Pragma("GCC unroll 4") for (int i = 0; i < R; ++i) acc[i][j] =                          \
              S::fmadd(av[i], bv, acc[i][j]);                                                      \
        }                                                                                          \
      }                                                                                            \
      if (p < kc) {                                                                                \
        const auto m = S::mask(kc - p);                                                            \
        V av[R];                                                                                   \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; ++i) av[i] =                                \
            S::mask_loadu(m, a + i * lda + p);                                                     \
        _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                                     \
          const V bv = S::mask_loadu(m, bt + j * ldbt + p);                                        \
          _Pragma("GCC unroll 4") for (int i = 0; i < R; ++i) acc[i][j] =                          \
              S::fmadd(av[i], bv, acc[i][j]);                                                      \
        }                                                                                          \
      }                                                                                            \
      _Pragma("GCC unroll 4") for (int i = 0; i < R; ++i) {                                        \
        _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                                     \
          if (!last) {                                                                             \
            S::storeu(state + i * srow + j * kL, acc[i][j]);                                       \
            continue;                                                                              \
          }                                                                                        \
          const T r = alpha * S::reduce(acc[i][j]);                                                \
          T* cp = c + i * ldc + j;                                                                 \
          *cp = beta == T(0) ? r : beta * *cp + r;                                                 \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  };

// "bcast": op(A) = A^T with A stored k x m, so a row of A is contiguous along C's rows. NV
// vectors cover kL * NV rows of C (the last tile masked to `rows`); element (p, j) of op(B),
// at b[p * sbp + j * sbj], is broadcast. The tile is stored transposed through a small buffer.
#define NABLA_BCAST_SIMD_KERNEL(NAME, ATTR, ISA)                                             \
  template <class T, int NV, int J>                                                          \
  struct NAME {                                                                              \
    ATTR static void run(int64_t k, const T* __restrict a, int64_t lda, int64_t rows,        \
                         const T* __restrict b, int64_t sbp, int64_t sbj, T* c, int64_t ldc, \
                         T alpha, T beta) {                                                  \
      using S = ISA<T>;                                                                      \
      using V = typename S::V;                                                               \
      constexpr int64_t kL = S::kLanes;                                                      \
      V acc[J][NV];                                                                          \
      _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                                 \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[j][v] = S::zero();          \
      }                                                                                      \
      if (rows == NV * kL) {                                                                 \
        for (int64_t p = 0; p < k; ++p) {                                                    \
          V av[NV];                                                                          \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) av[v] =                       \
              S::loadu(a + p * lda + v * kL);                                                \
          _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                             \
            V bj = S::splat(b[p * sbp + j * sbj]);                                           \
            NABLA_IN_REGISTER(bj);                                                           \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[j][v] =                 \
                S::fmadd(bj, av[v], acc[j][v]);                                              \
          }                                                                                  \
        }                                                                                    \
      } else {                                                                               \
        decltype(S::mask(1)) masks[NV];                                                      \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) masks[v] =                      \
            S::mask(std::clamp<int64_t>(rows - v * kL, 0, kL));                              \
        for (int64_t p = 0; p < k; ++p) {                                                    \
          V av[NV];                                                                          \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) av[v] =                       \
              S::mask_loadu(masks[v], a + p * lda + v * kL);                                 \
          _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                             \
            V bj = S::splat(b[p * sbp + j * sbj]);                                           \
            NABLA_IN_REGISTER(bj);                                                           \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v) acc[j][v] =                 \
                S::fmadd(bj, av[v], acc[j][v]);                                              \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
      alignas(64) T tile[J][NV * kL];                                                        \
      _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                                 \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; ++v)                                 \
            S::storeu(&tile[j][v * kL], acc[j][v]);                                          \
      }                                                                                      \
      for (int64_t r = 0; r < rows; ++r) {                                                   \
        T* crow = c + r * ldc;                                                               \
        _Pragma("GCC unroll 16") for (int j = 0; j < J; ++j) {                               \
          const T x = alpha * tile[j][r];                                                    \
          crow[j] = beta == T(0) ? x : beta * crow[j] + x;                                   \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  };
// NOLINTEND(bugprone-macro-parentheses)

NABLA_DOT_SIMD_KERNEL(DotAvx512, NABLA_AVX512, Avx512)
NABLA_DOT_SIMD_KERNEL(DotAvx2, NABLA_AVX2, Avx2)
NABLA_BCAST_SIMD_KERNEL(BcastAvx512, NABLA_AVX512, Avx512)
NABLA_BCAST_SIMD_KERNEL(BcastAvx2, NABLA_AVX2, Avx2)
#undef NABLA_DOT_SIMD_KERNEL
#undef NABLA_BCAST_SIMD_KERNEL

#endif  // NABLA_GEMM_X86

template <class T, int MR, int NR>
void kernel_scalar(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* c, int64_t ldc,
                   int64_t mr, int64_t nr, T alpha, T beta, bool load_c) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) {
        acc[i][j] += ap[i] * bp[j];
      }
    }
    ap += MR;
    bp += NR;
  }
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) {
      const T r = alpha * acc[i][j];
      c[i * ldc + j] = load_c ? beta * c[i * ldc + j] + r : r;
    }
  }
}

template <class T, int MR, int NR>
void offset_kernel_scalar(int64_t kc, const T* __restrict ap, const T* b,
                          const int64_t* __restrict offsets, T* c, int64_t ldc, int64_t mr,
                          int64_t nr, bool load_c) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const T* brow = b + offsets[p];
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) {
        acc[i][j] += ap[i] * brow[j];
      }
    }
    ap += MR;
  }
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) {
      c[i * ldc + j] = load_c ? c[i * ldc + j] + acc[i][j] : acc[i][j];
    }
  }
}

template <class T, int NR, int ROWS>
void gather_a_kernel_scalar(int64_t kc, const T* const* a_rows, const int64_t* __restrict k_offsets,
                            const T* __restrict bp, T* c, int64_t ldc, int64_t mr, int64_t nr,
                            bool load_c) {
  T acc[ROWS][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < ROWS; ++i) {
      const T av = a_rows[i][k_offsets[p]];
      for (int j = 0; j < NR; ++j) {
        acc[i][j] += av * bp[j];
      }
    }
    bp += NR;
  }
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) {
      c[i * ldc + j] = load_c ? c[i * ldc + j] + acc[i][j] : acc[i][j];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packing. op(A) becomes MR-row panels stored k-major (MR values per k step), op(B) becomes
// NR-column panels stored k-major, both zero padded; transposes are absorbed here so backward
// passes never materialise A^T or B^T.
// ---------------------------------------------------------------------------------------------

#if NABLA_GEMM_X86
// dst[p*w + r] = src[r*ld + p] for r < rows, p < kc: interleaving rows that are contiguous in k
// (A untransposed, B transposed). Register transposes of 8x8 / 4x4 blocks replace a scalar
// scatter that cost 5-10% of a batch-128 Dense layer.
NABLA_AVX2 void interleave_rows(const float* src, int64_t ld, int64_t rows, int64_t kc, float* dst,
                                int64_t w) {
  int64_t r = 0;
  for (; r + 8 <= rows; r += 8) {
    const float* s = src + r * ld;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      const __m256 r0 = _mm256_loadu_ps(s + 0 * ld + p);
      const __m256 r1 = _mm256_loadu_ps(s + 1 * ld + p);
      const __m256 r2 = _mm256_loadu_ps(s + 2 * ld + p);
      const __m256 r3 = _mm256_loadu_ps(s + 3 * ld + p);
      const __m256 r4 = _mm256_loadu_ps(s + 4 * ld + p);
      const __m256 r5 = _mm256_loadu_ps(s + 5 * ld + p);
      const __m256 r6 = _mm256_loadu_ps(s + 6 * ld + p);
      const __m256 r7 = _mm256_loadu_ps(s + 7 * ld + p);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1);
      const __m256 t1 = _mm256_unpackhi_ps(r0, r1);
      const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
      const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
      const __m256 t4 = _mm256_unpacklo_ps(r4, r5);
      const __m256 t5 = _mm256_unpackhi_ps(r4, r5);
      const __m256 t6 = _mm256_unpacklo_ps(r6, r7);
      const __m256 t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44);
      const __m256 u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44);
      const __m256 u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44);
      const __m256 u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44);
      const __m256 u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* d = dst + p * w + r;
      _mm256_storeu_ps(d + 0 * w, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + 1 * w, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * w, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * w, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * w, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * w, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * w, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * w, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (; p < kc; ++p) {
      for (int64_t i = 0; i < 8; ++i) {
        dst[p * w + r + i] = s[i * ld + p];
      }
    }
  }
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * ld;
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
      __m128 r0 = _mm_loadu_ps(s + 0 * ld + p);
      __m128 r1 = _mm_loadu_ps(s + 1 * ld + p);
      __m128 r2 = _mm_loadu_ps(s + 2 * ld + p);
      __m128 r3 = _mm_loadu_ps(s + 3 * ld + p);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float* d = dst + p * w + r;
      _mm_storeu_ps(d + 0 * w, r0);
      _mm_storeu_ps(d + 1 * w, r1);
      _mm_storeu_ps(d + 2 * w, r2);
      _mm_storeu_ps(d + 3 * w, r3);
    }
    for (; p < kc; ++p) {
      for (int64_t i = 0; i < 4; ++i) {
        dst[p * w + r + i] = s[i * ld + p];
      }
    }
  }
  for (; r < rows; ++r) {
    for (int64_t p = 0; p < kc; ++p) {
      dst[p * w + r] = src[r * ld + p];
    }
  }
}

NABLA_AVX2 void interleave_rows(const double* src, int64_t ld, int64_t rows, int64_t kc,
                                double* dst, int64_t w) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const double* s = src + r * ld;
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
      const __m256d r0 = _mm256_loadu_pd(s + 0 * ld + p);
      const __m256d r1 = _mm256_loadu_pd(s + 1 * ld + p);
      const __m256d r2 = _mm256_loadu_pd(s + 2 * ld + p);
      const __m256d r3 = _mm256_loadu_pd(s + 3 * ld + p);
      const __m256d t0 = _mm256_unpacklo_pd(r0, r1);
      const __m256d t1 = _mm256_unpackhi_pd(r0, r1);
      const __m256d t2 = _mm256_unpacklo_pd(r2, r3);
      const __m256d t3 = _mm256_unpackhi_pd(r2, r3);
      double* d = dst + p * w + r;
      _mm256_storeu_pd(d + 0 * w, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_storeu_pd(d + 1 * w, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_storeu_pd(d + 2 * w, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_storeu_pd(d + 3 * w, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
    for (; p < kc; ++p) {
      for (int64_t i = 0; i < 4; ++i) {
        dst[p * w + r + i] = s[i * ld + p];
      }
    }
  }
  for (; r < rows; ++r) {
    for (int64_t p = 0; p < kc; ++p) {
      dst[p * w + r] = src[r * ld + p];
    }
  }
}
#endif  // NABLA_GEMM_X86

// Portable version of interleave_rows; the blocks of 8 k-steps keep the source rows' cache lines
// hot while the strided destination is written.
template <class T>
void interleave_rows_scalar(const T* src, int64_t ld, int64_t rows, int64_t kc, T* dst, int64_t w) {
  constexpr int64_t kStep = 8;
  int64_t p = 0;
  for (; p + kStep <= kc; p += kStep) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t q = 0; q < kStep; ++q) {
        dst[(p + q) * w + r] = src[r * ld + p + q];
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t q = p; q < kc; ++q) {
      dst[q * w + r] = src[r * ld + q];
    }
  }
}

template <class T, bool kSimd>
void interleave_padded(const T* src, int64_t ld, int64_t rows, int64_t kc, T* dst, int64_t w) {
#if NABLA_GEMM_X86
  if constexpr (kSimd) {
    interleave_rows(src, ld, rows, kc, dst, w);
  } else {
    interleave_rows_scalar(src, ld, rows, kc, dst, w);
  }
#else
  interleave_rows_scalar(src, ld, rows, kc, dst, w);
#endif
  if (rows < w) {
    for (int64_t p = 0; p < kc; ++p) {
      std::fill(dst + p * w + rows, dst + (p + 1) * w, T(0));
    }
  }
}

// Copies rows that are already contiguous across the panel (A transposed, B untransposed).
template <class T, int W>
void copy_rows_padded(const T* src, int64_t ld, int64_t cols, int64_t kc, T* dst) {
  if (cols == W) {
    for (int64_t p = 0; p < kc; ++p) {
      std::memcpy(dst + p * W, src + p * ld, W * sizeof(T));
    }
  } else {
    for (int64_t p = 0; p < kc; ++p) {
      std::memcpy(dst + p * W, src + p * ld, static_cast<std::size_t>(cols) * sizeof(T));
      std::fill(dst + p * W + cols, dst + (p + 1) * W, T(0));
    }
  }
}

template <class T, int MR, bool kSimd>
void pack_a(bool trans_a, const T* a, int64_t lda, int64_t i0, int64_t p0, int64_t mc, int64_t kc,
            T* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min<int64_t>(MR, mc - ir);
    if (!trans_a) {
      interleave_padded<T, kSimd>(a + (i0 + ir) * lda + p0, lda, mr, kc, dst, MR);
    } else {
      copy_rows_padded<T, MR>(a + p0 * lda + i0 + ir, lda, mr, kc, dst);
    }
    dst += MR * kc;
  }
}

// Packs the single NR-column panel starting at column j0 (nr valid columns).
template <class T, int NR, bool kSimd>
void pack_b_panel(bool trans_b, const T* b, int64_t ldb, int64_t p0, int64_t j0, int64_t kc,
                  int64_t nr, T* dst) {
  if (!trans_b) {
    copy_rows_padded<T, NR>(b + p0 * ldb + j0, ldb, nr, kc, dst);
  } else {
    interleave_padded<T, kSimd>(b + j0 * ldb + p0, ldb, nr, kc, dst, NR);
  }
}

// ---------------------------------------------------------------------------------------------
// Blocked driver. The K split depends only on k and each micro-kernel accumulates an element in
// the same order whatever its tile position, so how M and N are divided among threads cannot
// change a single bit of the result.
// ---------------------------------------------------------------------------------------------

template <class T>
using KernelFn = void (*)(int64_t, const T*, const T*, T*, int64_t, int64_t, int64_t, T, T, bool);

// One micro-kernel per row count (MR, 2MR/3, MR/3) so a short last row tile skips padding rows.
template <class T>
struct Kernels {
  KernelFn<T> full, two_thirds, one_third;
  [[nodiscard]] KernelFn<T> for_rows(int64_t mr, int64_t full_rows) const {
    if (3 * mr <= full_rows) {
      return one_third;
    }
    if (3 * mr <= 2 * full_rows) {
      return two_thirds;
    }
    return full;
  }
};

template <class T, int MR, int NR, int64_t MC, int64_t KC, int64_t NC, bool kSimd,
          bool kStream = false, int kPrefetch = 0>
struct Config {
  static constexpr bool kSimdPack = kSimd;
  // Tile order inside an MC x NC block: row tiles outer (B micro-panels streamed, the KC x NC
  // block of B must fit L2) or column tiles outer (A micro-panels streamed).
  static constexpr bool kStreamB = kStream;
  // Elements of packed B the micro-kernel prefetches (into L1) ahead of its loads; 0 for none.
  static constexpr int kPrefetchB = kPrefetch;
  static constexpr int kMr = MR;
  static constexpr int kNr = NR;
  static constexpr int64_t kMc = MC;
  static constexpr int64_t kKc = KC;
  static constexpr int64_t kNc = NC;
};

template <class T>
struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  T alpha;
  const T* a;
  int64_t lda;
  const T* b;
  int64_t ldb;
  T beta;
  T* c;
  int64_t ldc;
};

// The rows [i0, i1) and columns [j0, j1) of the product as a problem of its own.
template <class T>
Problem<T> sub_problem(const Problem<T>& pr, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  Problem<T> s = pr;
  s.m = i1 - i0;
  s.n = j1 - j0;
  s.a = pr.trans_a ? pr.a + i0 : pr.a + i0 * pr.lda;
  s.b = pr.trans_b ? pr.b + j0 * pr.ldb : pr.b + j0;
  s.c = pr.c + i0 * pr.ldc + j0;
  return s;
}

// Single-threaded GotoBLAS loop nest (NC, KC, MC, then NR x MR tiles) with this thread's buffers.
template <class T, class Cfg>
void run_blocked(const Problem<T>& pr, const Kernels<T>& kernels) {
  constexpr int64_t kMr = Cfg::kMr;
  constexpr int64_t kNr = Cfg::kNr;
  // Balanced block sizes avoid a sliver block at the end (e.g. k = KC + 1).
  const int64_t k_blocks = ceil_div(pr.k, Cfg::kKc);
  const int64_t kc_max = round_up(ceil_div(pr.k, k_blocks), 8);
  const int64_t m_blocks = ceil_div(pr.m, Cfg::kMc);
  const int64_t mc_max = round_up(ceil_div(pr.m, m_blocks), kMr);
  const int64_t n_blocks = ceil_div(pr.n, Cfg::kNc);
  const int64_t nc_max = round_up(ceil_div(pr.n, n_blocks), kNr);

  T* packed_a =
      static_cast<T*>(tls_pack_a.get(static_cast<std::size_t>(mc_max * kc_max) * sizeof(T)));
  T* packed_b =
      static_cast<T*>(tls_pack_b.get(static_cast<std::size_t>(kc_max * nc_max) * sizeof(T)));

  for (int64_t jc = 0; jc < pr.n; jc += nc_max) {
    const int64_t nc = std::min(nc_max, pr.n - jc);
    for (int64_t pc = 0; pc < pr.k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, pr.k - pc);
      const bool first = pc == 0;
      const bool load_c = !first || pr.beta != T(0);
      const T beta = first ? pr.beta : T(1);
      for (int64_t jr = 0; jr < nc; jr += kNr) {
        pack_b_panel<T, Cfg::kNr, Cfg::kSimdPack>(pr.trans_b, pr.b, pr.ldb, pc, jc + jr, kc,
                                                  std::min(kNr, nc - jr), packed_b + jr * kc);
      }
      for (int64_t ic = 0; ic < pr.m; ic += mc_max) {
        const int64_t mc = std::min(mc_max, pr.m - ic);
        pack_a<T, Cfg::kMr, Cfg::kSimdPack>(pr.trans_a, pr.a, pr.lda, ic, pc, mc, kc, packed_a);
        auto tile = [&](int64_t ir, int64_t jr) {
          const int64_t mr = std::min(kMr, mc - ir);
          const int64_t nr = std::min(kNr, nc - jr);
          kernels.for_rows(mr, kMr)(kc, packed_a + ir * kc, packed_b + jr * kc,
                                    pr.c + (ic + ir) * pr.ldc + jc + jr, pr.ldc, mr, nr, pr.alpha,
                                    beta, load_c);
        };
        if constexpr (Cfg::kStreamB) {
          // An A micro-panel stays in L1 while the B micro-panels stream from L2.
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            for (int64_t jr = 0; jr < nc; jr += kNr) {
              tile(ir, jr);
            }
          }
        } else {
          // A B micro-panel stays in L1 while the A micro-panels stream from L2.
          for (int64_t jr = 0; jr < nc; jr += kNr) {
            for (int64_t ir = 0; ir < mc; ir += kMr) {
              tile(ir, jr);
            }
          }
        }
      }
    }
  }
}

// Each thread takes one cell of a tm x tn grid over C and runs the serial algorithm on it with
// its own buffers: threads never wait for each other inside the product (only at the region's
// end), at the price of packing the shared A rows / B columns once per grid row / column.
template <class T, class Cfg>
void run_parallel(const Problem<T>& pr, const Kernels<T>& kernels, int tid, int nthreads) {
  const int64_t tiles_m = ceil_div(pr.m, Cfg::kMr);
  const int64_t tiles_n = ceil_div(pr.n, Cfg::kNr);
  // A packed element costs roughly as much as kPackCost multiply-adds of the kernel.
  constexpr int64_t kPackCost = 8;
  int64_t best_tm = 1;
  int64_t best_cost = -1;
  for (int64_t tm = 1; tm <= nthreads; ++tm) {
    if (nthreads % tm != 0) {
      continue;
    }
    const int64_t rows = ceil_div(tiles_m, tm) * Cfg::kMr;
    const int64_t cols = ceil_div(tiles_n, nthreads / tm) * Cfg::kNr;
    const int64_t cost = rows * cols + kPackCost * (rows + cols);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best_tm = tm;
    }
  }
  const int64_t tn = nthreads / best_tm;
  const int64_t ti = tid / tn;
  const int64_t tj = tid % tn;
  const int64_t i0 = std::min(pr.m, tiles_m * ti / best_tm * Cfg::kMr);
  const int64_t i1 = std::min(pr.m, tiles_m * (ti + 1) / best_tm * Cfg::kMr);
  const int64_t j0 = std::min(pr.n, tiles_n * tj / tn * Cfg::kNr);
  const int64_t j1 = std::min(pr.n, tiles_n * (tj + 1) / tn * Cfg::kNr);
  if (i0 < i1 && j0 < j1) {
    run_blocked<T, Cfg>(sub_problem(pr, i0, i1, j0, j1), kernels);
  }
}

// Whether a big product should split over threads: more than one thread, and not already inside
// a parallel_for chunk or an OpenMP region (where a split would only run the cells one by one).
bool split_over_threads() {
  if (nabla::get_num_threads() <= 1 || nabla::detail::in_parallel_for()) {
    return false;
  }
#ifdef _OPENMP
  if (omp_in_parallel() != 0) {
    return false;
  }
#endif
  return true;
}

template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else {
      for (int64_t j = 0; j < n; ++j) {
        row[j] = beta * row[j];
      }
    }
  }
}

#if NABLA_GEMM_X86
// ---------------------------------------------------------------------------------------------
// Skinny driver: C with at most a few vectors' worth of columns (a classifier head, its weight
// gradient, a conv weight gradient with a long k) skips the packed path, whose 12 x 32 register
// tile would be mostly padding. Rows of C are split into tiles that threads take whole; each
// element is one kernel's fixed-order sum over all of k, so results do not depend on the thread
// count.
// ---------------------------------------------------------------------------------------------

template <class T>
using DotFn = void (*)(int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, T, T, T*,
                       int64_t, bool, bool);
template <class T>
using BcastFn = void (*)(int64_t, const T*, int64_t, int64_t, const T*, int64_t, int64_t, T*,
                         int64_t, T, T);

constexpr int kSkinnyMaxJ = 12;

template <class T>
struct SkinnyKernels {
  int64_t max_j;       // widest column tile: R x max_j (R <= 2) accumulators fit the registers
  int64_t bcast_rows;  // rows of C per "bcast" tile (2 vectors)
  std::array<DotFn<T>, kSkinnyMaxJ> dot1, dot2, dot4;  // [J - 1]; dot4 up to max_j / 3
  std::array<BcastFn<T>, kSkinnyMaxJ> bcast;
};

template <class Fn, template <class, int, int> class K, class T, int X, int... Js>
constexpr std::array<Fn, kSkinnyMaxJ> kernel_table(std::integer_sequence<int, Js...> /*js*/) {
  return {&K<T, X, Js + 1>::run...};
}

template <class T, template <class, int, int> class Dot, template <class, int, int> class Bcast,
          int MaxJ, int Lanes>
constexpr SkinnyKernels<T> make_skinny() {
  return {MaxJ,
          2 * Lanes,
          kernel_table<DotFn<T>, Dot, T, 1>(std::make_integer_sequence<int, MaxJ>()),
          kernel_table<DotFn<T>, Dot, T, 2>(std::make_integer_sequence<int, MaxJ>()),
          kernel_table<DotFn<T>, Dot, T, 4>(std::make_integer_sequence<int, MaxJ / 3>()),
          kernel_table<BcastFn<T>, Bcast, T, 2>(std::make_integer_sequence<int, MaxJ>())};
}

// Whether the skinny kernels take this product: at most `narrow` columns (A read in place by the
// "bcast" kernel when transposed, else by the "dot" kernel when k fills its vectors), or, with
// rows of both operands contiguous in k, at most `narrow` rows.
template <class T>
bool skinny_fits(const Problem<T>& pr, int64_t narrow) {
  if (pr.n <= narrow) {
    return pr.trans_a || pr.k >= 16;
  }
  return pr.m <= narrow && !pr.trans_a && pr.trans_b && pr.k >= 64;
}

// Runs f(0..count-1), across threads when the product is big enough to pay for a region. Tiles
// write disjoint parts of C, so any split gives the same bits.
template <class F>
void run_tiles(int64_t count, bool big, const F& f) {
  if (big && count > 1 && split_over_threads()) {
    // At most kMaxTileChunks claims: a tile can be a few rows of a skinny product, too small to
    // pay for one claim each.
    constexpr int64_t kMaxTileChunks = 64;
    const int64_t per_chunk = ceil_div(count, kMaxTileChunks);
    parallel_for(ceil_div(count, per_chunk), [&](int64_t c) {
      const int64_t last = std::min(count, (c + 1) * per_chunk);
      for (int64_t t = c * per_chunk; t < last; ++t) {
        f(t);
      }
    });
    return;
  }
  for (int64_t t = 0; t < count; ++t) {
    f(t);
  }
}

// Balanced column tiles of at most max_j.
inline int64_t column_tile(int64_t n, int64_t max_j) { return ceil_div(n, ceil_div(n, max_j)); }

// A Bt of up to kDotWholeBytes is taken over all of k at once (it stays in L2 and A streams in
// long runs); a bigger one (a conv weight gradient: k = batch x positions) in k blocks of
// kDotBlockBytes of Bt, which every row tile then rereads from L1. Measured on 128x10x512,
// 1024x16x1024 (blocks of 2 KiB of an A row cost 25%) and 32x9x43264 (unblocked costs 40%).
// kDotGroupRows: rows of C per group whose accumulators wait between blocks.
constexpr int64_t kDotWholeBytes = int64_t{256} * 1024;
constexpr int64_t kDotBlockBytes = int64_t{16} * 1024;
constexpr int64_t kDotGroupRows = 64;

template <class T>
void skinny_dot(const Problem<T>& pr, const SkinnyKernels<T>& kk, bool big) {
  const int64_t lanes = kk.bcast_rows / 2;
  const T* bt = pr.b;
  int64_t ldbt = pr.ldb;
  if (!pr.trans_b) {
    // B is k x n with n small: its transpose is a cheap n x k copy.
    T* packed = static_cast<T*>(tls_pack_b.get(static_cast<std::size_t>(pr.n * pr.k) * sizeof(T)));
    interleave_padded<T, true>(pr.b, pr.ldb, pr.k, pr.n, packed, pr.k);
    bt = packed;
    ldbt = pr.k;
  }
  const int64_t jw = column_tile(pr.n, kk.max_j);
  const int64_t r_max = jw <= kk.max_j / 3 ? 4 : 2;
  // Balanced k blocks, each a whole number of vectors except the last.
  const auto bt_bytes = static_cast<int64_t>(sizeof(T)) * pr.n * pr.k;
  const int64_t kb_cap =
      bt_bytes <= kDotWholeBytes
          ? pr.k
          : std::max<int64_t>(
                8 * lanes, kDotBlockBytes / static_cast<int64_t>(sizeof(T)) / pr.n / lanes * lanes);
  const int64_t kb = round_up(ceil_div(pr.k, ceil_div(pr.k, kb_cap)), lanes);
  const bool blocked = kb < pr.k;
  const int64_t srow = pr.n * lanes;
  T* states = nullptr;
  if (blocked) {
    states = static_cast<T*>(
        tls_pack_a.get(static_cast<std::size_t>(round_up(pr.m, kDotGroupRows) * srow) * sizeof(T)));
  }
  run_tiles(ceil_div(pr.m, kDotGroupRows), big, [&](int64_t g) {
    const int64_t g0 = g * kDotGroupRows;
    const int64_t g1 = std::min(pr.m, g0 + kDotGroupRows);
    for (int64_t p0 = 0; p0 < pr.k; p0 += kb) {
      const int64_t kc = std::min(kb, pr.k - p0);
      const bool first = p0 == 0;
      const bool last = p0 + kc == pr.k;
      for (int64_t i = g0; i < g1;) {
        const int64_t left = g1 - i;
        const int64_t rows = left >= r_max ? r_max : (left >= 2 ? 2 : 1);
        const std::array<DotFn<T>, kSkinnyMaxJ>& table =
            rows == 4 ? kk.dot4 : (rows == 2 ? kk.dot2 : kk.dot1);
        for (int64_t j0 = 0; j0 < pr.n; j0 += jw) {
          const int64_t jn = std::min(jw, pr.n - j0);
          T* state = blocked ? states + i * srow + j0 * lanes : nullptr;
          table[static_cast<std::size_t>(jn - 1)](
              kc, pr.a + i * pr.lda + p0, pr.lda, bt + j0 * ldbt + p0, ldbt, pr.c + i * pr.ldc + j0,
              pr.ldc, pr.alpha, pr.beta, state, srow, first, last);
        }
        i += rows;
      }
    }
  });
}

template <class T>
void skinny_bcast(const Problem<T>& pr, const SkinnyKernels<T>& kk, bool big) {
  const int64_t sbp = pr.trans_b ? 1 : pr.ldb;
  const int64_t sbj = pr.trans_b ? pr.ldb : 1;
  const int64_t jw = column_tile(pr.n, kk.max_j);
  run_tiles(ceil_div(pr.m, kk.bcast_rows), big, [&](int64_t t) {
    const int64_t i0 = t * kk.bcast_rows;
    const int64_t rows = std::min(kk.bcast_rows, pr.m - i0);
    for (int64_t j0 = 0; j0 < pr.n; j0 += jw) {
      const int64_t jn = std::min(jw, pr.n - j0);
      kk.bcast[static_cast<std::size_t>(jn - 1)](pr.k, pr.a + i0, pr.lda, rows, pr.b + j0 * sbj,
                                                 sbp, sbj, pr.c + i0 * pr.ldc + j0, pr.ldc,
                                                 pr.alpha, pr.beta);
    }
  });
}
#endif  // NABLA_GEMM_X86

template <class T, class Cfg>
void gemm_with(const Problem<T>& pr, const Kernels<T>& kernels,
               const void* skinny_kernels = nullptr) {
  if (pr.m <= 0 || pr.n <= 0) {
    return;
  }
  if (pr.k <= 0 || pr.alpha == T(0)) {
    scale_c(pr.m, pr.n, pr.beta, pr.c, pr.ldc);
    return;
  }
  // Compared as m*n against work/k so that m*n*k cannot overflow.
  const bool big = pr.m * pr.n > kParallelMinWork / pr.k;
#if NABLA_GEMM_X86
  if (skinny_kernels != nullptr && skinny_fits(pr, Cfg::kNr / 2)) {
    const auto& kk = *static_cast<const SkinnyKernels<T>*>(skinny_kernels);
    if (pr.trans_a && pr.n <= Cfg::kNr / 2) {
      skinny_bcast(pr, kk, big);
    } else {
      skinny_dot(pr, kk, big);
    }
    return;
  }
#endif
  if (big && split_over_threads()) {
    // One chunk per grid cell; a cell the workers have not claimed runs on the caller. The grid
    // follows the thread count, but not a bit of C does (see the blocked driver above).
    const int nthreads = nabla::get_num_threads();
    parallel_for(nthreads, [&](int64_t cell) {
      run_parallel<T, Cfg>(pr, kernels, static_cast<int>(cell), nthreads);
    });
    return;
  }
  run_blocked<T, Cfg>(pr, kernels);
}

// Register tiles: AVX-512 keeps a 12 x 2-vector accumulator block (24 of 32 zmm), AVX2 a 6 x 2
// block (12 of 16 ymm). KC keeps a B micro-panel in L1, MC x KC of A in L2, KC x NC in L3.
// NOTE: float AVX-512 takes KC 384, a third fewer passes over C than KC 256 (4-10% on squares
// 256..2048), and then keeps its 18 KiB A micro-panel in L1 and streams the 48 KiB B micro-panels
// from a 1.5 MiB KC x NC block in L2 (another 3-6% on squares 1024 and 2048; interleaved runs).
// Those L2 streams lose the kernel ~9% against its rate from L1 (perf: 92% of the time in the
// kernel, 7% packing); prefetching B 4 KiB (32 k steps) ahead wins 1-5% on squares 1024 and 2048
// (3 interleaved rounds, every one faster; 1 and 2 KiB gained less, 8 KiB the same, 256 and 512
// unchanged). MC 48/96, NC 768 and KC 512 measured within noise.
using F32Avx512 = Config<float, 12, 32, 264, 384, 1024, true, true, 1024>;
using F64Avx512 = Config<double, 12, 16, 264, 256, 2048, true>;
using F32Avx2 = Config<float, 6, 16, 144, 256, 4096, true>;
using F64Avx2 = Config<double, 6, 8, 96, 256, 2048, true>;
using F32Scalar = Config<float, 4, 4, 128, 256, 2048, false>;
using F64Scalar = Config<double, 4, 4, 128, 256, 2048, false>;

enum class Isa { Scalar, Avx2, Avx512 };

// NABLA_GEMM_ISA=scalar|avx2 forces a slower kernel so tests can cover every path on one machine.
Isa detect_isa() {
  Isa best = Isa::Scalar;
#if NABLA_GEMM_X86
  __builtin_cpu_init();
  // Both SIMD paths pack with AVX2 shuffles, so AVX-512 is only taken alongside AVX2 + FMA.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    best = __builtin_cpu_supports("avx512f") ? Isa::Avx512 : Isa::Avx2;
  }
#endif
  if (const char* force = std::getenv("NABLA_GEMM_ISA")) {
    if (std::strcmp(force, "scalar") == 0) {
      best = Isa::Scalar;
    }
    if (std::strcmp(force, "avx2") == 0 && best == Isa::Avx512) {
      best = Isa::Avx2;
    }
  }
  return best;
}

Isa isa() {
  static const Isa kChosen = detect_isa();
  return kChosen;
}

template <class T, class C512, class C2, class CScalar>
void dispatch(const Problem<T>& pr) {
  switch (isa()) {
#if NABLA_GEMM_X86
    case Isa::Avx512: {
      constexpr int kMr = C512::kMr;
      constexpr int kNv = C512::kNr / (64 / int(sizeof(T)));
      constexpr int kPf = C512::kPrefetchB;
      static constexpr Kernels<T> kKernels{&kernel_avx512<T, kMr, kNv, kMr, kPf>,
                                           &kernel_avx512<T, kMr, kNv, 2 * kMr / 3, kPf>,
                                           &kernel_avx512<T, kMr, kNv, kMr / 3, kPf>};
      static constexpr SkinnyKernels<T> kSkinny =
          make_skinny<T, DotAvx512, BcastAvx512, 12, Avx512<T>::kLanes>();
      gemm_with<T, C512>(pr, kKernels, &kSkinny);
      return;
    }
    case Isa::Avx2: {
      constexpr int kMr = C2::kMr;
      constexpr int kNv = C2::kNr / (32 / int(sizeof(T)));
      static constexpr Kernels<T> kKernels{&kernel_avx2<T, kMr, kNv, kMr>,
                                           &kernel_avx2<T, kMr, kNv, 2 * kMr / 3>,
                                           &kernel_avx2<T, kMr, kNv, kMr / 3>};
      static constexpr SkinnyKernels<T> kSkinny =
          make_skinny<T, DotAvx2, BcastAvx2, 6, Avx2<T>::kLanes>();
      gemm_with<T, C2>(pr, kKernels, &kSkinny);
      return;
    }
#endif
    default: {
      constexpr auto kScalar = &kernel_scalar<T, CScalar::kMr, CScalar::kNr>;
      static constexpr Kernels<T> kKernels{kScalar, kScalar, kScalar};
      gemm_with<T, CScalar>(pr, kKernels);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gemm_offset_b: K blocks, then M blocks of packed A, then NR-column tiles read in place. For a
// column tile the kc rows of B it reads stay in L1 while every row tile of the M block uses them.
// The K split depends only on k, so each element's sum has one fixed order.
// ---------------------------------------------------------------------------------------------

template <class T>
using OffsetKernelFn = void (*)(int64_t, const T*, const T*, const int64_t*, T*, int64_t, int64_t,
                                int64_t, bool);

template <class T>
struct OffsetKernels {
  OffsetKernelFn<T> full, two_thirds, one_third;
  [[nodiscard]] OffsetKernelFn<T> for_rows(int64_t mr, int64_t full_rows) const {
    if (3 * mr <= full_rows) {
      return one_third;
    }
    if (3 * mr <= 2 * full_rows) {
      return two_thirds;
    }
    return full;
  }
};

template <class T, class Cfg>
void offset_gemm_with(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                      const int64_t* offsets, T* c, int64_t ldc, const OffsetKernels<T>& kernels) {
  static_assert(Cfg::kNr <= kGemmOffsetSlack, "tiles must fit the documented slack");
  constexpr int64_t kMr = Cfg::kMr;
  constexpr int64_t kNr = Cfg::kNr;
  if (m <= 0 || n <= 0) {
    return;
  }
  if (k <= 0) {
    scale_c(m, n, T(0), c, ldc);
    return;
  }
  const int64_t k_blocks = ceil_div(k, Cfg::kKc);
  const int64_t kc_max = round_up(ceil_div(k, k_blocks), 8);
  const int64_t m_blocks = ceil_div(m, Cfg::kMc);
  const int64_t mc_max = round_up(ceil_div(m, m_blocks), kMr);
  T* packed_a =
      static_cast<T*>(tls_pack_a.get(static_cast<std::size_t>(mc_max * kc_max) * sizeof(T)));
  for (int64_t pc = 0; pc < k; pc += kc_max) {
    const int64_t kc = std::min(kc_max, k - pc);
    for (int64_t ic = 0; ic < m; ic += mc_max) {
      const int64_t mc = std::min(mc_max, m - ic);
      pack_a<T, Cfg::kMr, Cfg::kSimdPack>(false, a, lda, ic, pc, mc, kc, packed_a);
      for (int64_t jr = 0; jr < n; jr += kNr) {
        const int64_t nr = std::min(kNr, n - jr);
        for (int64_t ir = 0; ir < mc; ir += kMr) {
          const int64_t mr = std::min(kMr, mc - ir);
          kernels.for_rows(mr, kMr)(kc, packed_a + ir * kc, b + jr, offsets + pc,
                                    c + (ic + ir) * ldc + jr, ldc, mr, nr, pc > 0);
        }
      }
    }
  }
}

template <class T, class C512, class C2, class CScalar>
void dispatch_offset(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                     const int64_t* offsets, T* c, int64_t ldc) {
  switch (isa()) {
#if NABLA_GEMM_X86
    case Isa::Avx512: {
      constexpr int kMr = C512::kMr;
      constexpr int kNv = C512::kNr / (64 / int(sizeof(T)));
      static constexpr OffsetKernels<T> kKernels{&offset_kernel_avx512<T, kMr, kNv, kMr>,
                                                 &offset_kernel_avx512<T, kMr, kNv, 2 * kMr / 3>,
                                                 &offset_kernel_avx512<T, kMr, kNv, kMr / 3>};
      offset_gemm_with<T, C512>(m, n, k, a, lda, b, offsets, c, ldc, kKernels);
      return;
    }
    case Isa::Avx2: {
      constexpr int kMr = C2::kMr;
      constexpr int kNv = C2::kNr / (32 / int(sizeof(T)));
      static constexpr OffsetKernels<T> kKernels{&offset_kernel_avx2<T, kMr, kNv, kMr>,
                                                 &offset_kernel_avx2<T, kMr, kNv, 2 * kMr / 3>,
                                                 &offset_kernel_avx2<T, kMr, kNv, kMr / 3>};
      offset_gemm_with<T, C2>(m, n, k, a, lda, b, offsets, c, ldc, kKernels);
      return;
    }
#endif
    default: {
      constexpr auto kScalar = &offset_kernel_scalar<T, CScalar::kMr, CScalar::kNr>;
      static constexpr OffsetKernels<T> kKernels{kScalar, kScalar, kScalar};
      offset_gemm_with<T, CScalar>(m, n, k, a, lda, b, offsets, c, ldc, kKernels);
      return;
    }
  }
}

// gemm_gather_a: K blocks of at most kGatherStep; per block and NR-column panel, B is packed from
// bt (transposed, zero padded) into an L1-sized panel that every row tile of C then passes over.
// The K split depends only on k and C accumulates block after block: a fixed order.
template <class T>
using GatherKernelFn = void (*)(int64_t, const T* const*, const int64_t*, const T*, T*, int64_t,
                                int64_t, int64_t, bool);

template <class T>
struct GatherKernels {
  GatherKernelFn<T> full, two_thirds, one_third;
};

constexpr int64_t kGatherStep = 192;

template <class T, class Cfg>
void gather_a_with(int64_t m, int64_t n, int64_t k, const T* a, const int64_t* a_offsets,
                   const int64_t* k_offsets, const T* bt, int64_t ldbt, T* c, int64_t ldc,
                   bool accumulate, const GatherKernels<T>& kernels) {
  constexpr int64_t kMr = Cfg::kMr;
  constexpr int64_t kNr = Cfg::kNr;
  if (m <= 0 || n <= 0) {
    return;
  }
  if (k <= 0) {
    if (!accumulate) {
      scale_c(m, n, T(0), c, ldc);
    }
    return;
  }
  const int64_t kc_max = ceil_div(k, ceil_div(k, kGatherStep));
  T* packed = static_cast<T*>(tls_pack_b.get(static_cast<std::size_t>(kc_max * kNr) * sizeof(T)));
  for (int64_t pc = 0; pc < k; pc += kc_max) {
    const int64_t kc = std::min(kc_max, k - pc);
    const bool load_c = accumulate || pc > 0;
    for (int64_t jr = 0; jr < n; jr += kNr) {
      const int64_t nr = std::min(kNr, n - jr);
      pack_b_panel<T, kNr, Cfg::kSimdPack>(true, bt, ldbt, pc, jr, kc, nr, packed);
      for (int64_t ir = 0; ir < m; ir += kMr) {
        const int64_t mr = std::min(kMr, m - ir);
        const T* a_rows[kMr];
        for (int64_t i = 0; i < kMr; ++i) {
          a_rows[i] = a + a_offsets[ir + (i < mr ? i : 0)];
        }
        GatherKernelFn<T> kernel = kernels.full;
        if (3 * mr <= kMr) {
          kernel = kernels.one_third;
        } else if (3 * mr <= 2 * kMr) {
          kernel = kernels.two_thirds;
        }
        kernel(kc, a_rows, k_offsets + pc, packed, c + ir * ldc + jr, ldc, mr, nr, load_c);
      }
    }
  }
}

template <class T, class C512, class C2, class CScalar>
void dispatch_gather_a(int64_t m, int64_t n, int64_t k, const T* a, const int64_t* a_offsets,
                       const int64_t* k_offsets, const T* bt, int64_t ldbt, T* c, int64_t ldc,
                       bool accumulate) {
  switch (isa()) {
#if NABLA_GEMM_X86
    case Isa::Avx512: {
      constexpr int kMr = C512::kMr;
      constexpr int kNv = C512::kNr / (64 / int(sizeof(T)));
      static constexpr GatherKernels<T> kKernels{&gather_a_kernel_avx512<T, kNv, kMr>,
                                                 &gather_a_kernel_avx512<T, kNv, 2 * kMr / 3>,
                                                 &gather_a_kernel_avx512<T, kNv, kMr / 3>};
      gather_a_with<T, C512>(m, n, k, a, a_offsets, k_offsets, bt, ldbt, c, ldc, accumulate,
                             kKernels);
      return;
    }
    case Isa::Avx2: {
      constexpr int kMr = C2::kMr;
      constexpr int kNv = C2::kNr / (32 / int(sizeof(T)));
      static constexpr GatherKernels<T> kKernels{&gather_a_kernel_avx2<T, kNv, kMr>,
                                                 &gather_a_kernel_avx2<T, kNv, 2 * kMr / 3>,
                                                 &gather_a_kernel_avx2<T, kNv, kMr / 3>};
      gather_a_with<T, C2>(m, n, k, a, a_offsets, k_offsets, bt, ldbt, c, ldc, accumulate,
                           kKernels);
      return;
    }
#endif
    default: {
      constexpr auto kScalar = &gather_a_kernel_scalar<T, CScalar::kNr, CScalar::kMr>;
      static constexpr GatherKernels<T> kKernels{kScalar, kScalar, kScalar};
      gather_a_with<T, CScalar>(m, n, k, a, a_offsets, k_offsets, bt, ldbt, c, ldc, accumulate,
                                kKernels);
      return;
    }
  }
}

// Integer products are exact, so order is free; unsigned arithmetic makes overflow wrap instead
// of being undefined.
void gemm_int64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t alpha,
                const int64_t* a, int64_t lda, const int64_t* b, int64_t ldb, int64_t beta,
                int64_t* c, int64_t ldc) {
  using U = uint64_t;
  if (m <= 0 || n <= 0) {
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    int64_t* crow = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      crow[j] =
          beta == 0 ? 0 : static_cast<int64_t>(static_cast<U>(beta) * static_cast<U>(crow[j]));
    }
    if (alpha == 0) {
      continue;
    }
    if (!trans_b) {
      for (int64_t p = 0; p < k; ++p) {
        const int64_t av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const U s = static_cast<U>(alpha) * static_cast<U>(av);
        const int64_t* brow = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) {
          crow[j] = static_cast<int64_t>(static_cast<U>(crow[j]) + s * static_cast<U>(brow[j]));
        }
      }
    } else {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t* brow = b + j * ldb;
        U acc = 0;
        for (int64_t p = 0; p < k; ++p) {
          const int64_t av = trans_a ? a[p * lda + i] : a[i * lda + p];
          acc += static_cast<U>(av) * static_cast<U>(brow[p]);
        }
        crow[j] = static_cast<int64_t>(static_cast<U>(crow[j]) + static_cast<U>(alpha) * acc);
      }
    }
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  dispatch<float, F32Avx512, F32Avx2, F32Scalar>(
      {trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
  dispatch<double, F64Avx512, F64Avx2, F64Scalar>(
      {trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t alpha,
          const int64_t* a, int64_t lda, const int64_t* b, int64_t ldb, int64_t beta, int64_t* c,
          int64_t ldc) {
  gemm_int64(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_offset_b(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                   const int64_t* b_offsets, float* c, int64_t ldc) {
  dispatch_offset<float, F32Avx512, F32Avx2, F32Scalar>(m, n, k, a, lda, b, b_offsets, c, ldc);
}

void gemm_offset_b(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                   const int64_t* b_offsets, double* c, int64_t ldc) {
  dispatch_offset<double, F64Avx512, F64Avx2, F64Scalar>(m, n, k, a, lda, b, b_offsets, c, ldc);
}

void gemm_gather_a(int64_t m, int64_t n, int64_t k, const float* a, const int64_t* a_offsets,
                   const int64_t* k_offsets, const float* bt, int64_t ldbt, float* c, int64_t ldc,
                   bool accumulate) {
  dispatch_gather_a<float, F32Avx512, F32Avx2, F32Scalar>(m, n, k, a, a_offsets, k_offsets, bt,
                                                          ldbt, c, ldc, accumulate);
}

void gemm_gather_a(int64_t m, int64_t n, int64_t k, const double* a, const int64_t* a_offsets,
                   const int64_t* k_offsets, const double* bt, int64_t ldbt, double* c, int64_t ldc,
                   bool accumulate) {
  dispatch_gather_a<double, F64Avx512, F64Avx2, F64Scalar>(m, n, k, a, a_offsets, k_offsets, bt,
                                                           ldbt, c, ldc, accumulate);
}

}  // namespace nabla::kernels
