// nabla::parallel_for (the thread pool) next to OpenMP's static and dynamic schedules over the same
// fixed chunks of kParallelGrain elements: a float32 add (2 and 32 chunks), an Adam update over
// the 784-512-10 MLP's parameters (4 chunks), and the cost of a call whose chunks do nothing.
// Meant for 2 threads, quiet and with another process busy on one of the cores (README, "Thread
// pool"); run with --benchmark_enable_random_interleaving=true so the sides alternate.
#include "tensor/parallel.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_counters.h"
#include "tensor/kernels/loops.h"
#include "tensor/parallel_for.h"

namespace {

constexpr int64_t kGrain = nabla::kernels::detail::kParallelGrain;

enum class Dispatch { OmpStatic, OmpDynamic, Pool };

const char* name_of(Dispatch d) {
  switch (d) {
    case Dispatch::OmpStatic: return "omp_static";
    case Dispatch::OmpDynamic: return "omp_dynamic";
    case Dispatch::Pool: return "pool";
  }
  return "";
}

// body(begin, end) over [0, n) in chunks of kGrain, dispatched as `d` says.
template <typename Body>
void run(Dispatch d, int64_t n, const Body& body) {
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  const auto chunk = [&](int64_t c) { body(c * kGrain, std::min(n, (c + 1) * kGrain)); };
  switch (d) {
    case Dispatch::OmpStatic:
#pragma omp parallel for schedule(static) num_threads(nabla::get_num_threads())
      for (int64_t c = 0; c < chunks; ++c) chunk(c);
      break;
    case Dispatch::OmpDynamic:
#pragma omp parallel for schedule(dynamic, 1) num_threads(nabla::get_num_threads())
      for (int64_t c = 0; c < chunks; ++c) chunk(c);
      break;
    case Dispatch::Pool: nabla::parallel_for(chunks, chunk); break;
  }
}

void BM_ChunksAdd(benchmark::State& state, Dispatch d, int64_t n) {
  const auto size = static_cast<size_t>(n);
  std::vector<float> a(size, 1.5F);
  std::vector<float> b(size, 2.5F);
  std::vector<float> c(size, 0.0F);
  for (auto _ : state) {
    run(d, n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const auto k = static_cast<size_t>(i);
        c[k] = a[k] + b[k];
      }
    });
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  nabla_bench::set_elementwise_counters(state, n, 3);
  state.counters["threads"] = nabla::get_num_threads();
}

// The Adam update of optim/fused.cpp (no weight decay), on one flat parameter array.
void BM_ChunksAdam(benchmark::State& state, Dispatch d, int64_t n) {
  const auto size = static_cast<size_t>(n);
  std::vector<float> p(size, 0.1F);
  std::vector<float> g(size, 0.01F);
  std::vector<float> m(size, 0.0F);
  std::vector<float> v(size, 0.0F);
  constexpr float kBeta1 = 0.9F;
  constexpr float kBeta2 = 0.999F;
  constexpr float kEps = 1e-7F;
  const float sqrt_correction2 = std::sqrt(1.0F - kBeta2);
  const float step = -0.001F / (1.0F - kBeta1);
  for (auto _ : state) {
    run(d, n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const auto k = static_cast<size_t>(i);
        const float mi = m[k] * kBeta1 + g[k] * (1.0F - kBeta1);
        m[k] = mi;
        const float vi = v[k] * kBeta2 + (g[k] * g[k]) * (1.0F - kBeta2);
        v[k] = vi;
        p[k] = p[k] + (mi / (std::sqrt(vi) / sqrt_correction2 + kEps)) * step;
      }
    });
    benchmark::DoNotOptimize(p.data());
    benchmark::ClobberMemory();
  }
  nabla_bench::set_elementwise_counters(state, n, 7);
  state.counters["threads"] = nabla::get_num_threads();
}

// What a call costs when its chunks do (almost) nothing: dispatch, wake-up and the wait.
void BM_ChunksEmpty(benchmark::State& state, Dispatch d, int64_t chunks) {
  std::vector<int64_t> out(static_cast<size_t>(chunks), 0);
  for (auto _ : state) {
    run(d, chunks * kGrain,
        [&](int64_t begin, int64_t) { out[static_cast<size_t>(begin / kGrain)] += 1; });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["threads"] = nabla::get_num_threads();
}

using BenchFn = void (*)(benchmark::State&, Dispatch, int64_t);

void register_all(const std::string& name, BenchFn fn, int64_t n) {
  for (const Dispatch d : {Dispatch::OmpStatic, Dispatch::OmpDynamic, Dispatch::Pool}) {
    benchmark::RegisterBenchmark(fmt::format("BM_Chunks{}/{}/{}", name, name_of(d), n).c_str(), fn,
                                 d, n)
        ->UseRealTime();
  }
}

const bool kRegistered = [] {
  register_all("Add", BM_ChunksAdd, 2 * kGrain);
  register_all("Add", BM_ChunksAdd, 32 * kGrain);
  // The 784-512-10 MLP: 784*512 + 512 + 512*10 + 10 parameters, 4 chunks.
  register_all("Adam", BM_ChunksAdam, 784 * 512 + 512 + 512 * 10 + 10);
  register_all("Empty", BM_ChunksEmpty, 2);
  return true;
}();

}  // namespace
