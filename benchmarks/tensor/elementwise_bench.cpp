// Memory-bound elementwise kernels on float32, 1e3..1e7 elements: a + b and a * b (same shape),
// a += b, a + b with b broadcast over rows, relu, relu's backward (g where a > 0, else 0), exp,
// log (of exp(randn): positive inputs).
// items/s and bytes/s; LibTorch next to each when found.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "bench_counters.h"
#include "tensor/kernels/kernels.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "torch_reference.h"

namespace {

using nabla::Tensor;
using nabla::kernels::BinaryOp;
using nabla::kernels::UnaryOp;
using nabla_bench::kBroadcastCols;
using nabla_bench::set_elementwise_counters;

template <BinaryOp Op>
void BM_Binary(benchmark::State& state, int64_t n) {
  const Tensor a = nabla::randn({n});
  const Tensor b = nabla::randn({n});
  for (auto _ : state) {
    Tensor c = nabla::kernels::binary(Op, a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_elementwise_counters(state, n, 3);
}

// self += b in place (what optimizers and gradient accumulation run).
void BM_AddInPlace(benchmark::State& state, int64_t n) {
  const Tensor a = nabla::randn({n});
  const Tensor b = nabla::randn({n});
  for (auto _ : state) {
    nabla::kernels::binary_(BinaryOp::Add, a, b);
    benchmark::DoNotOptimize(a.raw_data());
  }
  set_elementwise_counters(state, n, 3);
}

// What relu's backward computes from the incoming gradient and relu's input.
void BM_ReluBackward(benchmark::State& state, int64_t n) {
  const Tensor g = nabla::randn({n});
  const Tensor a = nabla::randn({n});
  for (auto _ : state) {
    Tensor c = nabla::kernels::relu_backward(g, a);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_elementwise_counters(state, n, 3);
}

// What sigmoid's backward computes from the incoming gradient and sigmoid's output.
void BM_SigmoidBackward(benchmark::State& state, int64_t n) {
  const Tensor g = nabla::randn({n});
  const Tensor y = nabla::kernels::unary(UnaryOp::Sigmoid, nabla::randn({n}));
  for (auto _ : state) {
    Tensor c = nabla::kernels::activation_backward(UnaryOp::Sigmoid, g, y);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_elementwise_counters(state, n, 3);
}

void BM_AddBroadcast(benchmark::State& state, int64_t n) {
  const Tensor a = nabla::randn({n / kBroadcastCols, kBroadcastCols});
  const Tensor b = nabla::randn({kBroadcastCols});
  for (auto _ : state) {
    Tensor c = nabla::kernels::binary(BinaryOp::Add, a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_elementwise_counters(state, n, 2);
}

template <UnaryOp Op>
void BM_Unary(benchmark::State& state, int64_t n) {
  const Tensor a = nabla::randn({n});
  for (auto _ : state) {
    Tensor c = nabla::kernels::unary(Op, a);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_elementwise_counters(state, n, 2);
}

// log of lognormal inputs (exp of randn), so that no element takes a NaN path.
void BM_Log(benchmark::State& state, int64_t n) {
  const Tensor a = nabla::kernels::unary(UnaryOp::Exp, nabla::randn({n}));
  for (auto _ : state) {
    Tensor c = nabla::kernels::unary(UnaryOp::Log, a);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_elementwise_counters(state, n, 2);
}

using BenchFn = void (*)(benchmark::State&, int64_t);

// nabla then LibTorch for each size, so that the two sides of a ratio ran close in time.
void register_pair(const std::string& name, BenchFn nabla_fn, [[maybe_unused]] BenchFn torch_fn) {
  for (int64_t n = 1000; n <= 10'000'000; n *= 10) {
    benchmark::RegisterBenchmark(fmt::format("BM_Nabla{}/{}", name, n).c_str(), nabla_fn, n)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark(fmt::format("BM_Torch{}/{}", name, n).c_str(), torch_fn, n)
        ->UseRealTime();
#endif
  }
}

const bool kRegistered = [] {
  register_pair("Add", BM_Binary<BinaryOp::Add>, NABLA_TORCH_REF(add));
  register_pair("Mul", BM_Binary<BinaryOp::Mul>, NABLA_TORCH_REF(mul));
  register_pair("AddInPlace", BM_AddInPlace, NABLA_TORCH_REF(add_in_place));
  register_pair("AddBroadcast", BM_AddBroadcast, NABLA_TORCH_REF(add_broadcast));
  register_pair("Relu", BM_Unary<UnaryOp::Relu>, NABLA_TORCH_REF(relu));
  register_pair("ReluBackward", BM_ReluBackward, NABLA_TORCH_REF(relu_backward));
  register_pair("SigmoidBackward", BM_SigmoidBackward, NABLA_TORCH_REF(sigmoid_backward));
  register_pair("Exp", BM_Unary<UnaryOp::Exp>, NABLA_TORCH_REF(exp));
  register_pair("Log", BM_Log, NABLA_TORCH_REF(log));
  return true;
}();

}  // namespace
