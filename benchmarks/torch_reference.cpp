// LibTorch side of the side-by-side benchmarks (see torch_reference.h). Each function mirrors the
// nabla benchmark registered next to it: same shapes, same dtype, same counters.
#include "torch_reference.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "bench_counters.h"

namespace nabla_bench::torch_ref {

namespace {

torch::Tensor randn(std::initializer_list<int64_t> shape) {
  return torch::randn(shape, torch::dtype(torch::kFloat32));
}

}  // namespace

void add(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  const torch::Tensor b = randn({n});
  for (auto _ : state) {
    torch::Tensor c = a + b;
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 3);
}

void mul(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  const torch::Tensor b = randn({n});
  for (auto _ : state) {
    torch::Tensor c = a * b;
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 3);
}

void add_in_place(benchmark::State& state, int64_t n) {
  torch::Tensor a = randn({n});
  const torch::Tensor b = randn({n});
  for (auto _ : state) {
    a.add_(b);
    benchmark::DoNotOptimize(a.data_ptr());
  }
  set_elementwise_counters(state, n, 3);
}

void add_broadcast(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n / kBroadcastCols, kBroadcastCols});
  const torch::Tensor b = randn({kBroadcastCols});
  for (auto _ : state) {
    torch::Tensor c = a + b;
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 2);
}

void relu(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor c = torch::relu(a);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 2);
}

void relu_backward(benchmark::State& state, int64_t n) {
  const torch::Tensor g = randn({n});
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor c = torch::threshold_backward(g, a, 0);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 3);
}

void sigmoid_backward(benchmark::State& state, int64_t n) {
  const torch::Tensor g = randn({n});
  const torch::Tensor y = torch::sigmoid(randn({n}));
  for (auto _ : state) {
    torch::Tensor c = torch::sigmoid_backward(g, y);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 3);
}

void exp(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor c = torch::exp(a);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 2);
}

void log(benchmark::State& state, int64_t n) {
  const torch::Tensor a = torch::exp(randn({n}));
  for (auto _ : state) {
    torch::Tensor c = torch::log(a);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_elementwise_counters(state, n, 2);
}

void sum_all(benchmark::State& state, int64_t rows, int64_t cols) {
  const torch::Tensor a = randn({rows, cols});
  for (auto _ : state) {
    torch::Tensor s = a.sum();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, rows * cols, 1);
}

void mean_all(benchmark::State& state, int64_t rows, int64_t cols) {
  const torch::Tensor a = randn({rows, cols});
  for (auto _ : state) {
    torch::Tensor s = a.mean();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, rows * cols, 1);
}

void sum_rows(benchmark::State& state, int64_t rows, int64_t cols) {
  const torch::Tensor a = randn({rows, cols});
  for (auto _ : state) {
    torch::Tensor s = a.sum(0);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, rows * cols, 1);
}

void sum_cols(benchmark::State& state, int64_t rows, int64_t cols) {
  const torch::Tensor a = randn({rows, cols});
  for (auto _ : state) {
    torch::Tensor s = a.sum(1);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, rows * cols, 1);
}

// sum_nchw_bias: the conv bias gradient sum(g, {0, 2, 3}) of an NCHW tensor.
void sum_nchw_bias(benchmark::State& state, int64_t n, int64_t c, int64_t h, int64_t w) {
  const torch::Tensor g = randn({n, c, h, w});
  for (auto _ : state) {
    torch::Tensor s = torch::sum(g, {0, 2, 3});
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, n * c * h * w, 1);
}

void softmax_rows(benchmark::State& state, int64_t rows, int64_t cols) {
  const torch::Tensor a = randn({rows, cols});
  for (auto _ : state) {
    torch::Tensor s = torch::softmax(a, 1);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, rows * cols, 2);
}

void log_softmax_rows(benchmark::State& state, int64_t rows, int64_t cols) {
  const torch::Tensor a = randn({rows, cols});
  for (auto _ : state) {
    torch::Tensor s = torch::log_softmax(a, 1);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, rows * cols, 2);
}

void sum_vector(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor s = a.sum();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, n, 1);
}

void mean_vector(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor s = a.mean();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, n, 1);
}

void softmax_vector(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor s = torch::softmax(a, 0);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, n, 2);
}

void log_softmax_vector(benchmark::State& state, int64_t n) {
  const torch::Tensor a = randn({n});
  for (auto _ : state) {
    torch::Tensor s = torch::log_softmax(a, 0);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  set_elementwise_counters(state, n, 2);
}

void mm(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  const torch::Tensor a = randn({m, k});
  const torch::Tensor b = randn({k, n});
  for (auto _ : state) {
    torch::Tensor c = torch::mm(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_matmul_counters(state, m, n, k);
}

void mm_transposed(benchmark::State& state, int64_t m, int64_t n, int64_t k, bool trans_a,
                   bool trans_b) {
  const torch::Tensor a = trans_a ? randn({k, m}).t() : randn({m, k});
  const torch::Tensor b = trans_b ? randn({n, k}).t() : randn({k, n});
  for (auto _ : state) {
    torch::Tensor c = torch::mm(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_matmul_counters(state, m, n, k);
}

void mlp_step(benchmark::State& state, int64_t batch) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({batch, kMlpIn});
  const torch::Tensor labels = torch::randint(0, kMlpOut, {batch, 1}, torch::dtype(torch::kInt64));
  torch::Tensor w1 = (randn({kMlpIn, kMlpHidden}) * 0.05).requires_grad_();
  torch::Tensor b1 = torch::zeros({kMlpHidden}).requires_grad_();
  torch::Tensor w2 = (randn({kMlpHidden, kMlpOut}) * 0.05).requires_grad_();
  torch::Tensor b2 = torch::zeros({kMlpOut}).requires_grad_();
  for (auto _ : state) {
    const torch::Tensor hidden = torch::relu(torch::mm(x, w1) + b1);
    const torch::Tensor logits = torch::mm(hidden, w2) + b2;
    const torch::Tensor loss = -torch::log_softmax(logits, 1).gather(1, labels).mean();
    loss.backward();
    benchmark::DoNotOptimize(w1.grad().data_ptr());
    for (torch::Tensor* p : {&w1, &b1, &w2, &b2}) {
      p->mutable_grad() = torch::Tensor();
    }
  }
  set_mlp_counters(state, batch);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name,
                                                        const std::vector<torch::Tensor>& params) {
  namespace optim = torch::optim;
  // nabla's defaults (Keras' learning rates and epsilon 1e-7; RMSprop's rho 0.9 is torch's alpha).
  if (name == "SGD")
    return std::make_unique<optim::SGD>(params, optim::SGDOptions(0.01).momentum(0.9));
  if (name == "RMSprop") {
    return std::make_unique<optim::RMSprop>(params,
                                            optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7));
  }
  if (name == "Adam")
    return std::make_unique<optim::Adam>(params, optim::AdamOptions(1e-3).eps(1e-7));
  if (name == "AdamW") {
    return std::make_unique<optim::AdamW>(params,
                                          optim::AdamWOptions(1e-3).eps(1e-7).weight_decay(1e-2));
  }
  return std::make_unique<optim::Adagrad>(
      params, optim::AdagradOptions(1e-3).initial_accumulator_value(0.1).eps(1e-7));
}

void optimizer_step(benchmark::State& state, const std::string& optimizer,
                    const std::vector<std::vector<int64_t>>& shapes, int64_t streams) {
  torch::manual_seed(0);
  std::vector<torch::Tensor> params;
  int64_t numel = 0;
  for (const std::vector<int64_t>& s : shapes) {
    torch::Tensor p = (torch::randn(s, torch::dtype(torch::kFloat32)) * 0.05).requires_grad_();
    p.mutable_grad() = torch::randn(s, torch::dtype(torch::kFloat32));
    numel += p.numel();
    params.push_back(p);
  }
  const std::unique_ptr<torch::optim::Optimizer> opt = make_optimizer(optimizer, params);
  opt->step();  // creates the state
  for (auto _ : state) {
    opt->step();
    benchmark::DoNotOptimize(params.front().data_ptr());
  }
  set_elementwise_counters(state, numel, streams);
}

// --- Whole training steps (train_step_bench.cpp) ---

namespace {

// Keras' defaults: glorot_uniform kernels, zero biases (PyTorch's own default is kaiming_uniform).
void keras_init(torch::nn::Module& module) {
  const torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) {
    if (item.key().find("bias") != std::string::npos) {
      item.value().zero_();
    } else {
      torch::nn::init::xavier_uniform_(item.value());
    }
  }
}

template <typename Net, typename Optimizer>
void run_train_steps(benchmark::State& state, Net& net, Optimizer& opt, const torch::Tensor& x,
                     const torch::Tensor& labels) {
  auto step = [&] {
    opt.zero_grad();
    const torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), labels);
    loss.backward();
    opt.step();
    return loss.item<float>();
  };
  step();  // creates the optimizer state
  for (auto _ : state) {
    benchmark::DoNotOptimize(step());
  }
  state.SetItemsProcessed(state.iterations() * x.size(0));
}

}  // namespace

void train_step_mlp(benchmark::State& state) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({kTrainMlpBatch, kMlpIn});
  const torch::Tensor labels =
      torch::randint(0, kMlpOut, {kTrainMlpBatch}, torch::dtype(torch::kInt64));
  torch::nn::Sequential net(torch::nn::Linear(kMlpIn, kMlpHidden), torch::nn::ReLU(),
                            torch::nn::Linear(kMlpHidden, kMlpOut));
  keras_init(*net);
  torch::optim::RMSprop opt(net->parameters(),
                            torch::optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7));
  run_train_steps(state, net, opt, x, labels);
}

void train_step_cnn(benchmark::State& state) {
  namespace nn = torch::nn;
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({kCnnBatch, 1, 28, 28});
  const torch::Tensor labels = torch::randint(0, 10, {kCnnBatch}, torch::dtype(torch::kInt64));
  nn::Sequential net(
      nn::Conv2d(nn::Conv2dOptions(1, 32, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
      nn::Conv2d(nn::Conv2dOptions(32, 64, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
      nn::Flatten(), nn::Linear(64 * 5 * 5, 128), nn::ReLU(), nn::Linear(128, 10));
  keras_init(*net);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3).eps(1e-7));
  run_train_steps(state, net, opt, x, labels);
}

// --- End of whole training steps ---

void conv2d_step(benchmark::State& state, const ConvCase& c) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({c.batch, c.in_channels, c.size, c.size});
  const torch::Tensor w = (randn({c.out_channels, c.in_channels, 3, 3}) * 0.1).requires_grad_();
  const torch::Tensor b = torch::zeros({c.out_channels}).requires_grad_();
  const torch::Tensor g = randn({c.batch, c.out_channels, c.size - 2, c.size - 2});
  torch::Tensor xin = x.clone();
  xin.requires_grad_(c.input_grad);
  std::vector<torch::Tensor> inputs = {w, b};
  if (c.input_grad) {
    inputs.push_back(xin);
  }
  for (auto _ : state) {
    const torch::Tensor out = torch::conv2d(xin, w, b);
    const auto grads = torch::autograd::grad({out}, inputs, {g});
    benchmark::DoNotOptimize(grads[0].data_ptr());
  }
  set_conv_counters(state, c);
}

}  // namespace nabla_bench::torch_ref

namespace nabla_bench::torch_ref {

void pool2d(benchmark::State& state, bool max, bool backward, int64_t batch, int64_t channels,
            int64_t size) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::relu(randn({batch, channels, size, size}));
  const std::vector<int64_t> kernel{2, 2};
  const std::vector<int64_t> stride{2, 2};
  const std::vector<int64_t> padding{0, 0};
  const std::vector<int64_t> dilation{1, 1};
  const torch::Tensor grad = randn({batch, channels, size / 2, size / 2});
  const auto [y, indices] = torch::max_pool2d_with_indices(x, kernel, stride, padding, dilation);
  for (auto _ : state) {
    torch::Tensor r;
    if (max && !backward) {
      auto [out, idx] = torch::max_pool2d_with_indices(x, kernel, stride, padding, dilation);
      benchmark::DoNotOptimize(idx.data_ptr());
      r = out;
    } else if (max) {
      r = torch::max_pool2d_with_indices_backward(grad, x, kernel, stride, padding, dilation, false,
                                                  indices);
    } else if (!backward) {
      r = torch::avg_pool2d(x, kernel, stride, padding, false, false);
    } else {
      r = torch::avg_pool2d_backward(grad, x, kernel, stride, padding, false, false, c10::nullopt);
    }
    benchmark::DoNotOptimize(r.data_ptr());
  }
  set_pool_counters(state, max, batch, channels, size);
}

}  // namespace nabla_bench::torch_ref
