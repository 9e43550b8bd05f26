// LibTorch references for the benchmarks, compiled in one translation unit (torch_reference.cpp,
// only when CMake finds LibTorch: NABLA_BENCH_TORCH) so <torch/torch.h> is parsed once.
// NOTE: bench files include this header unconditionally (it needs only Google Benchmark), so the
// NABLA_TORCH_REF macro exists on machines without LibTorch; only the calls are guarded.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_counters.h"

namespace nabla_bench::torch_ref {

// Elementwise on n float32 elements: a + b, a * b, a [n/1000, 1000] + b [1000], relu(a), relu's
// backward (torch::threshold_backward(g, a, 0), what autograd runs), sigmoid's backward from its
// output (torch::sigmoid_backward(g, y), y = sigmoid(randn)), exp(a), log(a) of a = exp(randn).
void add(benchmark::State& state, int64_t n);
void mul(benchmark::State& state, int64_t n);
void add_in_place(benchmark::State& state, int64_t n);  // a += b
void add_broadcast(benchmark::State& state, int64_t n);
void relu(benchmark::State& state, int64_t n);
void relu_backward(benchmark::State& state, int64_t n);
void sigmoid_backward(benchmark::State& state, int64_t n);
void exp(benchmark::State& state, int64_t n);
void log(benchmark::State& state, int64_t n);
// Reductions of a [rows, cols] float32 matrix: sum and mean of all, sum over rows (dim 0) and
// over cols (dim 1), softmax and log_softmax over each row.
void sum_all(benchmark::State& state, int64_t rows, int64_t cols);
void mean_all(benchmark::State& state, int64_t rows, int64_t cols);
void sum_rows(benchmark::State& state, int64_t rows, int64_t cols);
void sum_cols(benchmark::State& state, int64_t rows, int64_t cols);
void softmax_rows(benchmark::State& state, int64_t rows, int64_t cols);
void log_softmax_rows(benchmark::State& state, int64_t rows, int64_t cols);
// The same over a float32 vector of n elements: sum, mean, softmax and log_softmax over dim 0.
void sum_vector(benchmark::State& state, int64_t n);
void mean_vector(benchmark::State& state, int64_t n);
void softmax_vector(benchmark::State& state, int64_t n);
void log_softmax_vector(benchmark::State& state, int64_t n);
// torch::sum(g, {0, 2, 3}) of a float32 NCHW [n, c, h, w] tensor: the conv bias gradient.
void sum_nchw_bias(benchmark::State& state, int64_t n, int64_t c, int64_t h, int64_t w);
// torch::mm of [m, k] @ [k, n] float32.
void mm(benchmark::State& state, int64_t m, int64_t n, int64_t k);
// torch::mm of op(a) @ op(b) with op(a) [m, k] and op(b) [k, n]: a transposed view (.t() of a
// contiguous [k, m] / [n, k] tensor) where trans_a / trans_b, as a backward pass passes them.
void mm_transposed(benchmark::State& state, int64_t m, int64_t n, int64_t k, bool trans_a,
                   bool trans_b);
// One forward + backward of the 784-512-10 MLP (relu, log_softmax, NLL mean) on a batch.
void mlp_step(benchmark::State& state, int64_t batch);
// One step of torch::optim::<optimizer> ("SGD" with momentum 0.9, "RMSprop", "Adam", "AdamW",
// "Adagrad", with nabla's default hyper-parameters) over float32 parameters of `shapes`, gradients
// in place and state created by a warm-up step; bytes/s as `streams` arrays of the parameters'
// size.
void optimizer_step(benchmark::State& state, const std::string& optimizer,
                    const std::vector<std::vector<int64_t>>& shapes, int64_t streams);

// Whole training steps (train_step_bench.cpp): forward, loss, backward, optimizer step,
// zero_grad and loss.item(), on a fixed random batch; glorot-uniform weights and zero biases.
// The 784-512(relu)-10 MLP, cross_entropy on logits, RMSprop (lr 1e-3, alpha 0.9, eps 1e-7) on a
// batch of kTrainMlpBatch; the small CNN (conv 32 3x3 relu, pool 2, conv 64 3x3 relu, pool 2,
// linear 128 relu, linear 10), cross_entropy on logits, Adam (lr 1e-3, eps 1e-7) on kCnnBatch.
void train_step_mlp(benchmark::State& state);
// torch::conv2d with bias, then torch::autograd::grad of weight, bias (and input when asked).
void conv2d_step(benchmark::State& state, const ConvCase& c);
void train_step_cnn(benchmark::State& state);

}  // namespace nabla_bench::torch_ref

// The LibTorch reference to register beside a nabla benchmark, or nullptr when LibTorch was not
// found (the registration helpers then register the nabla side alone).
#ifdef NABLA_BENCH_TORCH
#define NABLA_TORCH_REF(fn) nabla_bench::torch_ref::fn
#else
#define NABLA_TORCH_REF(fn) nullptr
#endif

// 2x2/stride-2 pooling of a float32 [batch, channels, size, size] input holding relu(randn)
// (half zeros, as after a Conv2D + relu): max (with its int64 indices) or average, forward or
// backward (torch::max_pool2d_with_indices_backward / torch::avg_pool2d_backward, what autograd
// runs). Counters from set_pool_counters.
namespace nabla_bench::torch_ref {

void pool2d(benchmark::State& state, bool max, bool backward, int64_t batch, int64_t channels,
            int64_t size);

// Bytes each pass must move: the input (or its gradient) once, the output (or its gradient) once,
// and for max pooling the int64 indices once.
inline void set_pool_counters(benchmark::State& state, bool max, int64_t batch, int64_t channels,
                              int64_t size) {
  const int64_t in = batch * channels * size * size;
  const int64_t out = batch * channels * (size / 2) * (size / 2);
  const int64_t bytes = (in + out) * 4 + (max ? out * 8 : 0);
  state.SetItemsProcessed(state.iterations() * in);
  state.SetBytesProcessed(state.iterations() * bytes);
}

}  // namespace nabla_bench::torch_ref
