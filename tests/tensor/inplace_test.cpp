// Tensor's in-place ops (tensor/inplace.cpp) run in the tensor layer alone: this suite links
// nabla_tensor only, so autograd's check is never installed here.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/kernels/kernels.h"
#include "tensor/tensor.h"
#include "tests/support/expect_error.h"

namespace nabla {
namespace {

using testing::expect_error_containing;

TEST(InPlace, ArithmeticWritesIntoTheTensorAndBumpsItsVersion) {
  const std::vector<double> start{1.0, -2.0, 3.5, 0.25, 4.0, -8.0};
  const std::vector<double> other{0.5, 2.0, -1.0, 4.0, 0.125, 2.0};
  Tensor t = tensor(start, {2, 3}, kFloat64);
  const Tensor o = tensor(other, {2, 3}, kFloat64);
  const uint64_t version = t.version();
  t.add_(o, 2.0).mul_(3.0).sub_(o).div_(o).add_(1.0).div_(2.0).mul_(o);
  EXPECT_GT(t.version(), version);
  const std::vector<double> got = t.to_vector<double>();
  for (size_t i = 0; i < start.size(); ++i) {
    const double expected =
        ((((start[i] + 2.0 * other[i]) * 3.0 - other[i]) / other[i]) + 1.0) / 2.0 * other[i];
    EXPECT_DOUBLE_EQ(got[i], expected) << "element " << i;
  }
}

TEST(InPlace, FillZeroClampAndCopyWriteThroughViews) {
  Tensor t = zeros({2, 3}, kFloat64);
  Tensor column = kernels::select(t, 1, 1);
  column.fill_(5.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{0, 5, 0, 0, 5, 0}));
  t.copy_(tensor({-3.0, 1.0, 0.5, 9.0, -0.5, 2.0}, {2, 3}, kFloat64));
  t.clamp_(-1.0, 1.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{-1, 1, 0.5, 1, -0.5, 1}));
  t.clamp_(std::nullopt, 0.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{-1, 0, 0, 0, -0.5, 0}));
  column.zero_();
  t.add_(2.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, 2, 2, 2, 2, 2}));
}

TEST(InPlace, MismatchedShapesAreRefusedWithoutWriting) {
  Tensor t = zeros({2, 3});
  EXPECT_THROW(t.add_(ones({4})), Error);
  EXPECT_THROW(t.copy_(ones({3, 2})), Error);
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(6, 0.0F)) << "a refused op wrote";
}

// Regression: writing into an expanded view wrote each memory location 4 times (4.0 everywhere).
TEST(InPlace, InPlaceOpsRefuseTensorsWhoseElementsShareMemory) {
  Tensor base = zeros({3});
  Tensor expanded = kernels::expand(kernels::reshape(base, {3, 1}), {3, 4});
  expect_error_containing([&] { expanded.add_(1.0); },
                          "add_: more than one element of the written-to tensor (shape [3, 4], "
                          "strides [1, 0]) refers to a single memory location");
  expect_error_containing([&] { expanded.mul_(ones({3, 4})); }, "mul_: more than one element");
  expect_error_containing([&] { expanded.copy_(ones({3, 4})); }, "copy_: more than one element");
  expect_error_containing([&] { expanded.clamp_(0.0, 1.0); }, "more than one element");
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 0, 0})) << "a refused op wrote";
  // fill_ is well defined on shared memory (every element gets the value), as in PyTorch.
  expanded.fill_(2.0);
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{2, 2, 2}));
  // Views whose elements are distinct are written as before.
  Tensor matrix = zeros({4, 6});
  kernels::transpose(kernels::slice(matrix, 1, 1, 6, 2), 0, 1).add_(1.0);
  kernels::select(matrix, 0, 2).sub_(ones({6}));
  EXPECT_EQ(kernels::sum(matrix, {}, false).item(), 12.0 - 6.0);
  Tensor single =
      kernels::expand(zeros({1, 5}), {1, 5});  // a stride-0 dim of extent 1 is no overlap
  EXPECT_NO_THROW(single.add_(1.0));
}

// Regression: int64.add_(0.5) and int64.mul_(1.5) truncated silently; PyTorch refuses the cast.
TEST(InPlace, InPlaceFloatOpsOnInt64TensorsAreRefused) {
  Tensor counts = arange(3);
  expect_error_containing([&] { counts.add_(0.5); },
                          "add_: the result type float32 cannot be written into an int64 tensor "
                          "(shape [3]) without truncating");
  expect_error_containing(
      [&] {
        counts.mul_(kernels::slice(kernels::reshape(full({2}, 1.5), {2, 1}), 0, 0, 1, 1));
      },
      "mul_: the result type float32");
  expect_error_containing([&] { counts.sub_(tensor({1.0}, kFloat64)); },
                          "sub_: the result type float64");
  expect_error_containing([&] { counts.add_(ones({3}), 0.5); }, "int64 tensor");
  EXPECT_EQ(counts.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
  // Integral values keep working.
  counts.add_(2.0);
  counts.mul_(arange(3));
  EXPECT_EQ(counts.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 8}));
}

}  // namespace
}  // namespace nabla
