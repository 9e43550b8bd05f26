// Max and average pooling (2x2, stride 2) forward and backward on the pooling layers of a small
// Fashion-MNIST CNN, float32, input relu(randn) (half zeros, ties in many windows), next to
// LibTorch when found. Bytes/s counts the input, output and (max) int64 argmax once each.
#include "tensor/kernels/pool.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "torch_reference.h"

namespace {

using nabla::Shape;
using nabla::Tensor;

constexpr int64_t kBatch = 64;
constexpr nabla::Pool2dOptions kPool{};  // 2x2, stride 2, no padding

// Layer 0: after Conv2D 32 3x3 on 28x28; layer 1: after Conv2D 64 3x3 on 13x13.
int64_t channels_of(int64_t layer) { return layer == 0 ? 32 : 64; }
int64_t size_of(int64_t layer) { return layer == 0 ? 26 : 11; }

Tensor relu_randn(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0F, 1.0F);
  std::vector<float> values(static_cast<size_t>(nabla::shape_numel(shape)));
  for (float& v : values) {
    v = std::max(dist(gen), 0.0F);
  }
  return nabla::tensor(values, shape);
}

void run(benchmark::State& state, bool max, bool backward) {
  const int64_t layer = state.range(0);
  const int64_t c = channels_of(layer);
  const int64_t s = size_of(layer);
  const Shape in_shape{kBatch, c, s, s};
  const Tensor x = relu_randn(in_shape, 1);
  const Tensor grad = relu_randn({kBatch, c, s / 2, s / 2}, 2);
  const auto [y, argmax] = nabla::kernels::max_pool2d_with_argmax(x, kPool);
  for (auto _ : state) {
    if (max && !backward) {
      auto [out, arg] = nabla::kernels::max_pool2d_with_argmax(x, kPool);
      benchmark::DoNotOptimize(out.data_ptr<float>());
      benchmark::DoNotOptimize(arg.data_ptr<int64_t>());
    } else if (max) {
      Tensor gi = nabla::kernels::max_pool2d_backward(grad, argmax, in_shape, kPool);
      benchmark::DoNotOptimize(gi.data_ptr<float>());
    } else if (!backward) {
      Tensor out = nabla::kernels::avg_pool2d(x, kPool);
      benchmark::DoNotOptimize(out.data_ptr<float>());
    } else {
      Tensor gi = nabla::kernels::avg_pool2d_backward(grad, in_shape, kPool);
      benchmark::DoNotOptimize(gi.data_ptr<float>());
    }
    benchmark::ClobberMemory();
  }
  nabla_bench::torch_ref::set_pool_counters(state, max, kBatch, c, s);
}

void register_all() {
  struct Case {
    const char* name;
    bool max, backward;
  };
  const Case cases[] = {{"Pool2dMaxForward", true, false},
                        {"Pool2dMaxBackward", true, true},
                        {"Pool2dAvgForward", false, false},
                        {"Pool2dAvgBackward", false, true}};
  for (const Case& k : cases) {
    // BM_Nabla<Name>/<layer> pairs with BM_Torch<Name>/<layer> in scripts/bench_table.py.
    benchmark::RegisterBenchmark(("BM_Nabla" + std::string(k.name)).c_str(),
                                 [max = k.max, backward = k.backward](benchmark::State& state) {
                                   run(state, max, backward);
                                 })
        ->Arg(0)
        ->Arg(1)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    void (*torch_fn)(benchmark::State&, bool, bool, int64_t, int64_t, int64_t) =
        NABLA_TORCH_REF(pool2d);
    if (torch_fn != nullptr) {
      for (int64_t layer = 0; layer < 2; ++layer) {
        const bool max = k.max;
        const bool backward = k.backward;
        benchmark::RegisterBenchmark(
            ("BM_Torch" + std::string(k.name) + "/" + std::to_string(layer)).c_str(),
            [=](benchmark::State& state) {
              torch_fn(state, max, backward, kBatch, channels_of(layer), size_of(layer));
            })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

const bool kRegistered = (register_all(), true);

}  // namespace
