// Reductions on float32 matrices: sum and mean of all elements, sum over rows (dim 0) and over
// columns (dim 1), softmax and log_softmax of each row; the same on vectors of 1e3..1e7 elements
// (sum, mean, softmax, log_softmax over dim 0); and the conv bias gradient, sum over {0, 2, 3} of
// an NCHW tensor. items/s counts input elements; LibTorch next to each when found.
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
using nabla_bench::set_elementwise_counters;

enum class Reduction { SumAll, MeanAll, SumRows, SumCols, SoftmaxRows, LogSoftmaxRows };

template <Reduction R>
void BM_Reduce(benchmark::State& state, int64_t rows, int64_t cols) {
  const Tensor a = nabla::randn({rows, cols});
  for (auto _ : state) {
    Tensor r;
    if constexpr (R == Reduction::SumAll) {
      r = nabla::kernels::sum(a, {}, false);
    } else if constexpr (R == Reduction::MeanAll) {
      r = nabla::kernels::mean(a, {}, false);
    } else if constexpr (R == Reduction::SumRows) {
      r = nabla::kernels::sum(a, {0}, false);
    } else if constexpr (R == Reduction::SumCols) {
      r = nabla::kernels::sum(a, {1}, false);
    } else if constexpr (R == Reduction::SoftmaxRows) {
      r = nabla::kernels::softmax(a, 1);
    } else {
      r = nabla::kernels::log_softmax(a, 1);
    }
    benchmark::DoNotOptimize(r.raw_data());
  }
  constexpr bool kWritesAll = R == Reduction::SoftmaxRows || R == Reduction::LogSoftmaxRows;
  set_elementwise_counters(state, rows * cols, kWritesAll ? 2 : 1);
}

// The same reductions of a vector of n elements (over its one dim).
template <Reduction R>
void BM_ReduceVector(benchmark::State& state, int64_t n) {
  const Tensor a = nabla::randn({n});
  for (auto _ : state) {
    Tensor r;
    if constexpr (R == Reduction::SumAll) {
      r = nabla::kernels::sum(a, {}, false);
    } else if constexpr (R == Reduction::MeanAll) {
      r = nabla::kernels::mean(a, {}, false);
    } else if constexpr (R == Reduction::SoftmaxRows) {
      r = nabla::kernels::softmax(a, 0);
    } else {
      r = nabla::kernels::log_softmax(a, 0);
    }
    benchmark::DoNotOptimize(r.raw_data());
  }
  constexpr bool kWritesAll = R == Reduction::SoftmaxRows || R == Reduction::LogSoftmaxRows;
  set_elementwise_counters(state, n, kWritesAll ? 2 : 1);
}

using VectorBenchFn = void (*)(benchmark::State&, int64_t);

void register_vector_pair(const std::string& name, VectorBenchFn nabla_fn,
                          [[maybe_unused]] VectorBenchFn torch_fn) {
  for (int64_t n = 1000; n <= 10'000'000; n *= 10) {
    benchmark::RegisterBenchmark(fmt::format("BM_Nabla{}/{}", name, n).c_str(), nabla_fn, n)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark(fmt::format("BM_Torch{}/{}", name, n).c_str(), torch_fn, n)
        ->UseRealTime();
#endif
  }
}

using BenchFn = void (*)(benchmark::State&, int64_t, int64_t);

struct MatrixShape {
  int64_t rows, cols;
};
// 1e4 .. 1.6e7 elements, plus the MLP's logits [128, 10] and a wide [128, 1000] for softmax.
constexpr MatrixShape kShapes[] = {{100, 100}, {1000, 1000}, {4000, 4000}, {128, 10}, {128, 1000}};

void register_pair(const std::string& name, BenchFn nabla_fn, [[maybe_unused]] BenchFn torch_fn) {
  for (const MatrixShape& s : kShapes) {
    const std::string shape = fmt::format("{}/{}x{}", name, s.rows, s.cols);
    benchmark::RegisterBenchmark(("BM_Nabla" + shape).c_str(), nabla_fn, s.rows, s.cols)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark(("BM_Torch" + shape).c_str(), torch_fn, s.rows, s.cols)
        ->UseRealTime();
#endif
  }
}

// The conv bias gradient: sum over {0, 2, 3} of an NCHW float32 gradient (dims not adjacent).
void BM_SumNchwBias(benchmark::State& state, int64_t n, int64_t c, int64_t h, int64_t w) {
  const Tensor g = nabla::randn({n, c, h, w});
  for (auto _ : state) {
    Tensor r = nabla::kernels::sum(g, {0, 2, 3}, false);
    benchmark::DoNotOptimize(r.raw_data());
  }
  set_elementwise_counters(state, n * c * h * w, 1);
}

struct NchwShape {
  int64_t n, c, h, w;
};
// The CNN example's gradients after its first and second convolutions.
constexpr NchwShape kNchwShapes[] = {{64, 32, 26, 26}, {64, 64, 11, 11}};

void register_nchw_bias() {
  for (const NchwShape& s : kNchwShapes) {
    const std::string shape = fmt::format("SumNchwBias/{}x{}x{}x{}", s.n, s.c, s.h, s.w);
    benchmark::RegisterBenchmark(("BM_Nabla" + shape).c_str(), BM_SumNchwBias, s.n, s.c, s.h, s.w)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark(("BM_Torch" + shape).c_str(), NABLA_TORCH_REF(sum_nchw_bias), s.n,
                                 s.c, s.h, s.w)
        ->UseRealTime();
#endif
  }
}

const bool kRegistered = [] {
  register_pair("SumAll", BM_Reduce<Reduction::SumAll>, NABLA_TORCH_REF(sum_all));
  register_pair("SumRows", BM_Reduce<Reduction::SumRows>, NABLA_TORCH_REF(sum_rows));
  register_pair("SumCols", BM_Reduce<Reduction::SumCols>, NABLA_TORCH_REF(sum_cols));
  register_pair("MeanAll", BM_Reduce<Reduction::MeanAll>, NABLA_TORCH_REF(mean_all));
  register_pair("SoftmaxRows", BM_Reduce<Reduction::SoftmaxRows>, NABLA_TORCH_REF(softmax_rows));
  register_pair("LogSoftmaxRows", BM_Reduce<Reduction::LogSoftmaxRows>,
                NABLA_TORCH_REF(log_softmax_rows));
  register_vector_pair("Sum", BM_ReduceVector<Reduction::SumAll>, NABLA_TORCH_REF(sum_vector));
  register_vector_pair("Mean", BM_ReduceVector<Reduction::MeanAll>, NABLA_TORCH_REF(mean_vector));
  register_vector_pair("Softmax", BM_ReduceVector<Reduction::SoftmaxRows>,
                       NABLA_TORCH_REF(softmax_vector));
  register_vector_pair("LogSoftmax", BM_ReduceVector<Reduction::LogSoftmaxRows>,
                       NABLA_TORCH_REF(log_softmax_vector));
  register_nchw_bias();
  return true;
}();

}  // namespace
