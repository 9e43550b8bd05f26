// The Optimizer base through its simplest subclass: skipped parameters, zero_grad, lazily created
// state, set_parameters, iteration counts and the checks on parameters and the learning rate.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
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

// The message of the nabla::Error that fn throws.
template <typename Fn>
std::string error_message(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a nabla::Error";
  return "";
}

Tensor matrix_parameter(int64_t rows, int64_t cols, double start) {
  std::vector<double> values;
  for (int64_t i = 0; i < rows * cols; ++i) values.push_back(start + 0.1 * static_cast<double>(i));
  return tensor(values, {rows, cols}, kFloat32).requires_grad_();
}

void give_matrix_grad(const Tensor& p, int step) {
  std::vector<double> values;
  for (int64_t i = 0; i < p.numel(); ++i) {
    values.push_back(std::sin(static_cast<double>(i + 1) * (step + 1)));
  }
  p.set_grad(tensor(values, p.shape(), p.dtype()));
}

// Runs `steps` updates (parameter 1 gets no gradient at odd steps, so the step counts differ).
template <typename Opt>
void run_steps(Opt& opt, const std::vector<Tensor>& params, int from, int to) {
  for (int step = from; step < to; ++step) {
    give_matrix_grad(params[0], step);
    if (step % 2 == 0) {
      give_matrix_grad(params[1], step);
    } else {
      params[1].set_grad(Tensor());
    }
    opt.step();
  }
}

template <typename Opt, typename Options>
void expect_state_dict_resumes(const Options& options) {
  const std::vector<Tensor> straight = {matrix_parameter(2, 3, 0.5), matrix_parameter(4, 1, -1.0)};
  const std::vector<Tensor> resumed = {matrix_parameter(2, 3, 0.5), matrix_parameter(4, 1, -1.0)};
  Opt a(straight, options);
  run_steps(a, straight, 0, 6);

  Opt first(resumed, options);
  run_steps(first, resumed, 0, 3);
  first.set_learning_rate(first.learning_rate());  // unchanged; the saved rate is what is set
  const OptimizerState saved = first.state_dict();
  // A fresh optimizer over the same tensors continues exactly.
  Opt second(resumed, options);
  second.load_state_dict(saved);
  EXPECT_EQ(second.iterations(), 3);
  EXPECT_EQ(second.parameter_steps(1), 2);
  run_steps(second, resumed, 3, 6);
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(straight[i].to_vector<float>(), resumed[i].to_vector<float>())
        << a.name() << " parameter " << i;
  }
  EXPECT_EQ(a.iterations(), second.iterations());
}

TEST(OptimizerState, EveryOptimizerResumesBitForBit) {
  expect_state_dict_resumes<SGD>(
      SgdOptions{.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  expect_state_dict_resumes<Adam>(AdamOptions{.learning_rate = 0.01, .amsgrad = true});
  expect_state_dict_resumes<AdamW>(AdamWOptions{.learning_rate = 0.01});
  expect_state_dict_resumes<RMSprop>(RmspropOptions{.momentum = 0.5, .centered = true});
  expect_state_dict_resumes<Adagrad>(AdagradOptions{});
}

TEST(OptimizerState, NamesTensorsByParameterIndexAndCopies) {
  Tensor p = matrix_parameter(2, 2, 0.0);
  Tensor q = matrix_parameter(3, 1, 0.0);
  Adam adam({p, q}, {.learning_rate = 0.5});
  give_matrix_grad(p, 0);
  adam.step();
  const OptimizerState state = adam.state_dict();
  EXPECT_EQ(state.type, "Adam");
  std::vector<std::string> keys;
  for (const auto& [key, t] : state.tensors) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"num_parameters", "iterations", "learning_rate",
                                            "0.step", "0.m", "0.v", "1.step"}));
  EXPECT_EQ(state.tensors[3].second.item<int64_t>(), 1);
  EXPECT_EQ(state.tensors[2].second.item<double>(), 0.5);
  // A copy: a later step does not change the saved moments.
  const std::vector<float> m = state.tensors[4].second.to_vector<float>();
  give_matrix_grad(p, 1);
  adam.step();
  EXPECT_EQ(state.tensors[4].second.to_vector<float>(), m);
  EXPECT_NE(adam.state(0, "m").to_vector<float>(), m);
}

TEST(OptimizerState, MismatchesNameTheKeyAndShapesAndChangeNothing) {
  Tensor p = matrix_parameter(2, 3, 0.0);
  Adam adam({p}, {.learning_rate = 0.5});
  give_matrix_grad(p, 0);
  adam.step();
  const OptimizerState good = adam.state_dict();
  const auto with = [&](const std::string& key, const Tensor& t) {
    OptimizerState s = good;
    bool found = false;
    for (auto& [k, v] : s.tensors) {
      if (k == key) {
        v = t;
        found = true;
      }
    }
    if (!found) s.tensors.emplace_back(key, t);
    return s;
  };
  const auto without = [&](const std::string& key) {
    OptimizerState s = good;
    std::erase_if(s.tensors, [&](const auto& entry) { return entry.first == key; });
    return s;
  };
  Tensor other = matrix_parameter(2, 3, 1.0);
  Adam target({other}, {.learning_rate = 0.1});
  const std::vector<std::pair<OptimizerState, std::string>> cases = {
      {with("0.m", zeros({3, 2})), "'0.m' has float32 [3, 2], but parameter 0 is float32 [2, 3]"},
      {with("0.v", zeros({2, 3}, kFloat64)),
       "'0.v' has float64 [2, 3], but parameter 0 is float32"},
      {with("num_parameters", tensor(std::vector<int64_t>{2}, Shape{})),
       "'num_parameters' is 2 but the optimizer has 1 parameters"},
      {with("1.m", zeros({2, 3})), "key '1.m' names parameter 1, but there are 1 parameters"},
      {with("0.momentum_buffer", zeros({2, 3})), "'momentum_buffer' is unknown"},
      {with("0.step", scalar_tensor(1.0)),
       "'0.step' must be a int64 scalar (shape []), got float32"},
      {with("iterations", zeros({2}, kInt64)), "'iterations' must be a int64 scalar"},
      {with("x", zeros({1})), "unexpected key 'x'"},
      {without("0.step"), "missing key '0.step'"},
      {without("learning_rate"), "missing key 'learning_rate'"},
      {OptimizerState{.type = "SGD", .tensors = good.tensors},
       "belongs to a SGD optimizer, not Adam"},
  };
  for (const auto& entry : cases) {
    const OptimizerState& state = entry.first;
    const std::string& fragment = entry.second;
    const std::string message = error_message([&] { target.load_state_dict(state); });
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(target.iterations(), 0);
    EXPECT_EQ(target.learning_rate(), 0.1);
    EXPECT_FALSE(target.state(0, "m").defined());
  }
}

}  // namespace
}  // namespace nabla::optim
