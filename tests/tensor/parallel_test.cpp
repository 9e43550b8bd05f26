// set_num_threads / get_num_threads: the setting is kept and checked, and every parallel kernel
// gives the same bits with 1 and 2 threads.
#include "tensor/parallel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tensor/error.h"
#include "tensor/kernels/conv.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/pool.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "tests/support/thread_count_guard.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nabla {
namespace {

using nabla::testing::ThreadCountGuard;

TEST(Parallel, GetReturnsWhatWasSet) {
  const ThreadCountGuard guard;
  for (const int n : {1, 2, 3, 1}) {
    set_num_threads(n);
    EXPECT_EQ(get_num_threads(), n);
#ifdef _OPENMP
    EXPECT_EQ(omp_get_max_threads(), n);
#endif
    // The setting is process-wide: another thread sees it too.
    int seen = 0;
    std::thread other([&] { seen = get_num_threads(); });
    other.join();
    EXPECT_EQ(seen, n);
  }
}

TEST(Parallel, InvalidCountsThrowAndKeepTheSetting) {
  const ThreadCountGuard guard;
  set_num_threads(2);
  for (const int n : {0, -1, -64}) {
    try {
      set_num_threads(n);
      ADD_FAILURE() << "no error for " << n;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fmt::format("must be >= 1, got {}", n)),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(get_num_threads(), 2);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = kernels::contiguous(a);
  const Tensor cb = kernels::contiguous(b);
  return std::memcmp(ca.raw_data(), cb.raw_data(),
                     static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

TEST(Parallel, EveryParallelKernelGivesTheSameBitsForOneAndTwoThreads) {
  const ThreadCountGuard guard;
  Generator generator(3);
  // Large enough to pass every kernel's grain size.
  const Tensor big = randn({512, 384}, kFloat32, &generator);
  const Tensor other = randn({384, 256}, kFloat32, &generator);
  const Tensor images = randn({8, 3, 40, 40}, kFloat32, &generator);
  const Tensor weight = randn({16, 3, 3, 3}, kFloat32, &generator);
  const Tensor bias = randn({16}, kFloat32, &generator);
  const Tensor grad_out = randn({8, 16, 38, 38}, kFloat32, &generator);
  const Pool2dOptions pool{};
  const Conv2dOptions conv{};
  const std::vector<std::pair<std::string, std::function<Tensor()>>> kernels_under_test = {
      {"matmul", [&] { return kernels::matmul(big, other); }},
      {"add", [&] { return kernels::binary(kernels::BinaryOp::Add, big, big); }},
      {"exp", [&] { return kernels::unary(kernels::UnaryOp::Exp, big); }},
      {"sum all", [&] { return kernels::sum(big, {}, false); }},
      {"sum rows", [&] { return kernels::sum(big, {1}, false); }},
      {"sum columns", [&] { return kernels::sum(big, {0}, false); }},
      {"amax", [&] { return kernels::amax(big, {1}, false); }},
      {"softmax", [&] { return kernels::softmax(big, 1); }},
      {"log_softmax", [&] { return kernels::log_softmax(big, 0); }},
      {"conv2d", [&] { return kernels::conv2d(images, weight, bias, conv); }},
      {"conv2d_weight_grad",
       [&] { return kernels::conv2d_weight_grad(grad_out, images, weight.shape(), conv); }},
      {"conv2d_input_grad",
       [&] { return kernels::conv2d_input_grad(grad_out, weight, images.shape(), conv); }},
      {"max_pool2d", [&] { return kernels::max_pool2d_with_argmax(images, pool).first; }},
      {"avg_pool2d", [&] { return kernels::avg_pool2d(images, pool); }},
  };
  for (const auto& [name, run] : kernels_under_test) {
    set_num_threads(1);
    const Tensor one = run();
    set_num_threads(2);
    const Tensor two = run();
    EXPECT_TRUE(same_bits(one, two)) << name;
  }
}

}  // namespace
}  // namespace nabla
