// Throughput of the raw conv2d and pooling kernels on the layers of a small Fashion-MNIST CNN
// (Conv2D 32 3x3 -> MaxPooling2D 2x2 -> Conv2D 64 3x3), batch 64, float32.
#include "tensor/kernels/conv.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "tensor/kernels/pool.h"

namespace {

using nabla::kernels::Conv2dGeometry;
using nabla::kernels::Pool2dGeometry;

constexpr int64_t kBatch = 64;

// Keras 'valid' 3x3 convolutions: 1 -> 32 channels on 28x28, then 32 -> 64 on 13x13.
Conv2dGeometry layer(int64_t index) {
  const int64_t in_channels = index == 0 ? 1 : 32;
  const int64_t out_channels = index == 0 ? 32 : 64;
  const int64_t size = index == 0 ? 28 : 13;
  return {.batch = kBatch,
          .in_channels = in_channels,
          .in_h = size,
          .in_w = size,
          .out_channels = out_channels,
          .kernel_h = 3,
          .kernel_w = 3,
          .stride_h = 1,
          .stride_w = 1,
          .pad_top = 0,
          .pad_left = 0,
          .dilation_h = 1,
          .dilation_w = 1,
          .out_h = size - 2,
          .out_w = size - 2};
}

const char* layer_label(int64_t index) {
  return index == 0 ? "N64 1->32 28x28 k3" : "N64 32->64 13x13 k3";
}

// Multiply-adds count as two FLOPs; all three passes do the same number.
double conv_flops(const Conv2dGeometry& g) {
  return 2.0 * static_cast<double>(g.batch * g.out_channels * g.in_channels * g.kernel_h *
                                   g.kernel_w * g.out_h * g.out_w);
}

std::vector<float> filled(int64_t count, float value) {
  std::vector<float> values(static_cast<size_t>(count));
  for (size_t i = 0; i < values.size(); ++i) {
    // Varied, bounded values so no pass runs on denormals or trivially constant data.
    values[i] = value * static_cast<float>(static_cast<int64_t>(i % 17) - 8) / 8.0F;
  }
  return values;
}

struct ConvBuffers {
  explicit ConvBuffers(const Conv2dGeometry& g)
      : input(filled(g.batch * g.in_channels * g.in_h * g.in_w, 1.0F)),
        weight(filled(g.out_channels * g.in_channels * g.kernel_h * g.kernel_w, 0.1F)),
        bias(filled(g.out_channels, 0.01F)),
        output(filled(g.batch * g.out_channels * g.out_h * g.out_w, 0.5F)) {}
  std::vector<float> input, weight, bias, output;
};

void set_conv_counters(benchmark::State& state, const Conv2dGeometry& g) {
  state.SetLabel(layer_label(state.range(0)));
  state.counters["FLOP/s"] = benchmark::Counter(
      conv_flops(g) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Conv2dForward(benchmark::State& state) {
  const Conv2dGeometry g = layer(state.range(0));
  ConvBuffers b(g);
  for (auto _ : state) {
    nabla::kernels::conv2d_forward(g, b.input.data(), b.weight.data(), b.bias.data(),
                                   b.output.data());
    benchmark::DoNotOptimize(b.output.data());
    benchmark::ClobberMemory();
  }
  set_conv_counters(state, g);
}

void BM_Conv2dBackwardInput(benchmark::State& state) {
  const Conv2dGeometry g = layer(state.range(0));
  ConvBuffers b(g);
  for (auto _ : state) {
    nabla::kernels::conv2d_backward_input(g, b.output.data(), b.weight.data(), b.input.data());
    benchmark::DoNotOptimize(b.input.data());
    benchmark::ClobberMemory();
  }
  set_conv_counters(state, g);
}

void BM_Conv2dBackwardWeight(benchmark::State& state) {
  const Conv2dGeometry g = layer(state.range(0));
  ConvBuffers b(g);
  for (auto _ : state) {
    nabla::kernels::conv2d_backward_weight(g, b.output.data(), b.input.data(), b.weight.data());
    benchmark::DoNotOptimize(b.weight.data());
    benchmark::ClobberMemory();
  }
  set_conv_counters(state, g);
}

// MaxPooling2D 2x2 after the first convolution: [64, 32, 26, 26] -> [64, 32, 13, 13].
constexpr Pool2dGeometry kPool = {kBatch, 32, 26, 26, 2, 2, 2, 2, 0, 0, 13, 13};
constexpr int64_t kPoolInput = kBatch * 32 * 26 * 26;
constexpr int64_t kPoolOutput = kBatch * 32 * 13 * 13;

void set_pool_counters(benchmark::State& state) {
  state.SetLabel("N64 C32 26x26 k2 s2");
  state.counters["in_elements/s"] =
      benchmark::Counter(static_cast<double>(kPoolInput) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_MaxPool2dForward(benchmark::State& state) {
  const std::vector<float> input = filled(kPoolInput, 1.0F);
  std::vector<float> output(static_cast<size_t>(kPoolOutput));
  std::vector<int64_t> argmax(static_cast<size_t>(kPoolOutput));
  for (auto _ : state) {
    nabla::kernels::max_pool2d_forward(kPool, input.data(), output.data(), argmax.data());
    benchmark::DoNotOptimize(output.data());
    benchmark::ClobberMemory();
  }
  set_pool_counters(state);
}

void BM_MaxPool2dBackward(benchmark::State& state) {
  const std::vector<float> input = filled(kPoolInput, 1.0F);
  std::vector<float> output(static_cast<size_t>(kPoolOutput));
  std::vector<int64_t> argmax(static_cast<size_t>(kPoolOutput));
  nabla::kernels::max_pool2d_forward(kPool, input.data(), output.data(), argmax.data());
  std::vector<float> grad_input(static_cast<size_t>(kPoolInput));
  for (auto _ : state) {
    nabla::kernels::max_pool2d_backward(kPool, output.data(), argmax.data(), grad_input.data());
    benchmark::DoNotOptimize(grad_input.data());
    benchmark::ClobberMemory();
  }
  set_pool_counters(state);
}

}  // namespace

BENCHMARK(BM_Conv2dForward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackwardInput)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackwardWeight)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MaxPool2dForward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_MaxPool2dBackward)->Unit(benchmark::kMicrosecond)->UseRealTime();
