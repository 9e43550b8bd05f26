// Tensor-level matmul (allocation included) on float32: squares 64..1024 and the MLP's Dense layer
// [128, 784] @ [784, 512]; FLOP/s = 2mnk. LibTorch's torch::mm next to each when found; the raw
// GEMM against OpenBLAS's cblas_sgemm is in gemm_bench.cpp.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "bench_counters.h"
#include "tensor/kernels/kernels.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "torch_reference.h"

namespace {

using nabla::Tensor;

void BM_Matmul(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  const Tensor a = nabla::randn({m, k});
  const Tensor b = nabla::randn({k, n});
  for (auto _ : state) {
    Tensor c = nabla::kernels::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  nabla_bench::set_matmul_counters(state, m, n, k);
}

struct MatmulShape {
  const char* label;
  int64_t m, n, k;
};
constexpr MatmulShape kShapes[] = {
    {"square64", 64, 64, 64},         {"square128", 128, 128, 128},
    {"square256", 256, 256, 256},     {"square512", 512, 512, 512},
    {"square1024", 1024, 1024, 1024}, {"mlp_128x784x512", 128, 512, 784},
};

const bool kRegistered = [] {
  for (const MatmulShape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("BM_NablaMatmul/") + s.label).c_str(), BM_Matmul, s.m,
                                 s.n, s.k)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark((std::string("BM_TorchMatmul/") + s.label).c_str(),
                                 nabla_bench::torch_ref::mm, s.m, s.n, s.k)
        ->UseRealTime();
#endif
  }
  return true;
}();

}  // namespace
