// The Optimizer base through its simplest subclass: skipped parameters, zero_grad, lazily created
// state, set_parameters, iteration counts and the checks on parameters and the learning rate.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nabla.h"
#include "optim/optim.h"
#include "tests/optim/optim_test_support.h"

namespace nabla::optim {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the shared fixture

Tensor parameter(const std::vector<double>& values, DType dtype = kFloat64) {
  return tensor(values, {static_cast<int64_t>(values.size())}, dtype).requires_grad_();
}

void give_grad(const Tensor& p, const std::vector<double>& values) {
  p.set_grad(tensor(values, {static_cast<int64_t>(values.size())}, p.dtype()));
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
  Tensor a = parameter({1.0, 2.0});
  Tensor b = parameter({3.0});
  SGD sgd({a, b}, {.learning_rate = 0.5, .momentum = 0.9});
  give_grad(a, {1.0, -1.0});
  sgd.step();
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{0.5, 2.5}));
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{3.0}));
  EXPECT_EQ(sgd.parameter_steps(0), 1);
  EXPECT_EQ(sgd.parameter_steps(1), 0);
  EXPECT_TRUE(sgd.state(0, "momentum_buffer").defined());
  EXPECT_FALSE(sgd.state(1, "momentum_buffer").defined());
  EXPECT_EQ(sgd.iterations(), 1);
}

TEST(Optimizer, ZeroGradMakesGradientsUndefined) {
  Tensor a = parameter({1.0});
  Tensor b = parameter({2.0});
  SGD sgd({a, b});
  sum(a * b).backward();
  ASSERT_TRUE(a.grad().defined());
  sgd.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  sgd.step();  // nothing to do
  EXPECT_EQ(a.item(), 1.0);
  EXPECT_EQ(sgd.iterations(), 1);
}

TEST(Optimizer, StateIsCreatedLazilyLikeTheParameter) {
  Tensor w = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, kFloat32).requires_grad_();
  Adam adam({w});
  EXPECT_FALSE(adam.state(0, "m").defined());
  w.set_grad(ones_like(w));
  adam.step();
  for (const char* slot : {"m", "v"}) {
    const Tensor s = adam.state(0, slot);
    ASSERT_TRUE(s.defined()) << slot;
    EXPECT_EQ(s.shape(), w.shape());
    EXPECT_EQ(s.dtype(), kFloat32);
    EXPECT_FALSE(s.is_same(w.grad()));
  }
  EXPECT_FALSE(adam.state(0, "v_max").defined());  // amsgrad is off
  EXPECT_EQ(adam.state_names(), (std::vector<std::string>{"m", "v", "v_max"}));
  EXPECT_NE(message_of([&] { (void)adam.state(0, "momentum"); }).find("no state named 'momentum'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { (void)adam.state(3, "m"); }).find("index 3 out of range"),
            std::string::npos);
}

TEST(Optimizer, SetParametersReplacesTheListAndResetsState) {
  // A model built at its first call hands its parameters over after the optimizer exists.
  SGD sgd({}, {.learning_rate = 0.1, .momentum = 0.5});
  sgd.step();
  EXPECT_EQ(sgd.iterations(), 1);
  Tensor w = parameter({1.0});
  sgd.set_parameters({w});
  EXPECT_EQ(sgd.iterations(), 0);
  ASSERT_EQ(sgd.parameters().size(), 1U);
  EXPECT_TRUE(sgd.parameters()[0].is_same(w));
  give_grad(w, {1.0});
  sgd.step();
  EXPECT_DOUBLE_EQ(w.item(), 0.9);
  ASSERT_TRUE(sgd.state(0, "momentum_buffer").defined());
  sgd.set_parameters({w});
  EXPECT_FALSE(sgd.state(0, "momentum_buffer").defined());
  sgd.step();  // a fresh buffer: buf = g again, not 0.5 * 1 + 1
  EXPECT_DOUBLE_EQ(w.item(), 0.8);
}

// Regression: a non-leaf parameter was accepted, and then never updated (backward fills only the
// leaves' .grad()). PyTorch refuses it too.
TEST(Optimizer, RejectsNonLeafParameters) {
  const Tensor leaf = parameter({1.0, 2.0});
  const Tensor computed = leaf * 2.0;
  EXPECT_NE(message_of([&] {
              SGD({computed}, {.learning_rate = 0.1});
            }).find("SGD: parameter 0 (shape [2]) is not a leaf tensor (it was computed by mul)"),
            std::string::npos);
  SGD sgd({leaf}, {.learning_rate = 0.1});
  EXPECT_NE(message_of([&] {
              sgd.set_parameters({leaf, computed});
            }).find("parameter 1"),
            std::string::npos);
  // A detached copy is a new leaf and is accepted.
  EXPECT_NO_THROW(SGD({computed.detach().requires_grad_()}, {.learning_rate = 0.1}));
}

TEST(Optimizer, RejectsDuplicateNonFloatingAndUndefinedParameters) {
  Tensor w = parameter({1.0});
  EXPECT_NE(message_of([&] {
              SGD({w, w});
            }).find("SGD: parameter 1 (shape [1]) appears more than once"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              Adam({tensor(std::vector<int64_t>{1}, {1})});
            }).find("Adam: parameter 0 (shape [1]) has dtype int64"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              Adagrad({w, Tensor()});
            }).find("Adagrad: parameter 1 is an undefined"),
            std::string::npos);
  SGD sgd({w});
  EXPECT_THROW(sgd.set_parameters({w, w}), Error);
  EXPECT_EQ(sgd.parameters().size(), 1U);  // a failed set_parameters changes nothing
}

TEST(Optimizer, LearningRateIsCheckedAndSettable) {
  Tensor w = parameter({1.0});
  EXPECT_EQ(message_of([&] { SGD({w}, {.learning_rate = -0.1}); }),
            "SGD: learning_rate must be finite and >= 0, got -0.1");
  EXPECT_EQ(message_of([&] { RMSprop({w}, {.learning_rate = std::nan("")}); }),
            "RMSprop: learning_rate must be finite and >= 0, got nan");
  Adam adam({w});
  EXPECT_EQ(adam.learning_rate(), 1e-3);
  adam.set_learning_rate(0.25);
  EXPECT_EQ(adam.learning_rate(), 0.25);
  EXPECT_EQ(message_of([&] { adam.set_learning_rate(-1.0); }),
            "Adam: learning_rate must be finite and >= 0, got -1");
  EXPECT_EQ(adam.learning_rate(), 0.25);
}

TEST(Optimizer, NamesFollowKeras) {
  const std::vector<Tensor> none;
  EXPECT_EQ(SGD(none).name(), "SGD");
  EXPECT_EQ(RMSprop(none).name(), "RMSprop");
  EXPECT_EQ(Adam(none).name(), "Adam");
  EXPECT_EQ(AdamW(none).name(), "AdamW");
  EXPECT_EQ(Adagrad(none).name(), "Adagrad");
}

TEST(Optimizer, StepRecordsNoGraphAndKeepsParametersLeaves) {
  Tensor w = parameter({1.0, 2.0});
  Adam adam({w}, {.learning_rate = 0.1});
  sum(square(w)).backward();
  adam.step();
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(autograd::is_grad_enabled());  // the guard restored grad mode
}

TEST(Optimizer, GradientOfAnotherDtypeIsConverted) {
  Tensor w = parameter({1.0}, kFloat32);
  SGD sgd({w}, {.learning_rate = 0.5});
  w.set_grad(tensor({1.0}, kFloat64));
  sgd.step();
  EXPECT_EQ(w.dtype(), kFloat32);
  EXPECT_FLOAT_EQ(w.item<float>(), 0.5F);
}

TEST(Optimizer, UpdatesNonContiguousParameterViewsInPlace) {
  Tensor base = zeros({2, 3}, kFloat64);
  Tensor w = base.t();  // [3, 2], strided view of base
  ASSERT_FALSE(w.is_contiguous());
  w.requires_grad_();
  SGD sgd({w}, {.learning_rate = 1.0});
  w.set_grad(tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, kFloat64));
  sgd.step();
  EXPECT_EQ(base.to_vector<double>(), (std::vector<double>{-1, -3, -5, -2, -4, -6}));
}

}  // namespace
}  // namespace nabla::optim
