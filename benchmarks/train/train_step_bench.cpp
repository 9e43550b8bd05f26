// Whole training steps (forward + backward + optimizer step + zero_grad) through the path users
// take, train::Model::train_on_batch on an nn::Sequential, beside the same step in LibTorch
// (torch::nn modules + torch::optim) when found. Samples/s. Both sides: glorot-uniform weights and
// zero biases, a fixed random batch (the same every step), and the loss read back each step
// (train_on_batch returns it; the LibTorch side calls loss.item()).
//   Mlp: the Keras MNIST MLP, 784-512(relu)-10, batch 128, RMSprop (lr 1e-3, rho 0.9, eps 1e-7).
//        nabla: Dense(10, softmax) + categorical_crossentropy on one-hot targets (the Keras way);
//        LibTorch: Linear + cross_entropy on logits and class indices (the PyTorch way).
//   Cnn: Conv2D(32, 3x3, relu)-MaxPool2x2-Conv2D(64, 3x3, relu)-MaxPool2x2-Flatten-Dense(128,
//        relu)-Dense(10), batch 64 of 1x28x28, Adam (lr 1e-3, eps 1e-7), sparse categorical
//        cross-entropy from logits on both sides.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_counters.h"
#include "nabla.h"
#include "torch_reference.h"

namespace {

using nabla::Tensor;
using nabla_bench::kCnnBatch;
using nabla_bench::kMlpHidden;
using nabla_bench::kMlpIn;
using nabla_bench::kMlpOut;
using nabla_bench::kTrainMlpBatch;

// Runs train_on_batch(x, y) once before timing (builds the layers, creates the optimizer state).
void run_steps(benchmark::State& state, nabla::train::Model& model, const Tensor& x,
               const Tensor& y) {
  model.train_on_batch(x, y);
  for (auto _ : state) {
    const nabla::train::Logs logs = model.train_on_batch(x, y);
    benchmark::DoNotOptimize(logs.at("loss"));
  }
  state.SetItemsProcessed(state.iterations() * x.size(0));
}

void nabla_train_step_mlp(benchmark::State& state) {
  using nabla::nn::Dense;
  using nabla::nn::DenseOptions;
  nabla::manual_seed(0);
  nabla::Generator generator(0);
  const Tensor x = nabla::rand({kTrainMlpBatch, kMlpIn}, nabla::kFloat32, &generator);
  const Tensor y = nabla::data::to_categorical(
      nabla::randint(0, kMlpOut, {kTrainMlpBatch}, &generator), kMlpOut);
  auto network = std::make_shared<nabla::nn::Sequential>();
  network->add<Dense>(kMlpHidden, DenseOptions{.activation = "relu", .input_dim = kMlpIn});
  network->add<Dense>(kMlpOut, DenseOptions{.activation = "softmax"});
  nabla::train::Model model(network);
  model.compile(std::make_shared<nabla::optim::RMSprop>(std::vector<Tensor>{}),
                "categorical_crossentropy");
  run_steps(state, model, x, y);
}

void nabla_train_step_cnn(benchmark::State& state) {
  using nabla::nn::Conv2D;
  using nabla::nn::Conv2DOptions;
  using nabla::nn::Dense;
  using nabla::nn::DenseOptions;
  nabla::manual_seed(0);
  nabla::Generator generator(0);
  const Tensor x = nabla::rand({kCnnBatch, 1, 28, 28}, nabla::kFloat32, &generator);
  const Tensor labels = nabla::randint(0, 10, {kCnnBatch}, &generator);
  auto network = std::make_shared<nabla::nn::Sequential>();
  network->add<Conv2D>(32, 3, Conv2DOptions{.activation = "relu"})
      .add<nabla::nn::MaxPooling2D>(2)
      .add<Conv2D>(64, 3, Conv2DOptions{.activation = "relu"})
      .add<nabla::nn::MaxPooling2D>(2)
      .add<nabla::nn::Flatten>()
      .add<Dense>(128, DenseOptions{.activation = "relu"})
      .add<Dense>(10);
  nabla::train::Model model(network);
  model.compile(std::make_shared<nabla::optim::Adam>(std::vector<Tensor>{}),
                nabla::train::loss_by_name("sparse_categorical_crossentropy",
                                           /*from_logits=*/true));
  run_steps(state, model, x, labels);
}

using BenchFn = void (*)(benchmark::State&);

// nabla then LibTorch, so that the two sides of a ratio ran close in time.
void register_pair(const char* name, BenchFn nabla_fn, [[maybe_unused]] BenchFn torch_fn) {
  benchmark::RegisterBenchmark((std::string("BM_NablaTrainStep/") + name).c_str(), nabla_fn)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  if (torch_fn != nullptr) {
    benchmark::RegisterBenchmark((std::string("BM_TorchTrainStep/") + name).c_str(), torch_fn)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

const bool kRegistered = [] {
  register_pair("mlp_batch128", nabla_train_step_mlp, NABLA_TORCH_REF(train_step_mlp));
  register_pair("cnn_batch64", nabla_train_step_cnn, NABLA_TORCH_REF(train_step_cnn));
  return true;
}();

}  // namespace
