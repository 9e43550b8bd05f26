// FLOP/s of nabla's GEMM next to OpenBLAS (cblas_sgemm / cblas_dgemm) on the same shapes, in one
// binary so the two are measured under the same load. Run with OPENBLAS_CORETYPE naming the
// CPU's best kernels (OpenBLAS's own detection falls back to Prescott on these VMs;
// `./scripts/nabla bench` sets it) and matching OMP_NUM_THREADS / OPENBLAS_NUM_THREADS. Without
// OpenBLAS (NABLA_BENCH_OPENBLAS unset) only nabla's side is registered.
#include <benchmark/benchmark.h>
#ifdef NABLA_BENCH_OPENBLAS
#include <cblas.h>
#endif

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tensor/kernels/gemm.h"

namespace {

struct GemmShape {
  const char* label;
  bool trans_a, trans_b;
  int64_t m, n, k;
};

// Square sizes plus the Dense layer of the MLP ([128x784]@[784x512]) and its two backward
// products: dX = dY @ W^T and dW = X^T @ dY; then the skinny products of a classifier head
// ([128x512]@[512x10], dX = dY @ W^T with k = 10, dW = X^T @ dY with n = 10) and of a conv weight
// gradient with a long K (32 output channels x 9 taps over 64 images of 26x26 positions, both
// orientations).
const GemmShape kShapes[] = {
    {"square64", false, false, 64, 64, 64},
    {"square128", false, false, 128, 128, 128},
    {"square256", false, false, 256, 256, 256},
    {"square512", false, false, 512, 512, 512},
    {"square1024", false, false, 1024, 1024, 1024},
    {"square2048", false, false, 2048, 2048, 2048},
    {"mlp_fwd_128x784x512", false, false, 128, 512, 784},
    {"mlp_dx_128x512x784_bT", false, true, 128, 784, 512},
    {"mlp_dw_784x128x512_aT", true, false, 784, 512, 128},
    {"head_fwd_128x10x512", false, false, 128, 10, 512},
    {"head_dx_128x512x10_bT", false, true, 128, 512, 10},
    {"head_dw_512x10x128_aT", true, false, 512, 10, 128},
    {"conv1_dw_32x9x43264_bT", false, true, 32, 9, 43264},
    {"conv1_dw_9x32x43264_bT", false, true, 9, 32, 43264},
    {"skinny_16x1024x1024", false, false, 16, 1024, 1024},
    {"skinny_1024x16x1024", false, false, 1024, 16, 1024},
};

template <class T>
struct Operands {
  std::vector<T> a, b, c;
  int64_t lda, ldb, ldc;
  Operands(const GemmShape& s) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
    a.resize(static_cast<size_t>(s.m * s.k));
    b.resize(static_cast<size_t>(s.k * s.n));
    c.assign(static_cast<size_t>(s.m * s.n), T(0));
    for (auto& v : a) {
      v = static_cast<T>(dist(rng));
    }
    for (auto& v : b) {
      v = static_cast<T>(dist(rng));
    }
    lda = s.trans_a ? s.m : s.k;
    ldb = s.trans_b ? s.k : s.n;
    ldc = s.n;
  }
};

enum class Library { kNone, kNabla, kOpenBlas };
Library last_library = Library::kNone;

// OpenBLAS's pthread workers busy-wait for a while (its THREAD_TIMEOUT, ~2^28 cycles) after each
// call, and libgomp's workers spin briefly too; on two cores the next library's threads would
// fight them. Pausing outside the timed loop lets the other pool park first.
void settle_after_switch(Library now) {
  if (last_library != Library::kNone && last_library != now) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  last_library = now;
}

void set_flops(benchmark::State& state, const GemmShape& s) {
  state.counters["FLOPS"] =
      benchmark::Counter(2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) *
                             static_cast<double>(s.k) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

template <class T>
void BM_NablaGemm(benchmark::State& state, GemmShape s) {
  Operands<T> o(s);
  settle_after_switch(Library::kNabla);
  for (auto _ : state) {
    nabla::kernels::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, T(1), o.a.data(), o.lda, o.b.data(),
                         o.ldb, T(0), o.c.data(), o.ldc);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}

#ifdef NABLA_BENCH_OPENBLAS
template <class T>
void BM_OpenBlasGemm(benchmark::State& state, GemmShape s) {
  Operands<T> o(s);
  const CBLAS_TRANSPOSE ta = s.trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = s.trans_b ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(s.m);
  const auto n = static_cast<blasint>(s.n);
  const auto k = static_cast<blasint>(s.k);
  const auto lda = static_cast<blasint>(o.lda);
  const auto ldb = static_cast<blasint>(o.ldb);
  const auto ldc = static_cast<blasint>(o.ldc);
  settle_after_switch(Library::kOpenBlas);
  for (auto _ : state) {
    if constexpr (sizeof(T) == 4) {
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0F, o.a.data(), lda, o.b.data(), ldb, 0.0F,
                  o.c.data(), ldc);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, o.a.data(), lda, o.b.data(), ldb, 0.0,
                  o.c.data(), ldc);
    }
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, s);
}
#endif

// Registered shape by shape, nabla then OpenBLAS, so that neighbours in the output ran close in
// time on a shared machine.
const bool kRegistered = [] {
#ifdef NABLA_BENCH_OPENBLAS
  // Which OpenBLAS kernel ran: it follows OPENBLAS_CORETYPE, and its autodetection misses
  // AVX-512 on some virtual machines (Prescott here), which is no fair reference.
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
#endif
  for (const GemmShape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("BM_NablaSgemm/") + s.label).c_str(),
                                 BM_NablaGemm<float>, s)
        ->UseRealTime();
#ifdef NABLA_BENCH_OPENBLAS
    benchmark::RegisterBenchmark((std::string("BM_OpenBlasSgemm/") + s.label).c_str(),
                                 BM_OpenBlasGemm<float>, s)
        ->UseRealTime();
#endif
  }
  for (const GemmShape& s : kShapes) {
    if (s.m * s.n * s.k < int64_t{256} * 256 * 256) {
      continue;
    }
    benchmark::RegisterBenchmark((std::string("BM_NablaDgemm/") + s.label).c_str(),
                                 BM_NablaGemm<double>, s)
        ->UseRealTime();
#ifdef NABLA_BENCH_OPENBLAS
    benchmark::RegisterBenchmark((std::string("BM_OpenBlasDgemm/") + s.label).c_str(),
                                 BM_OpenBlasGemm<double>, s)
        ->UseRealTime();
#endif
  }
  return true;
}();

}  // namespace
