// One Conv2D layer's forward + backward through autograd (conv2d with bias, then the gradients of
// weight, bias and, for a layer that is not the first, input), beside torch::conv2d + autograd
// when LibTorch is found. FLOP/s of the convolution passes run (2 or 3, 2*N*OC*C*KH*KW*OH*OW each).
//   cnn_conv1:    N64  1->32  28x28 3x3, the first layer of the small Fashion-MNIST CNN
//   cnn_conv2:    N64 32->64  13x13 3x3, its second layer (input gradient too)
//   keras150:     N32  3->32 150x150 3x3, the first layer of the Keras 150x150x3 CNN
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_counters.h"
#include "nabla.h"
#include "torch_reference.h"

namespace {

using nabla::Tensor;
using nabla_bench::ConvCase;

void nabla_conv2d_step(benchmark::State& state, const ConvCase& c) {
  nabla::Generator generator(0);
  const Tensor x =
      nabla::rand({c.batch, c.in_channels, c.size, c.size}, nabla::kFloat32, &generator);
  const Tensor w =
      (nabla::randn({c.out_channels, c.in_channels, 3, 3}, nabla::kFloat32, &generator) * 0.1)
          .requires_grad_();
  const Tensor b = nabla::zeros({c.out_channels}).requires_grad_();
  const Tensor g =
      nabla::randn({c.batch, c.out_channels, c.size - 2, c.size - 2}, nabla::kFloat32, &generator);
  Tensor xin = x;
  if (c.input_grad) {
    xin.requires_grad_();
  }
  std::vector<Tensor> inputs = {w, b};
  if (c.input_grad) {
    inputs.push_back(xin);
  }
  for (auto _ : state) {
    const Tensor out = nabla::conv2d(xin, w, b, nabla::Conv2dOptions{});
    const std::vector<Tensor> grads = nabla::autograd::grad({out}, inputs, {g});
    benchmark::DoNotOptimize(grads[0].raw_data());
  }
  nabla_bench::set_conv_counters(state, c);
}

const bool kRegistered = [] {
  for (const ConvCase& c : nabla_bench::conv_cases()) {
    benchmark::RegisterBenchmark(("BM_NablaConv2dStep/" + c.name).c_str(),
                                 [c](benchmark::State& state) { nabla_conv2d_step(state, c); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark(
        ("BM_TorchConv2dStep/" + c.name).c_str(),
        [c](benchmark::State& state) { nabla_bench::torch_ref::conv2d_step(state, c); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#endif
  }
  return true;
}();

}  // namespace
