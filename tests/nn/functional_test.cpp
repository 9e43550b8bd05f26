// The functional API: graphs with several inputs and outputs, shared layers, merge layers,
// Reshape and Lambda, checked against plain double loops, gradcheck and the Keras summary layout.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nabla.h"
#include "nn/nn.h"
#include "tests/support/expect_error.h"

namespace nabla::nn {
namespace {

using testing::expect_error_containing;

DenseOptions f64(uint64_t seed, const std::string& activation = "linear") {
  return DenseOptions{.activation = activation, .seed = seed, .dtype = kFloat64};
}

// x [n, in] @ kernel [in, out] + bias, in plain double loops.
std::vector<double> dense_reference(const std::vector<double>& x, int64_t n, const Dense& layer,
                                    bool relu) {
  const auto kernel = layer.kernel().to_vector<double>();
  const auto bias = layer.bias().to_vector<double>();
  const int64_t in = *layer.input_dim();
  const int64_t out = layer.units();
  std::vector<double> y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < out; ++c) {
      double s = bias[static_cast<size_t>(c)];
      for (int64_t k = 0; k < in; ++k) {
        s += x[static_cast<size_t>(r * in + k)] * kernel[static_cast<size_t>(k * out + c)];
      }
      y[static_cast<size_t>(r * out + c)] = relu ? std::max(s, 0.0) : s;
    }
  }
  return y;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "at " << i;
}

TEST(Functional, TwoInputsWithASharedLayerAndASkipMatchPlainLoops) {
  const auto a = Input({3}, kFloat64, "a");
  const auto b = Input({3}, kFloat64, "b");
  const auto shared = std::make_shared<Dense>(4, f64(1, "relu"));
  const auto head = std::make_shared<Dense>(2, f64(2));
  const auto ha = shared->call(a);
  const auto hb = shared->call(b);
  const auto sum = std::make_shared<Add>()->call({ha, hb});
  const auto product = std::make_shared<Multiply>()->call({ha, sum});
  const auto out = head->call(product);
  const auto joined = std::make_shared<Concatenate>()->call({out, ha});
  Functional model({a, b}, {out, joined});

  EXPECT_EQ(out.shape(), (Shape{1, 2}));
  EXPECT_EQ(joined.shape(), (Shape{1, 6}));
  // The shared layer's weights count once.
  EXPECT_EQ(model.trainable_parameter_count(), (3 * 4 + 4) + (4 * 2 + 2));

  const int64_t n = 5;
  const Tensor xa = randn({n, 3}, kFloat64);
  const Tensor xb = randn({n, 3}, kFloat64);
  const std::vector<Tensor> got = model.forward_all({xa, xb});
  ASSERT_EQ(got.size(), 2U);

  const auto ra = dense_reference(xa.to_vector<double>(), n, *shared, true);
  const auto rb = dense_reference(xb.to_vector<double>(), n, *shared, true);
  std::vector<double> mixed(ra.size());
  for (size_t i = 0; i < ra.size(); ++i) mixed[i] = ra[i] * (ra[i] + rb[i]);
  const auto want_out = dense_reference(mixed, n, *head, false);
  expect_near_all(got[0].to_vector<double>(), want_out);

  std::vector<double> want_joined;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < 2; ++c) want_joined.push_back(want_out[static_cast<size_t>(r * 2 + c)]);
    for (int64_t c = 0; c < 4; ++c) want_joined.push_back(ra[static_cast<size_t>(r * 4 + c)]);
  }
  EXPECT_EQ(got[1].shape(), (Shape{n, 6}));
  expect_near_all(got[1].to_vector<double>(), want_joined);
}

TEST(Functional, GradientsThroughEveryMergeLayerReshapeAndLambdaPassGradcheck) {
  const auto x = Input({2, 3}, kFloat64);
  const auto flat = std::make_shared<Reshape>(Shape{-1})->call(x);
  const auto dense = std::make_shared<Dense>(6, f64(3, "tanh"))->call(flat);
  const auto squared = std::make_shared<Lambda>([](const Tensor& t) { return t * t; })->call(flat);
  const auto mixed = std::make_shared<Multiply>()->call({dense, squared});
  const auto added = std::make_shared<Add>()->call({mixed, flat, dense});
  const auto back = std::make_shared<Reshape>(Shape{3, 2})->call(added);
  const auto joined = std::make_shared<Concatenate>(1)->call({back, back});
  auto model = std::make_shared<Functional>(x, joined);
  EXPECT_EQ(joined.shape(), (Shape{1, 6, 2}));

  // Batch sizes 1 and 3, and a non-contiguous input.
  for (const Tensor& input : {randn({1, 2, 3}, kFloat64), randn({3, 2, 3}, kFloat64),
                              randn({3, 3, 2}, kFloat64).transpose(1, 2)}) {
    const Tensor leaf = input.detach().requires_grad_();
    const auto report =
        gradcheck([&](const std::vector<Tensor>& in) { return (*model)(in[0]); }, {leaf});
    EXPECT_TRUE(report.passed) << report.message;
  }
  // And with respect to the weights: the shared Dense's kernel gets the gradient of every use.
  const Tensor input = randn({2, 2, 3}, kFloat64);
  const Tensor kernel = model->parameters().front();
  const auto weights_report =
      gradcheck([&](const std::vector<Tensor>&) { return sum((*model)(input)); }, {kernel});
  EXPECT_TRUE(weights_report.passed) << weights_report.message;
}

TEST(Functional, SummaryListsInputsLayersShapesParamsAndConnections) {
  reset_layer_names();
  const auto a = Input({8});
  const auto b = Input({8});
  const auto shared = std::make_shared<Dense>(4);
  const auto sum = std::make_shared<Add>()->call({shared->call(a), shared->call(b)});
  const auto out = std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid"})->call(sum);
  const Functional model({a, b}, {out});
  const std::string text = model.summary();
  for (const char* fragment : {"Model: \"model\"",
                               "Layer (type)",
                               "Output Shape",
                               "Param #",
                               "Connected to",
                               "input (InputLayer)",
                               "input_1 (InputLayer)",
                               "(None, 8)",
                               "dense (Dense)",
                               "(None, 4)",
                               "36",
                               "input[0][0]",
                               "input_1[0][0]",
                               "add (Add)",
                               "dense[0][0]",
                               "dense[1][0]",
                               "dense_1 (Dense)",
                               "(None, 1)",
                               "5",
                               "add[0][0]",
                               "Total params: 41",
                               "Trainable params: 41",
                               "Non-trainable params: 0"}) {
    EXPECT_NE(text.find(fragment), std::string::npos) << fragment << " in\n" << text;
  }
  // One row per layer: the shared Dense appears once, with both of its calls.
  EXPECT_EQ(text.find("dense (Dense)"), text.rfind("dense (Dense)"));
}

TEST(Functional, WeightsSaveAndLoadIntoATwinBuiltTheSameWay) {
  const auto build = [](uint64_t seed) {
    const auto x = Input({3});
    const auto h = std::make_shared<Dense>(4, DenseOptions{.seed = seed})->call(x);
    const auto out = std::make_shared<Concatenate>()->call(
        {h, std::make_shared<Dense>(2, DenseOptions{.seed = seed + 1})->call(h)});
    return std::make_shared<Functional>(x, out);
  };
  const auto original = build(1);
  const auto twin = build(100);
  const std::string path =
      (std::filesystem::temp_directory_path() / "nabla_functional_weights.safetensors").string();
  save_weights(*original, path);
  load_weights(*twin, path);
  std::filesystem::remove(path);
  const Tensor input = randn({2, 3});
  EXPECT_EQ((*original)(input).to_vector<float>(), (*twin)(input).to_vector<float>());
}

TEST(Functional, TokenModelWithEmbeddingAndRecurrentLayersMatchesTheLayersAppliedInTurn) {
  const auto tokens = Input({6}, kInt64);
  const auto embedding = std::make_shared<Embedding>(10, 4, EmbeddingOptions{.seed = 1});
  const auto lstm =
      std::make_shared<LSTM>(5, RecurrentOptions{.return_sequences = true, .seed = 2});
  const auto gru = std::make_shared<GRU>(3, RecurrentOptions{.seed = 3});
  const auto embedded = embedding->call(tokens);
  const auto sequence = lstm->call(embedded);
  const auto last = gru->call(sequence);
  EXPECT_EQ(embedded.shape(), (Shape{1, 6, 4}));
  EXPECT_EQ(sequence.shape(), (Shape{1, 6, 5}));
  EXPECT_EQ(last.shape(), (Shape{1, 3}));
  Functional model(tokens, last);
  const Tensor batch = tensor({0, 3, 9, 3, 1, 2, 5, 5, 5, 0, 0, 7}, kInt64).reshape({2, 6});
  const Tensor want = (*gru)((*lstm)((*embedding)(batch)));
  EXPECT_EQ(model(batch).to_vector<float>(), want.to_vector<float>());
}

TEST(Functional, BadGraphsAndInputsAreClearErrors) {
  const auto a = Input({3}, kFloat32, "in_a");
  const auto b = Input({4}, kFloat32, "in_b");
  const auto h = std::make_shared<Dense>(2)->call(b);
  expect_error_containing([&] { Functional({a}, {h}); },
                          "depends on input \"in_b\", which is not among the model's inputs");
  expect_error_containing([&] { Functional({h}, {h}); }, "is the output of a layer");
  expect_error_containing([&] { Functional({a, a}, {a}); }, "input \"in_a\" is given twice");
  expect_error_containing(
      [&] {
        std::make_shared<Add>()->call({a, b});
      },
      "inputs of shapes [1, 3], [1, 4] differ");
  expect_error_containing([&] { std::make_shared<Add>()->call({a}); }, "at least two inputs");
  expect_error_containing(
      [&] {
        std::make_shared<Concatenate>(0)->call({a, a});
      },
      "axis 0 is not a non-batch dim");
  expect_error_containing(
      [&] {
        std::make_shared<Reshape>(Shape{2, 2})->call(a);
      },
      "cannot be reshaped to [2, 2]");
  expect_error_containing(
      [&] {
        std::make_shared<Dense>(2)->call({a, a});
      },
      "takes one input, got 2");
  Dense on_stack(2);
  expect_error_containing([&] { on_stack.call(a); }, "must be owned by a std::shared_ptr");
  expect_error_containing([] { Input({0, 3}); }, "has an extent below 1");

  const auto out = std::make_shared<Dense>(2)->call(a);
  Functional model(a, out);
  expect_error_containing(
      [&] {
        model(zeros({5, 4}));
      },
      "input 0 (\"in_a\") has shape [5, 4], expected [None, 3]");
  Functional two({a, b}, {out});
  expect_error_containing([&] { two(zeros({5, 3})); }, "has 2 inputs and 1 outputs");
  expect_error_containing(
      [&] {
        two.forward_all({zeros({5, 3}), zeros({6, 4})});
      },
      "with the batch of input 0");
  expect_error_containing(
      [&] {
        std::make_shared<Add>()->forward(zeros({2, 3}));
      },
      "takes a list of at least two inputs");
}

}  // namespace
}  // namespace nabla::nn
