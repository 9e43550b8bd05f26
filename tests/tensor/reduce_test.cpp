// Raw reductions: accuracy of long float sums, determinism across thread counts, shapes.
#include <gtest/gtest.h>
#include <omp.h>

#include "tensor/kernels/kernels.h"
#include "tensor/random.h"

namespace nabla {
namespace {

TEST(Reduce, SumOfTwoToThe25Float32OnesIsExact) {
  const Tensor ones_big = ones({int64_t{1} << 25});
  EXPECT_EQ(kernels::sum(ones_big, {}, false).item<float>(), 33554432.0F);
  EXPECT_EQ(kernels::mean(ones_big, {}, false).item<float>(), 1.0F);
  // The same count along a row of a 2-D tensor.
  const Tensor rows = ones({2, int64_t{1} << 24});
  EXPECT_EQ(kernels::sum(rows, {1}, false).to_vector<float>(),
            (std::vector<float>{16777216.0F, 16777216.0F}));
}

TEST(Reduce, BitIdenticalForAnyThreadCount) {
  Generator g(3);
  const Tensor x = randn({1 << 20}, kFloat32, &g);
  const Tensor m = randn({512, 700}, kFloat32, &g);
  omp_set_num_threads(1);
  const float one = kernels::sum(x, {}, false).item<float>();
  const auto rows_one = kernels::sum(m, {0}, false).to_vector<float>();
  const auto soft_one = kernels::softmax(m, 1).to_vector<float>();
  omp_set_num_threads(2);
  const float two = kernels::sum(x, {}, false).item<float>();
  const auto rows_two = kernels::sum(m, {0}, false).to_vector<float>();
  const auto soft_two = kernels::softmax(m, 1).to_vector<float>();
  EXPECT_EQ(one, two);
  EXPECT_EQ(rows_one, rows_two);
  EXPECT_EQ(soft_one, soft_two);
}

TEST(Reduce, SumsOverArbitraryDims) {
  const Tensor t = arange(24).reshape({2, 3, 4});
  EXPECT_EQ(kernels::sum(t, {0, 2}, false).to_vector<int64_t>(),
            (std::vector<int64_t>{60, 92, 124}));
  EXPECT_EQ(kernels::sum(t, {-1}, true).shape(), (Shape{2, 3, 1}));
  // Reducing a transposed view: sum over dim 0 of t^T (dims 2,1,0) equals sum over dim 2 of t.
  EXPECT_EQ(kernels::sum(kernels::transpose(t, 0, 2), {0}, false).to_vector<int64_t>(),
            (std::vector<int64_t>{6, 54, 22, 70, 38, 86}));
  EXPECT_EQ(kernels::sum(zeros({0, 3}), {0}, false).to_vector<float>(),
            std::vector<float>(3, 0.0F));
  EXPECT_EQ(kernels::sum(scalar_tensor(5.0), {}, false).item(), 5.0);
}

TEST(Reduce, SumToInvertsBroadcasting) {
  const Tensor t = ones({3, 2, 4});
  EXPECT_EQ(kernels::sum_to(t, {2, 1}).to_vector<float>(), (std::vector<float>{12, 12}));
  EXPECT_EQ(kernels::sum_to(t, {}).item(), 24.0);
  EXPECT_THROW((void)kernels::sum_to(t, {3}), Error);
}

TEST(Reduce, ArgmaxTakesFirstOfTies) {
  const Tensor t = tensor({{1, 3, 3}, {2, 2, 0}});
  EXPECT_EQ(kernels::argmax(t, 1, false).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(kernels::argmin(t, std::nullopt, false).item<int64_t>(), 5);
}

}  // namespace
}  // namespace nabla
