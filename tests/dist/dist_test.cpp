// The process group and the tensor collectives against sums written out in the test (each rank
// knows what every other rank contributes: a function of the rank).
#include "dist/dist.h"

#include <gtest/gtest.h>

#include <vector>

#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla::dist {
namespace {

// Rank r's contribution to element i.
double value(int64_t r, int64_t i) {
  return 0.5 * static_cast<double>(r + 1) + static_cast<double>(i);
}

TEST(ProcessGroup, RankAndLocalRankAreWithinTheWorld) {
  ASSERT_TRUE(initialized());
  EXPECT_GE(world_size(), 1);
  EXPECT_GE(rank(), 0);
  EXPECT_LT(rank(), world_size());
  // ctest starts every rank on this machine.
  EXPECT_EQ(local_rank(), rank());
}

TEST(Allreduce, SumAndMeanOfFloatTensorsMatchTheWrittenOutSums) {
  const int64_t n = world_size();
  for (const DType dtype : {kFloat32, kFloat64}) {
    std::vector<double> mine(6);
    std::vector<double> expected(6, 0.0);
    for (int64_t i = 0; i < 6; ++i) {
      mine[static_cast<size_t>(i)] = value(rank(), i);
      for (int64_t r = 0; r < n; ++r) expected[static_cast<size_t>(i)] += value(r, i);
    }
    Tensor sum = tensor(mine, {2, 3}, dtype);
    allreduce(sum);
    Tensor mean = tensor(mine, {2, 3}, dtype);
    allreduce(mean, ReduceOp::Mean);
    const std::vector<double> got_sum = sum.to(kFloat64).to_vector<double>();
    const std::vector<double> got_mean = mean.to(kFloat64).to_vector<double>();
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_DOUBLE_EQ(got_sum[i], expected[i]) << dtype_name(dtype);
      EXPECT_DOUBLE_EQ(got_mean[i], expected[i] / static_cast<double>(n)) << dtype_name(dtype);
    }
    EXPECT_EQ(sum.dtype(), dtype);
  }
}

TEST(Allreduce, Int64SumIsExact) {
  const int64_t big = int64_t{1} << 40;
  Tensor t = tensor(std::vector<int64_t>{big + rank(), -rank(), 7}, {3});
  allreduce(t);
  const int64_t n = world_size();
  EXPECT_EQ(t.to_vector<int64_t>(),
            (std::vector<int64_t>{n * big + n * (n - 1) / 2, -n * (n - 1) / 2, 7 * n}));
}

TEST(Allreduce, StridedTensorIsReducedInPlace) {
  Tensor base = full({3, 2}, static_cast<double>(rank() + 1));
  Tensor view = base.transpose(0, 1);  // [2, 3], not contiguous
  ASSERT_FALSE(view.is_contiguous());
  allreduce(view);
  const int64_t n = world_size();
  const auto expected = static_cast<float>(n * (n + 1) / 2);
  EXPECT_EQ(base.to_vector<float>(), std::vector<float>(6, expected));
}

TEST(Allreduce, ErrorsNameTheOpShapeAndDtype) {
  Tensor ints = zeros({3}, kInt64);
  testing::expect_error_containing(
      [&] { allreduce(ints, ReduceOp::Mean); },
      "allreduce: mean of a tensor of shape [3] and dtype int64; mean needs float32 or float64");
  if (world_size() == 1) return;
  // Every rank throws the same error, so no rank is left waiting.
  Tensor mismatched = zeros({rank() == 0 ? 2 : 3});
  testing::expect_error_containing(
      [&] { allreduce(mismatched); },
      "allreduce: rank 0 passes a tensor of shape [2] and dtype float32 but rank 1 one of shape "
      "[3] and dtype float32");
  Tensor other_dtype = zeros({2}, rank() == 0 ? kFloat32 : kFloat64);
  testing::expect_error_containing([&] { broadcast(other_dtype); },
                                   "broadcast: rank 0 passes a tensor of shape [2] and dtype "
                                   "float32 but rank 1 one of shape [2] and dtype float64");
  Tensor t = zeros({1});
  testing::expect_error_containing([&] { broadcast(t, world_size()); },
                                   "is not a rank of this job");
}

TEST(Broadcast, EveryRankGetsTheRootsValuesForEachDtype) {
  const int64_t root = world_size() - 1;
  for (const DType dtype : {kFloat32, kFloat64, kInt64}) {
    Tensor t = full({2, 2}, static_cast<double>(10 * rank() + 1), dtype);
    broadcast(t, root);
    EXPECT_EQ(t.to(kFloat64).to_vector<double>(),
              std::vector<double>(4, static_cast<double>(10 * root + 1)))
        << dtype_name(dtype);
  }
  // A parameter (a leaf that requires grad) can be broadcast too.
  Tensor w = full({3}, static_cast<double>(rank())).requires_grad_();
  broadcast(w);
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(3, 0.0F));
  EXPECT_TRUE(w.requires_grad());
}

TEST(SumInRankOrder, AddsInRankOrderBitForBit) {
  // Values whose float sum depends on the order: 1e16 and small ones.
  auto contribution = [](int64_t r) {
    return std::vector<double>{r % 2 == 0 ? 1e16 : -1e16, 0.1 * static_cast<double>(r + 1)};
  };
  std::vector<double> values = contribution(rank());
  sum_in_rank_order(values);
  std::vector<double> expected(2, 0.0);
  for (int64_t r = 0; r < world_size(); ++r) {
    for (size_t i = 0; i < 2; ++i) expected[i] += contribution(r)[i];
  }
  EXPECT_EQ(values, expected);
  barrier();
}

}  // namespace
}  // namespace nabla::dist
