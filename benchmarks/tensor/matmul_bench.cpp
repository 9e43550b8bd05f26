// Tensor-level matmul (allocation included) on float32: squares 64..2048, the MLP's Dense layer
// [128, 784] @ [784, 512], and the skinny products of its classifier head [128, 512] @ [512, 10]
// with the two backward products (dX = dY @ W^T, dW = X^T @ dY: transposed views, as autograd
// passes them); FLOP/s = 2mnk. LibTorch's torch::mm next to each when found; the raw GEMM against
// OpenBLAS's cblas_sgemm is in gemm_bench.cpp.
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

void BM_Matmul(benchmark::State& state, int64_t m, int64_t n, int64_t k, bool trans_a,
               bool trans_b) {
  const Tensor a = trans_a ? nabla::randn({k, m}).transpose(0, 1) : nabla::randn({m, k});
  const Tensor b = trans_b ? nabla::randn({n, k}).transpose(0, 1) : nabla::randn({k, n});
  for (auto _ : state) {
    Tensor c = nabla::kernels::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  nabla_bench::set_matmul_counters(state, m, n, k);
}

struct MatmulShape {
  const char* label;
  int64_t m, n, k;
  bool trans_a = false, trans_b = false;
};
constexpr MatmulShape kShapes[] = {
    {"square64", 64, 64, 64},
    {"square128", 128, 128, 128},
    {"square256", 256, 256, 256},
    {"square512", 512, 512, 512},
    {"square1024", 1024, 1024, 1024},
    {"square2048", 2048, 2048, 2048},
    {"mlp_128x784x512", 128, 512, 784},
    {"head_fwd_128x10x512", 128, 10, 512},
    {"head_dx_128x512x10_bT", 128, 512, 10, false, true},
    {"head_dw_512x10x128_aT", 512, 10, 128, true, false},
};

const bool kRegistered = [] {
  for (const MatmulShape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("BM_NablaMatmul/") + s.label).c_str(), BM_Matmul, s.m,
                                 s.n, s.k, s.trans_a, s.trans_b)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark((std::string("BM_TorchMatmul/") + s.label).c_str(),
                                 nabla_bench::torch_ref::mm_transposed, s.m, s.n, s.k, s.trans_a,
                                 s.trans_b)
        ->UseRealTime();
#endif
  }
  return true;
}();

}  // namespace
