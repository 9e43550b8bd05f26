// Gradient clipping: global norm (returned before clipping, direction kept, NaN/inf left alone,
// overflow-free accumulation, undefined gradients ignored) and clipping by value.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/optim.h"
#include "tests/optim/optim_test_support.h"

namespace nabla::optim {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the shared fixture

Tensor with_grad(const std::vector<double>& grad, DType dtype = kFloat64) {
  Tensor p = zeros({static_cast<int64_t>(grad.size())}, dtype).requires_grad_();
  p.set_grad(tensor(grad, {static_cast<int64_t>(grad.size())}, dtype));
  return p;
}

TEST(ClipGradNorm, ScalesAllGradientsByOneFactor) {
  // Global norm of [3, 4] and [12] is sqrt(9 + 16 + 144) = 13.
  const Tensor a = with_grad({3.0, 4.0});
  const Tensor b = with_grad({12.0});
  const Tensor no_grad = zeros({2}, kFloat64).requires_grad_();
  const double norm = clip_grad_norm({a, no_grad, b}, 6.5);
  EXPECT_DOUBLE_EQ(norm, 13.0);
  const double factor = 6.5 / (13.0 + 1e-6);
  EXPECT_DOUBLE_EQ(a.grad().to_vector<double>()[0], 3.0 * factor);
  EXPECT_DOUBLE_EQ(a.grad().to_vector<double>()[1], 4.0 * factor);
  EXPECT_DOUBLE_EQ(b.grad().item(), 12.0 * factor);
  EXPECT_FALSE(no_grad.grad().defined());
  EXPECT_NEAR(clip_grad_norm({a, b}, 100.0), 6.5, 1e-6);  // now within the bound
}

TEST(ClipGradNorm, LeavesSmallGradientsUntouched) {
  const Tensor a = with_grad({0.3, -0.4});
  EXPECT_DOUBLE_EQ(clip_grad_norm({a}, 1.0), 0.5);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.3, -0.4}));
  EXPECT_EQ(clip_grad_norm({}, 1.0), 0.0);
}

TEST(ClipGradNorm, Float32GradientsAreSummedInDouble) {
  // float32 squares of 1e20 overflow; the norm is accumulated in double.
  const Tensor a = with_grad({3e20, 4e20}, kFloat32);
  const double norm = clip_grad_norm({a}, 1.0);
  EXPECT_NEAR(norm / 5e20, 1.0, 1e-6);
  const std::vector<float> g = a.grad().to_vector<float>();
  EXPECT_NEAR(g[0], 0.6F, 1e-6F);
  EXPECT_NEAR(g[1], 0.8F, 1e-6F);
  EXPECT_EQ(a.grad().dtype(), kFloat32);
}

TEST(ClipGradNorm, HugeFiniteDoubleGradientsDoNotOverflowTheNorm) {
  const Tensor a = with_grad({3e200, 4e200});
  const double norm = clip_grad_norm({a}, 1.0);
  EXPECT_NEAR(norm / 5e200, 1.0, 1e-12);
  EXPECT_NEAR(a.grad().to_vector<double>()[1], 0.8, 1e-12);
}

TEST(ClipGradNorm, NonFiniteNormLeavesGradientsAndIsReturned) {
  const Tensor a = with_grad({1.0, std::numeric_limits<double>::infinity()});
  const Tensor b = with_grad({5.0});
  EXPECT_TRUE(std::isinf(clip_grad_norm({a, b}, 1.0)));
  EXPECT_EQ(b.grad().item(), 5.0);
  const Tensor c = with_grad({std::nan(""), 2.0});
  EXPECT_TRUE(std::isnan(clip_grad_norm({c, b}, 1.0)));
  EXPECT_EQ(c.grad().to_vector<double>()[1], 2.0);
  EXPECT_EQ(b.grad().item(), 5.0);
  EXPECT_NE(message_of([&] {
              (void)clip_grad_norm({c, b}, 1.0, /*error_if_nonfinite=*/true);
            }).find("clip_grad_norm: the total norm of the gradients is nan"),
            std::string::npos);
}

TEST(ClipGradNorm, RejectsNegativeMaxNorm) {
  EXPECT_EQ(message_of([] { (void)clip_grad_norm({}, -1.0); }),
            "clip_grad_norm: max_norm must be >= 0, got -1");
}

TEST(ClipGradNorm, NonContiguousGradientIsReplacedNotWrittenThrough) {
  // A broadcast gradient shares one element among all positions: scaling it in place would scale
  // that element once per position.
  Tensor p = zeros({3}, kFloat64).requires_grad_();
  const Tensor shared = tensor({4.0}, kFloat64);
  p.set_grad(shared.expand({3}));
  const double norm = clip_grad_norm({p}, 1.0);
  EXPECT_DOUBLE_EQ(norm, std::sqrt(48.0));
  const double factor = 1.0 / (std::sqrt(48.0) + 1e-6);
  for (double g : p.grad().to_vector<double>()) EXPECT_DOUBLE_EQ(g, 4.0 * factor);
  EXPECT_EQ(shared.item(), 4.0);
}

TEST(ClipGradNorm, WorksOnGradientsFromBackward) {
  Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  sum(square(w) * 10.0).backward();  // grad = 20 w = [20, 40]
  const double norm = clip_grad_norm({w}, 1.0);
  EXPECT_NEAR(norm, std::sqrt(2000.0), 1e-12);
  const std::vector<double> g = w.grad().to_vector<double>();
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-6);
  EXPECT_NEAR(g[1] / g[0], 2.0, 1e-12);
}

TEST(ClipGradValue, ClampsEachElement) {
  const Tensor a = with_grad({-3.0, -0.5, 0.0, 0.7, 2.0});
  const Tensor no_grad = zeros({1}).requires_grad_();
  clip_grad_value({a, no_grad}, 1.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{-1.0, -0.5, 0.0, 0.7, 1.0}));
  EXPECT_FALSE(no_grad.grad().defined());
  const Tensor f = with_grad({-3.0, 0.25}, kFloat32);
  clip_grad_value({f}, 0.5);
  EXPECT_EQ(f.grad().to_vector<float>(), (std::vector<float>{-0.5F, 0.25F}));
}

TEST(ClipGradValue, RejectsNegativeOrNanClip) {
  EXPECT_EQ(message_of([] { clip_grad_value({}, -0.1); }),
            "clip_grad_value: clip must be >= 0, got -0.1");
  EXPECT_EQ(message_of([] { clip_grad_value({}, std::nan("")); }),
            "clip_grad_value: clip must be >= 0, got nan");
}

}  // namespace
}  // namespace nabla::optim
