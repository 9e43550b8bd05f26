// One optimizer step (SGD with momentum, RMSprop, Adam, AdamW, Adagrad) over the parameters of the
// 784-512-10 MLP and of a small CNN, float32, gradients in place and state created by a warm-up
// step. Bytes/s counts the bytes each update must touch (parameter, gradient and state reads,
// parameter and state writes); BM_Memcpy over one parameter set's bytes is the bandwidth yardstick
// at that working-set size. The same step of torch::optim next to it when LibTorch is found.
#include "optim/optim.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_counters.h"
#include "nabla.h"
#ifdef NABLA_BENCH_TORCH
#include "torch_reference.h"
#endif

namespace {

using nabla::Tensor;
using Shapes = std::vector<std::vector<int64_t>>;

struct ParameterSet {
  const char* name;
  Shapes shapes;
};

const std::vector<ParameterSet>& parameter_sets() {
  static const std::vector<ParameterSet> kSets = {
      {"mlp", {{784, 512}, {512}, {512, 10}, {10}}},
      {"cnn", {{32, 1, 3, 3}, {32}, {64, 32, 3, 3}, {64}, {1600, 128}, {128}, {128, 10}, {10}}}};
  return kSets;
}

int64_t total_numel(const Shapes& shapes) {
  int64_t n = 0;
  for (const std::vector<int64_t>& s : shapes) n += nabla::shape_numel(nabla::Shape(s));
  return n;
}

// Arrays of the parameters' size each step must read or write: parameter (read + write), gradient
// (read), each state tensor (read + write).
int64_t streams(const std::string& optimizer) {
  return optimizer == "Adam" || optimizer == "AdamW" ? 7 : 5;
}

std::unique_ptr<nabla::optim::Optimizer> make(const std::string& name, std::vector<Tensor> params) {
  using namespace nabla::optim;  // NOLINT(google-build-using-namespace)
  if (name == "SGD") return std::make_unique<SGD>(std::move(params), SgdOptions{.momentum = 0.9});
  if (name == "RMSprop") return std::make_unique<RMSprop>(std::move(params));
  if (name == "Adam") return std::make_unique<Adam>(std::move(params));
  if (name == "AdamW") return std::make_unique<AdamW>(std::move(params));
  return std::make_unique<Adagrad>(std::move(params));
}

void BM_NablaOptimizerStep(benchmark::State& state, const std::string& name, const Shapes& shapes) {
  nabla::Generator generator(0);
  std::vector<Tensor> params;
  for (const std::vector<int64_t>& s : shapes) {
    Tensor p = (nabla::randn(nabla::Shape(s), nabla::kFloat32, &generator) * 0.05).requires_grad_();
    p.set_grad(nabla::randn(nabla::Shape(s), nabla::kFloat32, &generator));
    params.push_back(p);
  }
  const std::unique_ptr<nabla::optim::Optimizer> optimizer = make(name, params);
  optimizer->step();  // creates the state
  for (auto _ : state) {
    optimizer->step();
    benchmark::DoNotOptimize(params.front().raw_data());
  }
  nabla_bench::set_elementwise_counters(state, total_numel(shapes), streams(name));
}

void BM_Memcpy(benchmark::State& state, const Shapes& shapes) {
  const auto n = static_cast<size_t>(total_numel(shapes));
  std::vector<float> src(n, 1.0F);
  std::vector<float> dst(n, 0.0F);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  nabla_bench::set_elementwise_counters(state, static_cast<int64_t>(n), 2);
}

const bool kRegistered = [] {
  for (const ParameterSet& set : parameter_sets()) {
    benchmark::RegisterBenchmark(fmt::format("BM_Memcpy/{}", set.name).c_str(), BM_Memcpy,
                                 set.shapes)
        ->UseRealTime();
    for (const std::string name : {"SGD", "RMSprop", "Adam", "AdamW", "Adagrad"}) {
      const std::string suffix = fmt::format("/{}/{}", name, set.name);
      benchmark::RegisterBenchmark(("BM_NablaOptimizerStep" + suffix).c_str(),
                                   BM_NablaOptimizerStep, name, set.shapes)
          ->UseRealTime();
#ifdef NABLA_BENCH_TORCH
      benchmark::RegisterBenchmark(("BM_TorchOptimizerStep" + suffix).c_str(),
                                   nabla_bench::torch_ref::optimizer_step, name, set.shapes,
                                   streams(name))
          ->UseRealTime();
#endif
    }
  }
  return true;
}();

}  // namespace
