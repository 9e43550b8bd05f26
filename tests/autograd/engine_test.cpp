// The engine: exact gradients on small graphs, accumulation, graph release, deep graphs, version
// checks, hooks, custom gradients and second derivatives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nabla.h"
#include "tensor/kernels/kernels.h"
#include "tests/support/expect_error.h"

namespace nabla {
namespace {

TEST(Engine, BroadcastAddReducesGradientToInputShape) {
  Tensor a = randn({3, 4}).requires_grad_();
  Tensor b = randn({1, 4}).requires_grad_();
  sum(a + b).backward();
  EXPECT_EQ(b.grad().shape(), (Shape{1, 4}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{3, 3, 3, 3}));
  EXPECT_EQ(a.grad().to_vector<float>(), std::vector<float>(12, 1.0F));
}

TEST(Engine, DiamondGraphSumsBothPaths) {
  Tensor x = tensor({2.0}, kFloat64).requires_grad_();
  const Tensor y = x * 3.0;
  const Tensor z = y * y + y;  // dz/dx = (2y + 1) * 3 = 39 at x = 2
  z.backward(ones_like(z));
  EXPECT_DOUBLE_EQ(x.grad().item(), 39.0);
}

TEST(Engine, RetainGraphTwiceGivesExactlyTwice) {
  Tensor x = tensor({1.5, -2.0}, kFloat64).requires_grad_();
  const Tensor loss = sum(x * x * x);
  loss.backward(Tensor(), /*retain_graph=*/true);
  const std::vector<double> once = x.grad().to_vector<double>();
  loss.backward();
  const std::vector<double> twice = x.grad().to_vector<double>();
  ASSERT_EQ(once.size(), twice.size());
  for (size_t i = 0; i < once.size(); ++i) EXPECT_EQ(twice[i], 2.0 * once[i]);
  EXPECT_EQ(once, (std::vector<double>{3 * 1.5 * 1.5, 3 * 4.0}));
}

TEST(Engine, SecondBackwardWithoutRetainGraphIsAnError) {
  Tensor x = tensor({1.0}).requires_grad_();
  const Tensor loss = sum(x * x);
  loss.backward();
  try {
    loss.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Engine, NonScalarBackwardNeedsGradient) {
  Tensor x = ones({2, 2}).requires_grad_();
  EXPECT_THROW((x * 2.0).backward(), Error);
  EXPECT_THROW((x * 2.0).backward(ones({3})), Error);
  const Tensor y = x * 2.0;
  y.backward(full({2, 2}, 0.5));
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(4, 1.0F));
}

TEST(Engine, BackwardOnTensorWithoutGradIsAnError) {
  const Tensor x = ones({2});
  EXPECT_THROW(sum(x).backward(), Error);
  EXPECT_THROW((void)ones({2}, kInt64).requires_grad_(), Error);
}

TEST(Engine, GradientsAccumulateAcrossBackwards) {
  Tensor w = ones({3}).requires_grad_();
  sum(w * 2.0).backward();
  sum(w * 3.0).backward();
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(3, 5.0F));
  w.set_grad(Tensor());
  sum(w).backward();
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(3, 1.0F));
}

TEST(Engine, DetachAndNoGradStopRecording) {
  Tensor x = ones({2}).requires_grad_();
  EXPECT_FALSE(x.detach().requires_grad());
  EXPECT_TRUE(x.detach().is_leaf());
  {
    const NoGradGuard guard;
    const Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  const Tensor z = x * 2.0;
  EXPECT_TRUE(z.requires_grad());
  ASSERT_NE(z.grad_fn(), nullptr);
  EXPECT_EQ(z.grad_fn()->name(), "mul");
}

TEST(Engine, MillionOpChainBackpropsAndFreesWithoutRecursion) {
  const int64_t nodes_before = autograd::Node::live_count();
  const int64_t tensors_before = TensorImpl::live_count();
  {
    Tensor x = tensor({1.0}, kFloat64).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < 1000000; ++i) y = y + 0.0;
    EXPECT_GE(autograd::Node::live_count() - nodes_before, 1000000);
    sum(y).backward();
    EXPECT_DOUBLE_EQ(x.grad().item(), 1.0);
    // A second chain that is dropped without any backward.
    Tensor w = x;
    for (int i = 0; i < 1000000; ++i) w = w * 1.0;
  }
  EXPECT_EQ(autograd::Node::live_count(), nodes_before);
  EXPECT_EQ(TensorImpl::live_count(), tensors_before);
}

TEST(Engine, OpsThatSaveTheirOutputDoNotLeak) {
  const int64_t nodes_before = autograd::Node::live_count();
  const int64_t tensors_before = TensorImpl::live_count();
  {
    Tensor x = randn({4, 5}).requires_grad_();
    const Tensor y = softmax(exp(sigmoid(tanh(x))), 1);
    const Tensor z = log_softmax(y, 0) + pow(y, tensor({2.0}));
    EXPECT_GT(autograd::Node::live_count(), nodes_before);
    (void)z;
  }
  EXPECT_EQ(autograd::Node::live_count(), nodes_before);
  EXPECT_EQ(TensorImpl::live_count(), tensors_before);
}

TEST(Engine, InPlaceChangeOfSavedTensorIsDetected) {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({3.0, 4.0});
  const Tensor y = sum(x * b);
  b.mul_(2.0);
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified by an in-place operation"), std::string::npos)
        << e.what();
  }
}

TEST(Engine, InPlaceChangeOfSavedOutputIsDetected) {
  Tensor x = tensor({0.5, -0.5}).requires_grad_();
  Tensor y = exp(x);
  {
    const NoGradGuard guard;
    y.add_(1.0);
  }
  EXPECT_THROW(sum(y).backward(), Error);
}

TEST(Engine, InPlaceOnTensorRequiringGradIsRefused) {
  Tensor w = ones({2}).requires_grad_();
  EXPECT_THROW(w.add_(1.0), Error);
  {
    const NoGradGuard guard;
    w.add_(1.0);
  }
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(2, 2.0F));
}

// The description of a saved tensor is built only when the error is thrown; it names the saved
// tensor's position in the op's saved list and its shape.
TEST(Engine, InPlaceErrorNamesTheSavedTensorAndItsShape) {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({{3.0}, {4.0}, {5.0}});
  const Tensor y = sum(x * b);
  b.mul_(2.0);
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string expected =
        "backward: saved tensor 1 of shape [3, 1] of mul was modified by an in-place operation "
        "after it was saved (version ";
    EXPECT_EQ(std::string(e.what()).substr(0, expected.size()), expected) << e.what();
  }
}

// tensor/'s in-place ops reach autograd's check through the hook it installs.
TEST(Engine, InPlaceRefusalNamesTheOpForLeavesAndNonLeaves) {
  Tensor w = ones({2, 3}).requires_grad_();
  Tensor h = w * 2.0;
  const std::string suffix =
      ": in-place operation on a tensor that requires grad (shape [2, 3]); use an out-of-place "
      "op or wrap the update in NoGradGuard";
  for (Tensor* t : {&w, &h}) {
    try {
      t->fill_(0.0);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "fill_" + suffix);
    }
    try {
      t->copy_(zeros({2, 3}));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "copy_" + suffix);
    }
  }
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(6, 1.0F)) << "a refused op wrote";
  // A tensor whose slot is set but that no longer requires grad, and a detached alias, are free.
  Tensor plain = ones({2}).requires_grad_().requires_grad_(false);
  plain.add_(1.0);
  Tensor alias = w.detach();
  alias.add_(1.0);
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(6, 2.0F));
}

// A closure taking a NeedsGrad learns which inputs want a gradient; the others are not delivered.
TEST(Engine, MaskedBackwardReceivesWhichInputsNeedAGradient) {
  Tensor a = tensor({1.0, 2.0}).requires_grad_();
  const Tensor b = tensor({3.0, 4.0});
  Tensor c = tensor({5.0, 6.0}).requires_grad_();
  std::vector<bool> seen;
  const Tensor y = autograd::record(
      "masked", kernels::clone(a), {a, b, c},
      [&seen](const Tensor& g, const autograd::NeedsGrad& needs) -> autograd::Grads {
        seen = {needs[0], needs[1], needs[2]};
        return {needs[0] ? g : Tensor(), needs[1] ? g : Tensor(), needs[2] ? g * 3.0 : Tensor()};
      });
  sum(y).backward();
  EXPECT_EQ(seen, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(c.grad().to_vector<double>(), (std::vector<double>{3.0, 3.0}));
  EXPECT_FALSE(b.grad().defined());
}

TEST(Engine, UnaffectedInPlaceChangeIsAllowed) {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor c = tensor({5.0, 5.0});
  const Tensor y = sum(x + c);  // add saves nothing
  c.mul_(2.0);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(2, 1.0F));
}

TEST(Engine, HooksSeeAndReplaceGradients) {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  std::vector<float> seen;
  x.register_hook([&seen](const Tensor& g) {
    seen = g.to_vector<float>();
    return g * 10.0;
  });
  const Tensor y = x * 3.0;
  y.register_hook([](const Tensor& g) { return g + 1.0; });
  sum(y).backward();
  EXPECT_EQ(seen, (std::vector<float>{6, 6}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{60, 60}));
}

TEST(Engine, RetainGradKeepsNonLeafGradient) {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  const Tensor y = x * 3.0;
  y.retain_grad();
  sum(y * y).backward();
  EXPECT_EQ(y.grad().to_vector<float>(), (std::vector<float>{6, 12}));
}

TEST(Engine, AutogradGradReturnsWithoutAccumulating) {
  Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  Tensor unused = tensor({1.0}, kFloat64).requires_grad_();
  const Tensor y = sum(x * x * x);
  const auto grads = autograd::grad({y}, {x, unused});
  EXPECT_EQ(grads[0].to_vector<double>(), (std::vector<double>{3, 12}));
  EXPECT_FALSE(grads[1].defined());
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, CreateGraphGivesSecondDerivatives) {
  Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  const Tensor y = sum(x * x * x);
  const auto first = autograd::grad({y}, {x}, {}, std::nullopt, true);
  EXPECT_TRUE(first[0].requires_grad());
  const auto second = autograd::grad({sum(first[0])}, {x});
  EXPECT_EQ(second[0].to_vector<double>(), (std::vector<double>{6, 12}));
}

TEST(Engine, BackwardWithCreateGraphIsDifferentiable) {
  Tensor x = tensor({3.0}, kFloat64).requires_grad_();
  const Tensor y = x * x * x;
  y.backward(Tensor(), false, true);
  const Tensor dx = x.grad();
  EXPECT_DOUBLE_EQ(dx.item(), 27.0);
  const auto second = autograd::grad({dx}, {x});
  EXPECT_DOUBLE_EQ(second[0].item(), 18.0);
}

TEST(Engine, MixedDtypesGetGradientsInTheirOwnDtype) {
  Tensor a = ones({2}, kFloat32).requires_grad_();
  Tensor b = ones({2}, kFloat64).requires_grad_();
  sum(a * b).backward();
  EXPECT_EQ(a.grad().dtype(), kFloat32);
  EXPECT_EQ(b.grad().dtype(), kFloat64);
}

// Regression: a hook returning another shape was accepted; the error surfaced in the optimizer.
TEST(Engine, HookResultsMustKeepTheGradientsShapeAndDtype) {
  const Tensor leaf = ones({3}, kFloat64).requires_grad_();
  leaf.register_hook([](const Tensor& g) { return g.sum(); });
  testing::expect_error_containing(
      [&] { (leaf * 2.0).sum().backward(); },
      "register_hook: hook 0 of the leaf tensor of shape [3] returned a gradient "
      "of shape [] and dtype float64; the gradient it received has shape [3]");
  const Tensor x = ones({2, 2}, kFloat64).requires_grad_();
  const Tensor y = x * 3.0;
  y.register_hook([](const Tensor& g) { return g.to(kFloat32); });
  testing::expect_error_containing(
      [&] { y.sum().backward(); },
      "hook 0 of the output of mul returned a gradient of shape [2, 2] and "
      "dtype float32; the gradient it received has shape [2, 2] and dtype "
      "float64");
  // A hook that keeps the shape may still replace the values.
  const Tensor z = ones({2}, kFloat64).requires_grad_();
  z.register_hook([](const Tensor& g) { return g * 10.0; });
  (z * 1.0).sum().backward();
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{10.0, 10.0}));
}

// A leaf used twice gets two gradients; its post-accumulate hook runs once, after both, and sees
// the complete grad() (as dist::DataParallel needs: it reads the gradient there).
TEST(Engine, PostAccumulateHookRunsOnceAfterTheLastGradient) {
  const Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  const Tensor unused = tensor({5.0}, kFloat64).requires_grad_();
  std::vector<std::vector<double>> seen;
  w.register_post_accumulate_grad_hook(
      [&seen](const Tensor& leaf) { seen.push_back(leaf.grad().to_vector<double>()); });
  int unused_calls = 0;
  unused.register_post_accumulate_grad_hook([&unused_calls](const Tensor&) { ++unused_calls; });
  const Tensor x = tensor({3.0, 4.0}, kFloat64);
  // d/dw sum(w*x + w*w) = x + 2w = {5, 8}
  sum(w * x + w * w).backward();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], (std::vector<double>{5.0, 8.0}));
  EXPECT_EQ(unused_calls, 0);
  // A second backward accumulates and runs the hook again, on the sum.
  sum(w * x).backward();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[1], (std::vector<double>{8.0, 12.0}));
  // A leaf that is itself the root gets its hook too.
  w.backward(ones({2}, kFloat64));
  EXPECT_EQ(seen.size(), 3U);
  // autograd::grad accumulates nothing, so the hook does not run.
  (void)autograd::grad({sum(w * x)}, {w});
  EXPECT_EQ(seen.size(), 3U);
}

TEST(Engine, PostAccumulateHookOnlyOnLeavesThatRequireGrad) {
  const Tensor plain = ones({2});
  testing::expect_error_containing(
      [&] { plain.register_post_accumulate_grad_hook([](const Tensor&) {}); },
      "register_post_accumulate_grad_hook: the tensor of shape [2] does not require grad");
  const Tensor y = ones({2}).requires_grad_() * 2.0;
  testing::expect_error_containing(
      [&] { y.register_post_accumulate_grad_hook([](const Tensor&) {}); },
      "only a leaf accumulates a gradient; this tensor of shape [2] is the output of mul");
}

}  // namespace
}  // namespace nabla
