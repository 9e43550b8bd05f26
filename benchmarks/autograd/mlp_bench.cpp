// One training step's forward + backward of a 784-512-10 MLP (Dense, relu, Dense, log_softmax,
// NLL mean) on a batch of 128, built from nabla's public ops (nabla.h). samples/s and the FLOP/s
// of its matmuls; the same graph in LibTorch next to it when found.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "bench_counters.h"
#include "nabla.h"
#include "torch_reference.h"

namespace {

using nabla::Tensor;
using nabla_bench::kMlpHidden;
using nabla_bench::kMlpIn;
using nabla_bench::kMlpOut;

void BM_NablaMlpStep(benchmark::State& state, int64_t batch) {
  nabla::Generator generator(0);
  const Tensor x = nabla::rand({batch, kMlpIn}, nabla::kFloat32, &generator);
  const Tensor labels = nabla::randint(0, kMlpOut, {batch, 1}, &generator);
  Tensor w1 =
      (nabla::randn({kMlpIn, kMlpHidden}, nabla::kFloat32, &generator) * 0.05).requires_grad_();
  Tensor b1 = nabla::zeros({kMlpHidden}).requires_grad_();
  Tensor w2 =
      (nabla::randn({kMlpHidden, kMlpOut}, nabla::kFloat32, &generator) * 0.05).requires_grad_();
  Tensor b2 = nabla::zeros({kMlpOut}).requires_grad_();
  for (auto _ : state) {
    const Tensor hidden = nabla::relu(nabla::matmul(x, w1) + b1);
    const Tensor logits = nabla::matmul(hidden, w2) + b2;
    const Tensor loss = -nabla::gather(nabla::log_softmax(logits, 1), 1, labels).mean();
    loss.backward();
    benchmark::DoNotOptimize(w1.grad().raw_data());
    for (const Tensor* p : {&w1, &b1, &w2, &b2}) {
      p->set_grad(Tensor());
    }
  }
  nabla_bench::set_mlp_counters(state, batch);
}

const bool kRegistered = [] {
  for (const int64_t batch : {int64_t{32}, int64_t{128}}) {
    const std::string suffix = fmt::format("/batch{}", batch);
    benchmark::RegisterBenchmark(("BM_NablaMlpStep" + suffix).c_str(), BM_NablaMlpStep, batch)
        ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
    benchmark::RegisterBenchmark(("BM_TorchMlpStep" + suffix).c_str(),
                                 nabla_bench::torch_ref::mlp_step, batch)
        ->UseRealTime();
#endif
  }
  return true;
}();

}  // namespace
