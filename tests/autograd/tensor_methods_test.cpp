// Tensor's in-place methods (tensor/inplace.cpp, with the check autograd/ installs): what they
// refuse, with the repro of each defect they once had.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla {
namespace {

using testing::expect_error_containing;

// Regression: writing into an expanded view wrote each memory location 4 times (4.0 everywhere).
TEST(TensorMethods, InPlaceOpsRefuseTensorsWhoseElementsShareMemory) {
  Tensor base = zeros({3});
  Tensor expanded = base.reshape({3, 1}).expand({3, 4});
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
  matrix.slice(1, 1, 6, 2).t().add_(1.0);
  matrix.select(0, 2).sub_(ones({6}));
  EXPECT_EQ(matrix.sum().item(), 12.0 - 6.0);
  Tensor single = zeros({1, 5}).expand({1, 5});  // a stride-0 dim of extent 1 is no overlap
  EXPECT_NO_THROW(single.add_(1.0));
}

// Regression: int64.add_(0.5) and int64.mul_(1.5) truncated silently; PyTorch refuses the cast.
TEST(TensorMethods, InPlaceFloatOpsOnInt64TensorsAreRefused) {
  Tensor counts = arange(3);
  expect_error_containing([&] { counts.add_(0.5); },
                          "add_: the result type float32 cannot be written into an int64 tensor "
                          "(shape [3]) without truncating");
  expect_error_containing(
      [&] {
        counts.mul_(full({2}, 1.5).reshape({2, 1}).slice(0, 0, 1));
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

// Regression: slice and narrow with bounds near INT64_MAX returned wrong shapes (or overflowed).
TEST(TensorMethods, SliceAndNarrowHandleBoundsNearInt64Max) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const Tensor t = arange(10).reshape({2, 5});
  const Tensor first = t.slice(1, 0, 5, kMax);
  EXPECT_EQ(first.shape(), (Shape{2, 1}));
  EXPECT_EQ(first.to_vector<int64_t>(), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(t.slice(1, kMax, kMax, 1).shape(), (Shape{2, 0}));
  EXPECT_EQ(t.slice(1, std::numeric_limits<int64_t>::min(), kMax, kMax - 1).shape(), (Shape{2, 1}));
  EXPECT_EQ(t.slice(1, 1, kMax, 3).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 6, 9}));
  expect_error_containing(
      [&] { (void)t.narrow(1, 1, kMax); },
      "narrow: start 1 and length 9223372036854775807 do not fit dim 1 of size 5");
  expect_error_containing([&] { (void)t.narrow(1, kMax, 1); }, "narrow: start");
  expect_error_containing([&] { (void)t.narrow(1, -1, kMax); }, "narrow: start");
  EXPECT_EQ(t.narrow(1, 5, 0).shape(), (Shape{2, 0}));
}

// Regression: a hook returning another shape was accepted; the error surfaced in the optimizer.
TEST(TensorMethods, HookResultsMustKeepTheGradientsShapeAndDtype) {
  const Tensor leaf = ones({3}, kFloat64).requires_grad_();
  leaf.register_hook([](const Tensor& g) { return g.sum(); });
  expect_error_containing(
      [&] { (leaf * 2.0).sum().backward(); },
      "register_hook: hook 0 of the leaf tensor of shape [3] returned a gradient "
      "of shape [] and dtype float64; the gradient it received has shape [3]");
  const Tensor x = ones({2, 2}, kFloat64).requires_grad_();
  const Tensor y = x * 3.0;
  y.register_hook([](const Tensor& g) { return g.to(kFloat32); });
  expect_error_containing([&] { y.sum().backward(); },
                          "hook 0 of the output of mul returned a gradient of shape [2, 2] and "
                          "dtype float32; the gradient it received has shape [2, 2] and dtype "
                          "float64");
  // A hook that keeps the shape may still replace the values.
  const Tensor z = ones({2}, kFloat64).requires_grad_();
  z.register_hook([](const Tensor& g) { return g * 10.0; });
  (z * 1.0).sum().backward();
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{10.0, 10.0}));
}

}  // namespace
}  // namespace nabla
