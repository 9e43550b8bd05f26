// The FP32 arithmetic peak this machine actually gives one thread, to judge GEMM rates against:
// register-only loops of independent FMA chains (AVX-512 zmm, AVX2 ymm), the GEMM micro-kernel's
// own pattern (two B vector loads and twelve A broadcasts from L1 per k step, 24 zmm
// accumulators), and the core clock from a chain of dependent integer adds (one cycle each), so
// FLOP/s over Hz gives FLOPs per cycle: 64 for two 512-bit FMA ports, 32 for one. Rates use CPU
// time (the machine is shared). Each benchmark registers only when the CPU has its ISA.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>

namespace {

constexpr int64_t kInner = 1024;  // loop trips per benchmark iteration

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] = benchmark::Counter(
      flops_per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// acc = acc * x + y converges to y / (1 - x) = 0.1: no overflow, no denormals.
// Each call starts from the previous call's result (seed), so none can be hoisted out of the
// benchmark loop, and returns the chains' mean, so every chain is live.
template <int kChains>
__attribute__((target("avx512f"))) float fma_zmm(int64_t trips, float seed) {
  __m512 acc[kChains];
#pragma GCC unroll 32
  for (int i = 0; i < kChains; ++i) {
    acc[i] = _mm512_set1_ps(seed + static_cast<float>(i) * 1e-3F);
  }
  const __m512 x = _mm512_set1_ps(0.999999F);
  const __m512 y = _mm512_set1_ps(1e-7F);
  for (int64_t t = 0; t < trips; ++t) {
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) {
      acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
  }
  __m512 s = acc[0];
#pragma GCC unroll 32
  for (int i = 1; i < kChains; ++i) {
    s = _mm512_add_ps(s, acc[i]);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0] / kChains;
}

template <int kChains>
__attribute__((target("avx2,fma"))) float fma_ymm(int64_t trips, float seed) {
  __m256 acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) {
    acc[i] = _mm256_set1_ps(seed + static_cast<float>(i) * 1e-3F);
  }
  const __m256 x = _mm256_set1_ps(0.999999F);
  const __m256 y = _mm256_set1_ps(1e-7F);
  for (int64_t t = 0; t < trips; ++t) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) {
      acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
  }
  __m256 s = acc[0];
#pragma GCC unroll 16
  for (int i = 1; i < kChains; ++i) {
    s = _mm256_add_ps(s, acc[i]);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  return lanes[0] / kChains;
}

template <int kChains>
void bm_fma_peak_zmm(benchmark::State& state) {
  float sink = 0.0F;
  for (auto _ : state) {
    sink = fma_zmm<kChains>(kInner, sink);
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, 2.0 * 16 * kChains * kInner);
}

template <int kChains>
void bm_fma_peak_ymm(benchmark::State& state) {
  float sink = 0.0F;
  for (auto _ : state) {
    sink = fma_ymm<kChains>(kInner, sink);
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, 2.0 * 8 * kChains * kInner);
}

// The packed GEMM micro-kernel's loop (12 rows x 2 zmm of 16 columns) over panels that stay in
// L1 (kc = 64: 3 KiB of A, 8 KiB of B): per k step two aligned B loads, twelve A broadcasts
// (folded into the FMAs as {1to16} memory operands) and 24 FMAs.
constexpr int kRows = 12;
constexpr int kKc = 64;

__attribute__((target("avx512f"))) float bcast_kernel(const float* a, const float* b,
                                                      int64_t passes, float seed) {
  __m512 acc[kRows][2];
#pragma GCC unroll 16
  for (auto& row : acc) {
    row[0] = _mm512_set1_ps(seed);
    row[1] = _mm512_set1_ps(seed);
  }
  for (int64_t pass = 0; pass < passes; ++pass) {
    const float* ap = a;
    const float* bp = b;
#pragma GCC unroll 4
    for (int p = 0; p < kKc; ++p) {
      const __m512 b0 = _mm512_load_ps(bp);
      const __m512 b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {
        const __m512 av = _mm512_set1_ps(ap[i]);
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
      }
      ap += kRows;
      bp += 32;
    }
  }
  __m512 s = _mm512_setzero_ps();
#pragma GCC unroll 16
  for (const auto& row : acc) {
    s = _mm512_add_ps(s, _mm512_add_ps(row[0], row[1]));
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0] / (2 * kRows);
}

void bm_fma_peak_bcast_load(benchmark::State& state) {
  // Tiny values keep the sums far from overflow over many passes.
  std::vector<float> a_buf(kRows * kKc + 16, 1e-6F);
  std::vector<float> b_buf(32 * kKc + 16, 1e-6F);
  // 64-byte aligned B rows (the kernel uses aligned loads, as on packed panels).
  float* b = b_buf.data();
  while ((reinterpret_cast<uintptr_t>(b) & 63U) != 0) {
    ++b;
  }
  constexpr int64_t kPasses = kInner / kKc * 8;
  float sink = 0.0F;
  for (auto _ : state) {
    sink = bcast_kernel(a_buf.data(), b, kPasses, sink);
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, 2.0 * kRows * 32 * kKc * kPasses);
}

// The core clock from 64 dependent register-register integer adds per trip (one cycle each; not
// `add $imm`, whose chains Golden Cove's renamer collapses, making them look faster than the
// clock), and, as a cross-check, from 64 dependent imuls (3 cycles each). trips x cycles / CPU
// time is the clock; the loop's own increment and branch run alongside.
template <bool kImul>
void bm_core_clock(benchmark::State& state) {
  uint64_t x = 1;
  uint64_t one = 1;
  benchmark::DoNotOptimize(one);
  for (auto _ : state) {
    for (int64_t t = 0; t < kInner; ++t) {
      if constexpr (kImul) {
#define NABLA_OP8                                                \
  "imul %1, %0\n\timul %1, %0\n\timul %1, %0\n\timul %1, %0\n\t" \
  "imul %1, %0\n\timul %1, %0\n\timul %1, %0\n\timul %1, %0\n\t"
        __asm__ volatile(
            NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8
            : "+r"(x)
            : "r"(one));
#undef NABLA_OP8
      } else {
#define NABLA_OP8                                            \
  "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t" \
  "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
        __asm__ volatile(
            NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8 NABLA_OP8
            : "+r"(x)
            : "r"(one));
#undef NABLA_OP8
      }
    }
    benchmark::DoNotOptimize(x);
  }
  const double cycles = (kImul ? 3.0 : 1.0) * 64.0 * static_cast<double>(kInner);
  state.counters["Hz"] = benchmark::Counter(cycles * static_cast<double>(state.iterations()),
                                            benchmark::Counter::kIsRate);
}

const bool kRegistered = [] {
  __builtin_cpu_init();
  benchmark::RegisterBenchmark("BM_CoreClock/add_chain", bm_core_clock<false>);
  benchmark::RegisterBenchmark("BM_CoreClock/imul_chain", bm_core_clock<true>);
  if (__builtin_cpu_supports("avx512f")) {
    // 4 chains show the latency bound (4 cycles), 8 cover it on two ports, 24/30 as in a GEMM.
    benchmark::RegisterBenchmark("BM_FmaPeak/zmm_4chains", bm_fma_peak_zmm<4>);
    benchmark::RegisterBenchmark("BM_FmaPeak/zmm_8chains", bm_fma_peak_zmm<8>);
    benchmark::RegisterBenchmark("BM_FmaPeak/zmm_24chains", bm_fma_peak_zmm<24>);
    benchmark::RegisterBenchmark("BM_FmaPeak/zmm_30chains", bm_fma_peak_zmm<30>);
    benchmark::RegisterBenchmark("BM_FmaPeak/zmm_12x2_bcast_load_L1", bm_fma_peak_bcast_load);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    benchmark::RegisterBenchmark("BM_FmaPeak/ymm_12chains", bm_fma_peak_ymm<12>);
  }
  return true;
}();

}  // namespace
#endif  // __x86_64__
