// Module registration, naming, traversal and modes.
#include "nn/module.h"

#include <gtest/gtest.h>

#include "nn/layers.h"
#include "nn/sequential.h"
#include "tests/support/expect_error.h"

namespace nabla::nn {
namespace {

class Affine : public Module {
 public:
  Affine() {
    set_name(unique_layer_name(type_name()));
    weight_ = register_parameter("weight", ones({2, 2}));
    running_ = register_buffer("running", zeros({2}));
  }
  Tensor forward(const Tensor& input) override { return matmul(input, weight_); }
  [[nodiscard]] std::string type_name() const override { return "TestAffine"; }

 private:
  Tensor weight_;
  Tensor running_;
};

class Pair : public Module {
 public:
  Pair() {
    set_name("pair");
    first_ = register_module(std::make_shared<Affine>());
    second_ = register_module(std::make_shared<Affine>());
  }
  Tensor forward(const Tensor& input) override { return (*second_)((*first_)(input)); }
  [[nodiscard]] std::string type_name() const override { return "Pair"; }

 private:
  std::shared_ptr<Affine> first_;
  std::shared_ptr<Affine> second_;
};

TEST(Module, RegistersAndNamesParametersInOrder) {
  Pair pair;
  const NamedTensors named = pair.named_parameters();
  ASSERT_EQ(named.size(), 2U);
  EXPECT_EQ(named[0].first, "0.weight");
  EXPECT_EQ(named[1].first, "1.weight");
  EXPECT_TRUE(named[0].second.requires_grad());
  EXPECT_EQ(pair.trainable_parameter_count(), 8);
  EXPECT_EQ(pair.non_trainable_parameter_count(), 4);
  EXPECT_EQ(pair.state().size(), 4U);
}

TEST(Module, NamedGeneratorsListEachDropoutByPath) {
  auto nested = std::make_shared<Sequential>();
  nested->add<Dense>(2, DenseOptions{.input_dim = 2}).add<Dropout>(0.5, 7);
  Sequential model;
  model.add<Dropout>(0.1, 1).add(nested).add<Dropout>(0.2, 2);
  const auto generators = model.named_generators();
  ASSERT_EQ(generators.size(), 3U);
  EXPECT_EQ(generators[0].first, "0");
  EXPECT_EQ(generators[1].first, "1.1");
  EXPECT_EQ(generators[2].first, "2");
  EXPECT_EQ(generators[1].second, &dynamic_cast<Dropout&>(*nested->layers()[1]).generator());
  EXPECT_EQ(Dense(2).random_generator(), nullptr);
}

TEST(Module, GradientsFlowAndZeroGradClearsThem) {
  Pair pair;
  sum(pair(ones({3, 2}))).backward();
  for (const Tensor& p : pair.parameters()) ASSERT_TRUE(p.grad().defined());
  pair.zero_grad();
  for (const Tensor& p : pair.parameters()) EXPECT_FALSE(p.grad().defined());
}

// An optimizer made from the parameters before a lazily sized layer exists would never update
// that layer; parameters() refuses instead, and works once the model is built.
TEST(Module, ParametersAreRefusedWhileALayerWaitsForItsInputSize) {
  reset_layer_names();
  Sequential model;
  model.add<Dense>(4, DenseOptions{.input_dim = 3}).add<Dense>(2);
  testing::expect_error_containing([&] { (void)model.parameters(); },
                                   "parameters: layer 1 (dense_1) has not created its weights yet");
  EXPECT_EQ(model.named_parameters().size(), 2U);  // what exists so far
  model.zero_grad();                               // nothing to clear yet: allowed
  (void)model.build({1, 3});
  EXPECT_EQ(model.parameters().size(), 4U);
}

TEST(Module, TrainAndEvalPropagate) {
  Pair pair;
  pair.eval();
  EXPECT_FALSE(pair.is_training());
  EXPECT_FALSE(pair.children()[0]->is_training());
  pair.train();
  EXPECT_TRUE(pair.children()[1]->is_training());
}

TEST(Module, KerasStyleUniqueNames) {
  reset_layer_names();  // other tests in this binary create layers too
  EXPECT_EQ(unique_layer_name("MaxPooling2D"), "max_pooling2d");
  EXPECT_EQ(unique_layer_name("MaxPooling2D"), "max_pooling2d_1");
  EXPECT_EQ(unique_layer_name("BatchNormalization"), "batch_normalization");
  EXPECT_EQ(unique_layer_name("Conv2D"), "conv2d");
  // Keras's to_snake_case, both of its rules.
  EXPECT_EQ(unique_layer_name("Conv2DTranspose"), "conv2d_transpose");
  EXPECT_EQ(unique_layer_name("LeakyReLU"), "leaky_re_lu");
  EXPECT_EQ(unique_layer_name("SimpleRNN"), "simple_rnn");
  EXPECT_EQ(unique_layer_name("LSTM"), "lstm");
  EXPECT_EQ(unique_layer_name("GlobalAveragePooling2D"), "global_average_pooling2d");
  reset_layer_names();
  EXPECT_EQ(unique_layer_name("MaxPooling2D"), "max_pooling2d");
}

}  // namespace
}  // namespace nabla::nn
