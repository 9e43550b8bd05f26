// Raw elementwise kernels: broadcasting, promotion, strided operands, in-place, determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "tensor/kernels/kernels.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tests/support/expect_error.h"
#include "tests/support/thread_count_guard.h"

namespace nabla {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

TEST(Elementwise, BroadcastsLikeNumPy) {
  const Tensor a = kernels::reshape(arange(0, 6, 1, kFloat32), {3, 1, 2});
  const Tensor b = tensor(std::vector<double>{10, 20}, {2, 1});
  const Tensor c = kernels::binary(BinaryOp::Add, a, b);
  EXPECT_EQ(c.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(c.to_vector<float>(),
            (std::vector<float>{10, 11, 20, 21, 12, 13, 22, 23, 14, 15, 24, 25}));
}

TEST(Elementwise, PromotesTypes) {
  const Tensor i = arange(3);
  const Tensor f = tensor({0.5, 0.5, 0.5});
  const Tensor d = tensor({1.0}, kFloat64);
  EXPECT_EQ(kernels::binary(BinaryOp::Add, i, f).dtype(), kFloat32);
  EXPECT_EQ(kernels::binary(BinaryOp::Mul, f, d).dtype(), kFloat64);
  EXPECT_EQ(kernels::binary(BinaryOp::Add, i, i).dtype(), kInt64);
  const Tensor q = kernels::binary(BinaryOp::Div, arange(4), full({}, 2, kInt64));
  EXPECT_EQ(q.dtype(), kFloat32);
  EXPECT_EQ(q.to_vector<float>(), (std::vector<float>{0, 0.5, 1, 1.5}));
  EXPECT_EQ(kernels::binary(BinaryOp::Lt, i, f).dtype(), kInt64);
  EXPECT_EQ(kernels::binary(BinaryOp::Lt, i, f).to_vector<int64_t>(),
            (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(kernels::binary(BinaryOp::Pow, arange(4), full({}, 2, kInt64)).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 1, 4, 9}));
  EXPECT_EQ(kernels::unary(UnaryOp::Exp, arange(1)).dtype(), kFloat32);
  EXPECT_EQ(kernels::scalar_like(arange(2), 0.5).dtype(), kFloat32);
  EXPECT_EQ(kernels::scalar_like(tensor({1.0}, kFloat64), 2).dtype(), kFloat64);
}

TEST(Elementwise, StridedOperandsGiveSameResultAsContiguous) {
  Generator g(5);
  const Tensor base = randn({6, 8}, kFloat64, &g);
  const Tensor t = kernels::transpose(base, 0, 1);
  const Tensor s = kernels::slice(base, 1, 1, std::nullopt, 2);
  const Tensor sum_strided = kernels::binary(BinaryOp::Mul, t, t);
  const Tensor tc = kernels::contiguous(t);
  EXPECT_EQ(sum_strided.to_vector<double>(),
            kernels::binary(BinaryOp::Mul, tc, tc).to_vector<double>());
  const Tensor sc = kernels::contiguous(s);
  EXPECT_EQ(kernels::unary(UnaryOp::Tanh, s).to_vector<double>(),
            kernels::unary(UnaryOp::Tanh, sc).to_vector<double>());
}

TEST(Elementwise, UnaryValues) {
  const Tensor x = tensor({-2.0, 0.0, 3.0}, kFloat64);
  EXPECT_EQ(kernels::unary(UnaryOp::Abs, x).to_vector<double>(), (std::vector<double>{2, 0, 3}));
  EXPECT_EQ(kernels::unary(UnaryOp::Sign, x).to_vector<double>(), (std::vector<double>{-1, 0, 1}));
  EXPECT_EQ(kernels::unary(UnaryOp::Relu, x).to_vector<double>(), (std::vector<double>{0, 0, 3}));
  EXPECT_DOUBLE_EQ(kernels::unary(UnaryOp::Exp, x).to_vector<double>()[2], std::exp(3.0));
  EXPECT_DOUBLE_EQ(kernels::unary(UnaryOp::Sigmoid, x).to_vector<double>()[0],
                   1 / (1 + std::exp(2.0)));
  EXPECT_EQ(kernels::clamp(x, -1.0, std::nullopt).to_vector<double>(),
            (std::vector<double>{-1, 0, 3}));
  EXPECT_EQ(kernels::where(tensor({1, 0, 1}), x, full({}, 9, kFloat64)).to_vector<double>(),
            (std::vector<double>{-2, 9, 3}));
}

TEST(Elementwise, NanPropagatesThroughMaximumAndRelu) {
  const double nan = std::nan("");
  const Tensor x = tensor({nan, 1.0}, kFloat64);
  const Tensor y = tensor({0.0, nan}, kFloat64);
  const auto m = kernels::binary(BinaryOp::Maximum, x, y).to_vector<double>();
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_TRUE(std::isnan(m[1]));
  EXPECT_TRUE(std::isnan(kernels::unary(UnaryOp::Relu, x).to_vector<double>()[0]));
}

TEST(Elementwise, InPlaceBroadcastsOtherAndBumpsVersion) {
  const Tensor a = zeros({2, 3});
  const uint64_t version = a.version();
  kernels::binary_(BinaryOp::Add, a, tensor({1, 2, 3}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  EXPECT_GT(a.version(), version);
  EXPECT_THROW(kernels::binary_(BinaryOp::Add, tensor({1, 2, 3}), zeros({2, 3})), Error);
  EXPECT_THROW(kernels::binary_(BinaryOp::Div, arange(3), arange(3)), Error);
}

TEST(Elementwise, InPlaceWithOverlappingSourceIsCorrect) {
  const Tensor a = tensor({{1, 2}, {3, 4}});
  kernels::copy_(a, kernels::transpose(a, 0, 1));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));
}

TEST(Elementwise, LargeTensorsAreBitIdenticalForAnyThreadCount) {
  Generator g(9);
  const Tensor a = randn({300, 700}, kFloat32, &g);
  const Tensor b = randn({700}, kFloat32, &g);
  const testing::ThreadCountGuard guard;
  nabla::set_num_threads(1);
  const auto one =
      kernels::unary(UnaryOp::Tanh, kernels::binary(BinaryOp::Mul, a, b)).to_vector<float>();
  nabla::set_num_threads(2);
  const auto two =
      kernels::unary(UnaryOp::Tanh, kernels::binary(BinaryOp::Mul, a, b)).to_vector<float>();
  EXPECT_EQ(one, two);
}

TEST(Elementwise, ErrorsNameOpAndShapes) {
  try {
    (void)kernels::binary(BinaryOp::Sub, zeros({2, 3}), zeros({4}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sub: shapes [2, 3] and [4] cannot be broadcast");
  }
}

TEST(Elementwise, ReluBackwardSelectsGradWherePositive) {
  const Tensor g = tensor({1.0, 2.0, 3.0, 4.0, 5.0});
  const Tensor x = tensor({-1.0, 0.0, 0.5, std::nan(""), 2.0});
  EXPECT_EQ(kernels::relu_backward(g, x).to_vector<float>(), (std::vector<float>{0, 0, 3, 0, 5}));
  EXPECT_EQ(kernels::relu_backward(g, x, 0.5).to_vector<float>(),
            (std::vector<float>{0.5, 1, 3, 2, 5}));
}

TEST(Elementwise, ReluBackwardRefusesMismatchedOperands) {
  testing::expect_error_containing(
      [] {
        (void)kernels::relu_backward(zeros({2, 3}), zeros({3, 2}));
      },
      "shape [2, 3]");
  testing::expect_error_containing(
      [] { (void)kernels::relu_backward(zeros({2}), zeros({2}, kFloat64)); }, "float64");
  testing::expect_error_containing([] { (void)kernels::relu_backward(arange(2), arange(2)); },
                                   "relu_backward");
}

TEST(Elementwise, SigmoidAndTanhBackwardsTakeTheSavedOutput) {
  const Tensor g = tensor({2.0, -1.0, 0.5, 4.0}, kFloat64);
  const Tensor y = tensor({0.5, 0.25, -0.75, 1.0}, kFloat64);
  // g * y * (1 - y) and g * (1 - y^2), by hand.
  EXPECT_EQ(kernels::activation_backward(UnaryOp::Sigmoid, g, y).to_vector<double>(),
            (std::vector<double>{0.5, -0.1875, -0.65625, 0.0}));
  EXPECT_EQ(kernels::activation_backward(UnaryOp::Tanh, g, y).to_vector<double>(),
            (std::vector<double>{1.5, -0.9375, 0.21875, 0.0}));
}

TEST(Elementwise, ActivationBackwardRefusesMismatchedOperandsAndOtherOps) {
  testing::expect_error_containing(
      [] {
        (void)kernels::activation_backward(UnaryOp::Sigmoid, zeros({2, 3}), zeros({3, 2}));
      },
      "sigmoid_backward: grad of shape [2, 3] for an output of shape [3, 2]");
  testing::expect_error_containing(
      [] { (void)kernels::activation_backward(UnaryOp::Tanh, zeros({2}), zeros({2}, kFloat64)); },
      "tanh_backward: grad (float32) and output (float64)");
  testing::expect_error_containing(
      [] { (void)kernels::activation_backward(UnaryOp::Exp, zeros({2}), zeros({2})); },
      "only sigmoid and tanh");
}

}  // namespace
}  // namespace nabla
