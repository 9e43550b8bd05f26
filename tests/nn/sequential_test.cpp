// Sequential: chaining, shape inference through build, modes and the Keras summary.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "nabla.h"
#include "nn/nn.h"

namespace nabla::nn {
namespace {

bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

std::string collapse_spaces(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

// The Keras "classifying cats and dogs" CNN, on 150x150 RGB images (NCHW here).
std::shared_ptr<Sequential> keras_cnn() {
  auto model = std::make_shared<Sequential>();
  model->add<Conv2D>(32, 3, Conv2DOptions{.activation = "relu"})
      .add<MaxPooling2D>(2)
      .add<Conv2D>(64, 3, Conv2DOptions{.activation = "relu"})
      .add<MaxPooling2D>(2)
      .add<Conv2D>(128, 3, Conv2DOptions{.activation = "relu"})
      .add<MaxPooling2D>(2)
      .add<Conv2D>(128, 3, Conv2DOptions{.activation = "relu"})
      .add<MaxPooling2D>(2)
      .add<Flatten>()
      .add<Dense>(512, DenseOptions{.activation = "relu"})
      .add<Dense>(1, DenseOptions{.activation = "sigmoid"});
  return model;
}

TEST(Sequential, DenseSummaryMatchesKeras) {
  reset_layer_names();
  Sequential model;
  model.add(std::make_shared<Dense>(512, DenseOptions{.activation = "relu"}))
      .add(std::make_shared<Dense>(10, DenseOptions{.activation = "softmax"}));
  const std::string summary = model.summary({784});
  EXPECT_EQ(summary,
            "Model: \"sequential\"\n"
            "_________________________________________________________________\n"
            " Layer (type)                Output Shape              Param #\n"
            "=================================================================\n"
            " dense (Dense)               (None, 512)               401920\n"
            "_________________________________________________________________\n"
            " dense_1 (Dense)             (None, 10)                5130\n"
            "=================================================================\n"
            "Total params: 407,050\n"
            "Trainable params: 407,050\n"
            "Non-trainable params: 0\n"
            "_________________________________________________________________\n")
      << summary;
  EXPECT_EQ(model.trainable_parameter_count(), 407050);
}

TEST(Sequential, KerasCnnSummaryHasTheKnownParameterCount) {
  reset_layer_names();
  const std::shared_ptr<Sequential> cnn = keras_cnn();
  Sequential& model = *cnn;
  const std::string summary = model.summary({3, 150, 150});
  // Column widths grow with the longest name; compare rows with runs of spaces collapsed.
  const std::string rows = collapse_spaces(summary);
  for (const std::string row :
       {"conv2d (Conv2D) (None, 32, 148, 148) 896\n",
        "max_pooling2d (MaxPooling2D) (None, 32, 74, 74) 0\n",
        "conv2d_1 (Conv2D) (None, 64, 72, 72) 18496\n",
        "max_pooling2d_1 (MaxPooling2D) (None, 64, 36, 36) 0\n",
        "conv2d_2 (Conv2D) (None, 128, 34, 34) 73856\n",
        "max_pooling2d_2 (MaxPooling2D) (None, 128, 17, 17) 0\n",
        "conv2d_3 (Conv2D) (None, 128, 15, 15) 147584\n",
        "max_pooling2d_3 (MaxPooling2D) (None, 128, 7, 7) 0\n",
        "flatten (Flatten) (None, 6272) 0\n", "dense (Dense) (None, 512) 3211776\n",
        "dense_1 (Dense) (None, 1) 513\n"}) {
    EXPECT_TRUE(contains(rows, row)) << row << summary;
  }
  EXPECT_TRUE(contains(summary, "Total params: 3,453,121\n")) << summary;
  EXPECT_TRUE(contains(summary, "Trainable params: 3,453,121\n")) << summary;
  EXPECT_TRUE(contains(summary, "Non-trainable params: 0\n")) << summary;
  // The shapes come from build; the model now has its weights.
  EXPECT_EQ(model.layers()[0]->parameters()[0].shape(), (Shape{32, 3, 3, 3}));
  EXPECT_EQ(model.built_input_shape(), (Shape{1, 3, 150, 150}));
}

TEST(Sequential, BuildShapesAgreeWithForwardShapes) {
  Sequential model;
  model.add<Conv2D>(4, 3, Conv2DOptions{.strides = {2, 2}, .padding = "same", .activation = "relu"})
      .add<BatchNormalization>()
      .add<AveragePooling2D>(2, Pooling2DOptions{.padding = "same"})
      .add<Conv2D>(6, Size2{2, 3})
      .add<MaxPooling2D>(2)
      .add<Flatten>()
      .add<Dropout>(0.5, 1)
      .add<Dense>(5, DenseOptions{.activation = "softmax"});
  const Shape predicted = model.build({3, 2, 23, 30});
  Shape shape{3, 2, 23, 30};
  Tensor x = ones(shape);
  for (const auto& layer : model.layers()) {
    const Shape expected = layer->build(x.shape());
    x = (*layer)(x);
    EXPECT_EQ(x.shape(), expected) << layer->name();
  }
  EXPECT_EQ(x.shape(), predicted);
  EXPECT_EQ(model(ones({3, 2, 23, 30})).shape(), (Shape{3, 5}));
}

TEST(Sequential, CountsBatchNormalizationStatsAsNonTrainable) {
  Sequential model({std::make_shared<Dense>(4, DenseOptions{.input_dim = 3}),
                    std::make_shared<BatchNormalization>()});
  const std::string summary = model.summary({3});
  EXPECT_TRUE(contains(summary, "Total params: 32\n")) << summary;
  EXPECT_TRUE(contains(summary, "Trainable params: 24\n")) << summary;
  EXPECT_TRUE(contains(summary, "Non-trainable params: 8\n")) << summary;
}

TEST(Sequential, NamesParametersAndPropagatesModes) {
  reset_layer_names();
  Sequential model;
  model.add<Dense>(3, DenseOptions{.input_dim = 2}).add<Dropout>(0.5).add<Dense>(1);
  EXPECT_EQ(model.layers().size(), 3U);
  EXPECT_THROW(model.add(model.layers()[0]), Error);
  EXPECT_THROW(model.add(nullptr), Error);
  (void)model(ones({4, 2}));
  const NamedTensors named = model.named_parameters();
  ASSERT_EQ(named.size(), 4U);
  EXPECT_EQ(named[0].first, "0.kernel");
  EXPECT_EQ(named[3].first, "2.bias");  // keys are positions, as in PyTorch
  model.eval();
  EXPECT_FALSE(model.layers()[1]->is_training());
  // In eval mode Dropout is the identity: two calls agree.
  const Tensor x = uniform({4, 2}, -1.0, 1.0);
  EXPECT_EQ(model(x).to_vector<float>(), model(x).to_vector<float>());
}

TEST(Sequential, ErrorsNameTheFailingLayer) {
  Sequential model;
  model.add<Dense>(3, DenseOptions{.input_dim = 4}).add<Dense>(2);
  try {
    (void)model(ones({2, 5}));
    FAIL() << "expected nabla::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "Dense: input of shape [2, 5] has 5 features, expected 4"))
        << e.what();
  }
  Sequential unbuilt;
  unbuilt.add<Dense>(2);
  EXPECT_THROW((void)unbuilt.summary(), Error);
  EXPECT_THROW((void)keras_cnn()->summary({3, 150}), Error);
}

TEST(Sequential, SummaryNeedsNoArgumentWhenTheFirstLayerDeclaresItsInput) {
  // Keras: Dense(512, input_dim=784) or input_shape=(784,) makes model.summary() work unbuilt.
  const auto mlp = [](DenseOptions first) {
    reset_layer_names();
    auto model = std::make_shared<Sequential>();
    first.activation = "relu";
    model->add<Dense>(512, first).add<Dense>(10, DenseOptions{.activation = "softmax"});
    return model;
  };
  const std::string reference = mlp({})->summary({784});
  EXPECT_EQ(mlp({.input_dim = 784})->summary(), reference);
  EXPECT_EQ(mlp({.input_shape = Shape{784}})->summary(), reference);
  EXPECT_EQ(mlp({.input_dim = 784, .input_shape = Shape{784}})->summary(), reference);

  reset_layer_names();
  const std::string cnn_reference = keras_cnn()->summary({3, 150, 150});
  // The same CNN whose first Conv2D declares input_shape {3, 150, 150} (NCHW).
  reset_layer_names();
  auto declared = keras_cnn();
  auto first = std::make_shared<Conv2D>(
      32, 3, Conv2DOptions{.activation = "relu", .input_shape = Shape{3, 150, 150}});
  EXPECT_EQ(first->declared_input_shape(), Shape({3, 150, 150}));
  Sequential rebuilt;
  rebuilt.set_name(declared->name());
  first->set_name(declared->layers()[0]->name());
  rebuilt.add(first);
  for (size_t i = 1; i < declared->layers().size(); ++i) rebuilt.add(declared->layers()[i]);
  EXPECT_EQ(rebuilt.summary(), cnn_reference);

  reset_layer_names();
  Sequential flat;
  flat.add<Flatten>(Shape{28, 28}).add<Dense>(10);
  const std::string summary = flat.summary();
  EXPECT_TRUE(contains(collapse_spaces(summary), " flatten (Flatten) (None, 784) 0\n")) << summary;
  EXPECT_TRUE(contains(summary, "Total params: 7,850\n")) << summary;

  EXPECT_THROW(Dense(2, DenseOptions{.input_dim = 3, .input_shape = Shape{4}}), Error);
  EXPECT_THROW(Dense(2, DenseOptions{.input_shape = Shape{}}), Error);
  EXPECT_THROW(Conv2D(2, 3, Conv2DOptions{.input_shape = Shape{3, 8}}), Error);
  EXPECT_THROW(Conv2D(2, 3, Conv2DOptions{.input_channels = 1, .input_shape = Shape{3, 8, 8}}),
               Error);
}

TEST(Sequential, ThousandsSeparators) {
  EXPECT_EQ(format_with_commas(0), "0");
  EXPECT_EQ(format_with_commas(999), "999");
  EXPECT_EQ(format_with_commas(1000), "1,000");
  EXPECT_EQ(format_with_commas(3453121), "3,453,121");
  EXPECT_EQ(format_with_commas(-1234567), "-1,234,567");
}

}  // namespace
}  // namespace nabla::nn
