// Counters shared by nabla's benchmarks and their references, so that both sides of a comparison
// report the same rates: items/s and bytes/s for memory-bound ops, FLOP/s (2mnk) for matmul.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nabla_bench {

inline constexpr int64_t kBroadcastCols = 1000;  // a [n/1000, 1000] + b [1000]
inline constexpr int64_t kMlpIn = 784;
inline constexpr int64_t kMlpHidden = 512;
inline constexpr int64_t kMlpOut = 10;
inline constexpr int64_t kTrainMlpBatch = 128;  // train_step_bench: the Keras MLP's batch
inline constexpr int64_t kCnnBatch = 64;        // train_step_bench: the small CNN's batch

// n float32 elements per iteration; `streams` arrays of n floats read or written (a + b = c: 3).
inline void set_elementwise_counters(benchmark::State& state, int64_t n, int64_t streams) {
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * streams * static_cast<int64_t>(sizeof(float)));
}

inline void set_matmul_counters(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(m) * static_cast<double>(n) *
                             static_cast<double>(k) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// Samples/s, and FLOP/s of the three matmul-shaped products of each Dense layer (forward, dX,
// dW; the first layer's dX is not needed): the work a framework cannot avoid.
inline void set_mlp_counters(benchmark::State& state, int64_t batch) {
  state.SetItemsProcessed(state.iterations() * batch);
  const double layer1 = 2.0 * static_cast<double>(batch * kMlpIn * kMlpHidden);
  const double layer2 = 2.0 * static_cast<double>(batch * kMlpHidden * kMlpOut);
  state.counters["FLOP/s"] =
      benchmark::Counter((2.0 * layer1 + 3.0 * layer2) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// A 3x3 'valid' stride-1 Conv2D layer with bias (autograd/conv_bench.cpp and its LibTorch twin).
struct ConvCase {
  std::string name;
  int64_t batch, in_channels, out_channels, size;
  bool input_grad;  // false for a network's first layer, whose input needs no gradient
};

inline std::vector<ConvCase> conv_cases() {
  return {{"cnn_conv1", 64, 1, 32, 28, false},
          {"cnn_conv2", 64, 32, 64, 13, true},
          {"keras150", 32, 3, 32, 150, false}};
}

// FLOP/s of the convolution passes run: forward, weight gradient and, if asked, input gradient.
inline void set_conv_counters(benchmark::State& state, const ConvCase& c) {
  const int64_t out = c.size - 2;
  const double pass =
      2.0 * static_cast<double>(c.batch * c.out_channels * c.in_channels * 9 * out * out);
  state.counters["FLOP/s"] = benchmark::Counter(
      pass * (c.input_grad ? 3.0 : 2.0) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

}  // namespace nabla_bench
