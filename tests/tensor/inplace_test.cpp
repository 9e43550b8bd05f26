// Tensor's in-place ops (tensor/inplace.cpp) run in the tensor layer alone: this suite links
// nabla_tensor only, so autograd's check is never installed here.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "tensor/kernels/kernels.h"
#include "tensor/tensor.h"

namespace nabla {
namespace {

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

}  // namespace
}  // namespace nabla
