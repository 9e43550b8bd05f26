// Throughput of the conv2d and pooling kernels on the layers of a small Fashion-MNIST CNN
// (Conv2D 32 3x3 -> MaxPooling2D 2x2 -> Conv2D 64 3x3), batch 64, float32.
#include "tensor/kernels/conv.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "tensor/kernels/pool.h"

namespace {

using nabla::Shape;
using nabla::Tensor;
using nabla::kernels::Conv2dGeometry;

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

Tensor filled(const Shape& shape, float value) {
  std::vector<float> values(static_cast<size_t>(nabla::shape_numel(shape)));
  for (size_t i = 0; i < values.size(); ++i) {
    // Varied, bounded values so no pass runs on denormals or trivially constant data.
    values[i] = value * static_cast<float>(static_cast<int64_t>(i % 17) - 8) / 8.0F;
  }
  return nabla::tensor(values, shape);
}

struct ConvTensors {
  explicit ConvTensors(const Conv2dGeometry& g)
      : input(filled({g.batch, g.in_channels, g.in_h, g.in_w}, 1.0F)),
        weight(filled({g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, 0.1F)),
        bias(filled({g.out_channels}, 0.01F)),
        output(filled({g.batch, g.out_channels, g.out_h, g.out_w}, 0.5F)) {}
  Tensor input, weight, bias, output;
};

// The layers are 'valid' stride-1 convolutions: the default options.
constexpr nabla::Conv2dOptions kConv{};

void set_conv_counters(benchmark::State& state, const Conv2dGeometry& g) {
  state.SetLabel(layer_label(state.range(0)));
  state.counters["FLOP/s"] = benchmark::Counter(
      conv_flops(g) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Each call allocates its output from the caching allocator, as the autograd op does.
void BM_Conv2dForward(benchmark::State& state) {
  const Conv2dGeometry g = layer(state.range(0));
  const ConvTensors t(g);
  for (auto _ : state) {
    Tensor output = nabla::kernels::conv2d(t.input, t.weight, t.bias, kConv);
    benchmark::DoNotOptimize(output.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_conv_counters(state, g);
}

void BM_Conv2dBackwardInput(benchmark::State& state) {
  const Conv2dGeometry g = layer(state.range(0));
  const ConvTensors t(g);
  for (auto _ : state) {
    Tensor grad_input =
        nabla::kernels::conv2d_input_grad(t.output, t.weight, t.input.shape(), kConv);
    benchmark::DoNotOptimize(grad_input.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_conv_counters(state, g);
}

void BM_Conv2dBackwardWeight(benchmark::State& state) {
  const Conv2dGeometry g = layer(state.range(0));
  const ConvTensors t(g);
  for (auto _ : state) {
    Tensor grad_weight =
        nabla::kernels::conv2d_weight_grad(t.output, t.input, t.weight.shape(), kConv);
    benchmark::DoNotOptimize(grad_weight.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_conv_counters(state, g);
}

// MaxPooling2D 2x2 after the first convolution: [64, 32, 26, 26] -> [64, 32, 13, 13].
constexpr nabla::Pool2dOptions kPool{};
constexpr int64_t kPoolInput = kBatch * 32 * 26 * 26;
Shape pool_input_shape() { return {kBatch, 32, 26, 26}; }

void set_pool_counters(benchmark::State& state) {
  state.SetLabel("N64 C32 26x26 k2 s2");
  state.counters["in_elements/s"] =
      benchmark::Counter(static_cast<double>(kPoolInput) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_MaxPool2dForward(benchmark::State& state) {
  const Tensor input = filled(pool_input_shape(), 1.0F);
  for (auto _ : state) {
    auto [output, argmax] = nabla::kernels::max_pool2d_with_argmax(input, kPool);
    benchmark::DoNotOptimize(output.data_ptr<float>());
    benchmark::DoNotOptimize(argmax.data_ptr<int64_t>());
    benchmark::ClobberMemory();
  }
  set_pool_counters(state);
}

void BM_MaxPool2dBackward(benchmark::State& state) {
  const Tensor input = filled(pool_input_shape(), 1.0F);
  const auto [output, argmax] = nabla::kernels::max_pool2d_with_argmax(input, kPool);
  for (auto _ : state) {
    Tensor grad_input =
        nabla::kernels::max_pool2d_backward(output, argmax, pool_input_shape(), kPool);
    benchmark::DoNotOptimize(grad_input.data_ptr<float>());
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
