// SimpleRNN, LSTM, GRU and Bidirectional: Keras layouts and defaults, shapes, gradients, PyTorch
// goldens (tests/nn/layer_goldens.py) and errors.
#include "nn/recurrent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tests/nn/golden_support.h"
#include "tests/nn/layer_goldens.h"
#include "tests/support/gradcheck_support.h"
#include "tests/support/test_helpers.h"

namespace nabla::nn {
namespace {

using goldens::expect_close;
using goldens::pattern;
using goldens::pattern_leaf;
using goldens::pattern_tensor;
using testing::assign;
using testing::expect_error_containing;
using testing::expect_gradcheck;
using testing::leaf;

// ---- layout and defaults ----

TEST(Recurrent, WeightsHaveKerasNamesShapesAndDefaults) {
  reset_layer_names();
  LSTM lstm(4, {.input_dim = 3});
  EXPECT_EQ(lstm.name(), "lstm");
  const NamedTensors named = lstm.named_parameters();
  ASSERT_EQ(named.size(), 3U);
  EXPECT_EQ(named[0].first, "kernel");
  EXPECT_EQ(named[1].first, "recurrent_kernel");
  EXPECT_EQ(named[2].first, "bias");
  EXPECT_EQ(lstm.kernel().shape(), (Shape{3, 16}));
  EXPECT_EQ(lstm.recurrent_kernel().shape(), (Shape{4, 16}));
  EXPECT_EQ(lstm.bias().shape(), (Shape{16}));
  // unit_forget_bias: the forget block (i, f, c, o) is 1, the rest 0.
  const std::vector<float> bias = lstm.bias().to_vector<float>();
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(bias[i], i >= 4 && i < 8 ? 1.0F : 0.0F) << i;
  // glorot_uniform kernel, limit sqrt(6 / (3 + 16)).
  for (const float v : lstm.kernel().to_vector<float>()) {
    EXPECT_LE(std::abs(v), std::sqrt(6.0 / 19));
  }
  // Orthogonal recurrent kernel [4, 16]: orthonormal rows (checked with double loops).
  const std::vector<float> r = lstm.recurrent_kernel().to_vector<float>();
  for (size_t a = 0; a < 4; ++a) {
    for (size_t b = 0; b < 4; ++b) {
      double dot = 0.0;
      for (size_t k = 0; k < 16; ++k) dot += double(r[a * 16 + k]) * double(r[b * 16 + k]);
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5);
    }
  }
  GRU gru(5, {.input_dim = 2});
  EXPECT_EQ(gru.name(), "gru");
  EXPECT_EQ(gru.bias().shape(), (Shape{2, 15}));  // reset_after: input and recurrent biases
  GRU gru_v1(5, {.reset_after = false, .input_dim = 2});
  EXPECT_EQ(gru_v1.bias().shape(), (Shape{15}));
  SimpleRNN rnn(6, {.input_dim = 2});
  EXPECT_EQ(rnn.name(), "simple_rnn");
  EXPECT_EQ(rnn.trainable_parameter_count(), 2 * 6 + 6 * 6 + 6);
  EXPECT_EQ(lstm.trainable_parameter_count(), 4 * (3 * 4 + 4 * 4 + 4));  // Keras's 240 for 4/3
  EXPECT_EQ(gru.trainable_parameter_count(), 3 * (2 * 5 + 5 * 5 + 2 * 5));
  LSTM no_forget(2, {.unit_forget_bias = false, .input_dim = 1});
  EXPECT_EQ(no_forget.bias().to_vector<float>(), std::vector<float>(8, 0.0F));
}

TEST(Recurrent, OutputShapesFollowReturnSequencesAndReturnState) {
  LSTM last(7);
  EXPECT_FALSE(last.built());
  EXPECT_EQ(last(ones({2, 5, 3})).shape(), (Shape{2, 7}));
  EXPECT_EQ(last.input_dim(), 3);
  LSTM sequences(7, {.return_sequences = true, .return_state = true});
  EXPECT_EQ(sequences.build({2, 5, 3}), (Shape{2, 5, 7}));
  const std::vector<Tensor> out = sequences.call(ones({2, 5, 3}));
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].shape(), (Shape{2, 5, 7}));
  EXPECT_EQ(out[1].shape(), (Shape{2, 7}));
  EXPECT_EQ(out[2].shape(), (Shape{2, 7}));
  // The last step of the sequence is the final h.
  EXPECT_EQ(out[0].select(1, 4).to_vector<float>(), out[1].to_vector<float>());
  GRU gru(3, {.return_state = true});
  EXPECT_EQ(gru.call(ones({1, 2, 4})).size(), 2U);
}

// ---- values against plain loops ----

// One SimpleRNN with hand-set weights against the recurrence written out in doubles.
TEST(SimpleRNN, MatchesTheRecurrenceWrittenOut) {
  SimpleRNN rnn(2, {.return_sequences = true, .input_dim = 1, .dtype = kFloat64});
  assign(rnn.kernel(), {0.5, -0.25});
  assign(rnn.recurrent_kernel(), {0.1, 0.2, -0.3, 0.4});
  assign(rnn.bias(), {0.05, -0.05});
  const std::vector<double> xs = {1.0, -2.0, 0.5};
  const Tensor out = rnn(tensor(xs, {1, 3, 1}, kFloat64));
  double h0 = 0.0;
  double h1 = 0.0;
  std::vector<double> expected;
  for (const double x : xs) {
    const double n0 = std::tanh(x * 0.5 + h0 * 0.1 + h1 * -0.3 + 0.05);
    const double n1 = std::tanh(x * -0.25 + h0 * 0.2 + h1 * 0.4 - 0.05);
    h0 = n0;
    h1 = n1;
    expected.push_back(h0);
    expected.push_back(h1);
  }
  const std::vector<double> got = out.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-15);
}

TEST(Recurrent, GoBackwardsProcessesTheLastStepFirst) {
  SimpleRNN ahead(3, {.return_sequences = true, .input_dim = 2, .seed = 1, .dtype = kFloat64});
  SimpleRNN behind(3, {.return_sequences = true,
                       .go_backwards = true,
                       .input_dim = 2,
                       .seed = 1,
                       .dtype = kFloat64});
  const Tensor x = leaf({2, 4, 2}, 3);
  const Tensor reversed = index_select(x, 1, tensor(std::vector<int64_t>{3, 2, 1, 0}, {4}));
  EXPECT_EQ(behind(x).to_vector<double>(), ahead(reversed).to_vector<double>());
}

TEST(Recurrent, InitialStateIsUsed) {
  LSTM lstm(2, {.return_state = true, .input_dim = 1, .seed = 5, .dtype = kFloat64});
  const Tensor x = leaf({3, 2, 1}, 4);
  const std::vector<Tensor> from_zero = lstm.call(x);
  const std::vector<Tensor> explicit_zero =
      lstm.call(x, {zeros({3, 2}, kFloat64), zeros({3, 2}, kFloat64)});
  EXPECT_EQ(from_zero[0].to_vector<double>(), explicit_zero[0].to_vector<double>());
  const std::vector<Tensor> other = lstm.call(x, {ones({3, 2}, kFloat64), zeros({3, 2}, kFloat64)});
  EXPECT_NE(from_zero[0].to_vector<double>(), other[0].to_vector<double>());
  expect_error_containing(
      [&] {
        (void)lstm.call(x, {zeros({3, 2}, kFloat64)});
      },
      "LSTM: initial_state has 1 tensors, expected 2");
  expect_error_containing(
      [&] {
        (void)lstm.call(x, {zeros({3, 3}, kFloat64), zeros({3, 2}, kFloat64)});
      },
      "does not match [3, 2]");
}

// ---- gradcheck (float64): inputs, weights, initial states, layouts ----

void expect_gradcheck_all(const GradcheckMultiFn& fn, const std::vector<Tensor>& inputs,
                          const std::string& what) {
  const GradcheckReport report = gradcheck(fn, inputs, testing::tight_options());
  EXPECT_TRUE(report.passed) << what << ": " << report.message;
}

TEST(Recurrent, GradcheckEveryLayerAndOption) {
  const auto check = [](Recurrent& layer, const Tensor& x, const std::string& what) {
    const std::vector<Tensor> inputs = {x, layer.kernel(), layer.recurrent_kernel(), layer.bias()};
    expect_gradcheck_all([&layer](const std::vector<Tensor>& in) { return layer.call(in[0]); },
                         inputs, what);
  };
  const RecurrentOptions base{
      .return_sequences = true, .return_state = true, .input_dim = 3, .seed = 9, .dtype = kFloat64};
  SimpleRNN rnn(4, base);
  LSTM lstm(3, base);
  GRU gru(3, base);
  RecurrentOptions v1 = base;
  v1.reset_after = false;
  GRU gru_v1(3, v1);
  RecurrentOptions backwards = base;
  backwards.go_backwards = true;
  backwards.return_sequences = false;
  LSTM lstm_back(2, backwards);
  // Non-zero biases, so the check does not run at a special point.
  for (Recurrent* layer : std::vector<Recurrent*>{&rnn, &lstm, &gru, &gru_v1, &lstm_back}) {
    const NoGradGuard no_grad;
    Tensor b = layer->bias();
    b.copy_(uniform(b.shape(), -0.5, 0.5, kFloat64));
  }
  check(rnn, leaf({2, 3, 3}, 1), "SimpleRNN");
  check(lstm, leaf({2, 3, 3}, 2), "LSTM");
  check(gru, leaf({2, 3, 3}, 3), "GRU reset_after");
  check(gru_v1, leaf({2, 3, 3}, 4), "GRU reset_before");
  check(lstm_back, leaf({2, 3, 3}, 5), "LSTM go_backwards");
  // Non-contiguous input, a single step, a single sample.
  check(lstm, testing::transposed_leaf({2, 3, 3}, 6), "LSTM transposed input");
  check(gru, leaf({1, 1, 3}, 7), "GRU one step one sample");
  check(rnn, testing::strided_leaf({3, 2, 3}, 8), "SimpleRNN strided input");
  // Gradients reach the initial states too.
  expect_gradcheck_all(
      [&lstm](const std::vector<Tensor>& in) {
        return lstm.call(in[0], {in[1], in[2]});
      },
      {leaf({2, 2, 3}, 9), leaf({2, 3}, 10), leaf({2, 3}, 11)}, "LSTM initial state");
}

TEST(Bidirectional, GradcheckAllMergeModes) {
  for (const std::string mode : {"concat", "sum", "mul", "ave"}) {
    Bidirectional bi(std::make_shared<GRU>(2, RecurrentOptions{.return_sequences = true,
                                                               .input_dim = 3,
                                                               .seed = 3,
                                                               .dtype = kFloat64}),
                     mode);
    const Recurrent& f = *bi.forward_layer();
    const Recurrent& b = *bi.backward_layer();
    expect_gradcheck([&bi](const std::vector<Tensor>& in) { return bi(in[0]); },
                     {leaf({2, 3, 3}, 12), f.kernel(), f.recurrent_kernel(), f.bias(), b.kernel(),
                      b.recurrent_kernel(), b.bias()},
                     "Bidirectional " + mode);
  }
}

TEST(Bidirectional, ReturnsBothHalvesStatesAndTakesTheirInitialStates) {
  Bidirectional bi(std::make_shared<LSTM>(2, RecurrentOptions{.return_sequences = true,
                                                              .return_state = true,
                                                              .input_dim = 3,
                                                              .seed = 4,
                                                              .dtype = kFloat64}),
                   "sum");
  EXPECT_TRUE(bi.built());
  EXPECT_TRUE(bi.backward_layer()->options().go_backwards);
  const Tensor x = leaf({2, 4, 3}, 13);
  const std::vector<Tensor> states = {leaf({2, 2}, 14), leaf({2, 2}, 15), leaf({2, 2}, 16),
                                      leaf({2, 2}, 17)};
  const std::vector<Tensor> out = bi.call(x, states);
  ASSERT_EQ(out.size(), 5U);
  const std::vector<Tensor> ahead = bi.forward_layer()->call(x, {states[0], states[1]});
  const std::vector<Tensor> behind = bi.backward_layer()->call(x, {states[2], states[3]});
  EXPECT_EQ(out[1].to_vector<double>(), ahead[1].to_vector<double>());
  EXPECT_EQ(out[4].to_vector<double>(), behind[2].to_vector<double>());
  // "sum": step t adds the forward output at t and the backward output that saw step t last.
  const std::vector<double> merged = out[0].to_vector<double>();
  const std::vector<double> f = ahead[0].to_vector<double>();
  const std::vector<double> b = behind[0].to_vector<double>();  // in processing order
  for (size_t n = 0; n < 2; ++n) {
    for (size_t t = 0; t < 4; ++t) {
      for (size_t u = 0; u < 2; ++u) {
        EXPECT_EQ(merged[(n * 4 + t) * 2 + u],
                  f[(n * 4 + t) * 2 + u] + b[(n * 4 + (3 - t)) * 2 + u]);
      }
    }
  }
  expect_error_containing([&] { (void)bi.call(x, {states[0]}); },
                          "Bidirectional: initial_state has 1 tensors, expected 4");
}

// ---- PyTorch goldens ----

// sum(output * cotangent) for each output and cotangent pattern, then backward.
void backward_of(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents) {
  Tensor loss = (outputs[0] * cotangents[0]).sum();
  for (size_t i = 1; i < cotangents.size(); ++i) loss = loss + (outputs[i] * cotangents[i]).sum();
  loss.backward();
}

TEST(SimpleRNN, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  SimpleRNN rnn(
      5, {.return_sequences = true, .return_state = true, .input_dim = 3, .dtype = kFloat64});
  assign(rnn.kernel(), pattern({3, 5}, 11, 200.0));
  assign(rnn.recurrent_kernel(), pattern({5, 5}, 12, 200.0));
  assign(rnn.bias(), pattern({5}, 13, 500.0));
  const Tensor x = pattern_leaf({2, 4, 3}, 10, 50.0);
  const std::vector<Tensor> out = rnn.call(x);
  backward_of(out, {pattern_tensor({2, 4, 5}, 14, 100.0), pattern_tensor({2, 5}, 15, 100.0)});
  expect_close(out[0], kSimpleRnnSequence, "sequence");
  expect_close(out[1], kSimpleRnnState, "state");
  expect_close(x.grad(), kSimpleRnnInputGrad, "input grad");
  expect_close(rnn.kernel().grad(), kSimpleRnnKernelGrad, "kernel grad");
  expect_close(rnn.recurrent_kernel().grad(), kSimpleRnnRecurrentGrad, "recurrent grad");
  expect_close(rnn.bias().grad(), kSimpleRnnBiasGrad, "bias grad");
}

TEST(LSTM, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  LSTM lstm(4, {.return_sequences = true, .return_state = true, .input_dim = 3, .dtype = kFloat64});
  assign(lstm.kernel(), pattern({3, 16}, 21, 200.0));
  assign(lstm.recurrent_kernel(), pattern({4, 16}, 22, 200.0));
  assign(lstm.bias(), pattern({16}, 23, 500.0));
  const Tensor x = pattern_leaf({2, 4, 3}, 20, 50.0);
  const std::vector<Tensor> out = lstm.call(x);
  backward_of(out, {pattern_tensor({2, 4, 4}, 24, 100.0), pattern_tensor({2, 4}, 25, 100.0),
                    pattern_tensor({2, 4}, 26, 100.0)});
  expect_close(out[0], kLstmSequence, "sequence");
  expect_close(out[1], kLstmStateH, "h");
  expect_close(out[2], kLstmStateC, "c");
  expect_close(x.grad(), kLstmInputGrad, "input grad");
  expect_close(lstm.kernel().grad(), kLstmKernelGrad, "kernel grad");
  expect_close(lstm.recurrent_kernel().grad(), kLstmRecurrentGrad, "recurrent grad");
  expect_close(lstm.bias().grad(), kLstmBiasGrad, "bias grad");
}

TEST(GRU, MatchesPyTorchGoldensWithKerasGateOrder) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  GRU gru(4, {.return_sequences = true, .return_state = true, .input_dim = 3, .dtype = kFloat64});
  assign(gru.kernel(), pattern({3, 12}, 31, 200.0));
  assign(gru.recurrent_kernel(), pattern({4, 12}, 32, 200.0));
  assign(gru.bias(), pattern({2, 12}, 33, 500.0));
  const Tensor x = pattern_leaf({2, 4, 3}, 30, 50.0);
  const std::vector<Tensor> out = gru.call(x);
  backward_of(out, {pattern_tensor({2, 4, 4}, 34, 100.0), pattern_tensor({2, 4}, 35, 100.0)});
  expect_close(out[0], kGruSequence, "sequence");
  expect_close(out[1], kGruState, "state");
  expect_close(x.grad(), kGruInputGrad, "input grad");
  expect_close(gru.kernel().grad(), kGruKernelGrad, "kernel grad");
  expect_close(gru.recurrent_kernel().grad(), kGruRecurrentGrad, "recurrent grad");
  expect_close(gru.bias().grad(), kGruBiasGrad, "bias grad");
}

TEST(Bidirectional, MatchesPyTorchBidirectionalLstm) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  reset_layer_names();
  Bidirectional bi(std::make_shared<LSTM>(
      3, RecurrentOptions{.return_sequences = true, .input_dim = 3, .dtype = kFloat64}));
  EXPECT_EQ(bi.name(), "bidirectional");
  EXPECT_EQ(bi.forward_layer()->name(), "forward_lstm");
  EXPECT_EQ(bi.backward_layer()->name(), "backward_lstm");
  EXPECT_EQ(bi.named_parameters()[0].first, "forward_layer.kernel");
  EXPECT_EQ(bi.named_parameters()[3].first, "backward_layer.kernel");
  const std::vector<std::pair<const Recurrent*, int64_t>> halves = {
      {bi.forward_layer().get(), 41}, {bi.backward_layer().get(), 44}};
  for (const auto& [layer, salt] : halves) {
    assign(layer->kernel(), pattern({3, 12}, salt, 200.0));
    assign(layer->recurrent_kernel(), pattern({3, 12}, salt + 1, 200.0));
    assign(layer->bias(), pattern({12}, salt + 2, 500.0));
  }
  const Tensor x = pattern_leaf({2, 4, 3}, 40, 50.0);
  const Tensor out = bi(x);
  EXPECT_EQ(out.shape(), (Shape{2, 4, 6}));
  (out * pattern_tensor({2, 4, 6}, 47, 100.0)).sum().backward();
  expect_close(out, kBidirectionalSequence, "sequence");
  expect_close(x.grad(), kBidirectionalInputGrad, "input grad");
  const Recurrent& f = *bi.forward_layer();
  const Recurrent& b = *bi.backward_layer();
  expect_close(f.kernel().grad(), kBidirectionalForwardKernelGrad, "forward kernel grad");
  expect_close(f.recurrent_kernel().grad(), kBidirectionalForwardRecurrentGrad, "forward rec");
  expect_close(f.bias().grad(), kBidirectionalForwardBiasGrad, "forward bias");
  expect_close(b.kernel().grad(), kBidirectionalBackwardKernelGrad, "backward kernel grad");
  expect_close(b.recurrent_kernel().grad(), kBidirectionalBackwardRecurrentGrad, "backward rec");
  expect_close(b.bias().grad(), kBidirectionalBackwardBiasGrad, "backward bias");
}

// ---- in a model ----

TEST(Recurrent, WorksInSequentialWithSummaryAndSavedWeights) {
  reset_layer_names();
  Sequential model;
  model.add<Embedding>(20, 8);
  model.add<Bidirectional>(std::make_shared<LSTM>(6, RecurrentOptions{.return_sequences = true}));
  model.add<GRU>(5);
  model.add<Dense>(2);
  const std::string summary = model.summary({7});
  EXPECT_NE(summary.find("embedding (Embedding)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(None, 7, 8)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("bidirectional (Bidirectional)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(None, 7, 12)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("gru (GRU)"), std::string::npos) << summary;
  // Keras's counts: Bidirectional LSTM 2 * 4 * (8 * 6 + 6 * 6 + 6) = 720, GRU(5) on 12 features
  // 3 * (12 * 5 + 5 * 5 + 2 * 5) = 285.
  EXPECT_NE(summary.find("720"), std::string::npos) << summary;
  EXPECT_NE(summary.find("285"), std::string::npos) << summary;
  const Tensor ids =
      tensor(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 19, 0, 0, 3, 2, 1, 0}, {2, 7});
  EXPECT_EQ(model(ids).shape(), (Shape{2, 2}));
  const NamedTensors state = model.state();
  EXPECT_EQ(state[1].first, "1.forward_layer.kernel");
}

TEST(Recurrent, ErrorsNameTheLayerAndShapes) {
  LSTM lstm(3, {.input_dim = 2});
  expect_error_containing(
      [&] {
        (void)lstm(ones({2, 5}));
      },
      "LSTM: expected an input [batch, time, features], got shape [2, 5]");
  expect_error_containing(
      [&] {
        (void)lstm(ones({2, 5, 4}));
      },
      "LSTM: input of shape [2, 5, 4] has 4 features, expected 2");
  expect_error_containing([&] { (void)lstm(ones({2, 0, 2})); }, "has no time steps");
  expect_error_containing([&] { (void)lstm(ones({2, 3, 2}, kFloat64)); }, "dtype float64");
  expect_error_containing([] { GRU bad(0); }, "GRU: units must be positive");
  expect_error_containing([] { SimpleRNN bad(2, {.activation = "nope"}); }, "SimpleRNN");
  expect_error_containing([] { Bidirectional bad(std::make_shared<GRU>(2), "max"); },
                          "merge_mode must be");
}

}  // namespace
}  // namespace nabla::nn
