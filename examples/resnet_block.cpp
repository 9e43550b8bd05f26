// A small residual CNN built with the functional API (nn::Input, layer->call, nn::Add), as in
// Keras's "toy ResNet" guide, trained on Fashion-MNIST: two residual blocks whose skip connections
// a Sequential cannot express.
#include "examples/common.h"
#include "nabla.h"

namespace {

using nabla::nn::Conv2D;
using nabla::nn::Conv2DOptions;
using nabla::nn::SymbolicTensor;

// x + conv(relu(conv(x))), then relu: the shape of x is kept ("same" padding, as many filters).
SymbolicTensor residual_block(const SymbolicTensor& x, int64_t filters) {
  const auto first =
      std::make_shared<Conv2D>(filters, 3, Conv2DOptions{.padding = "same", .activation = "relu"});
  const auto second = std::make_shared<Conv2D>(filters, 3, Conv2DOptions{.padding = "same"});
  const SymbolicTensor sum =
      std::make_shared<nabla::nn::Add>()->call({x, second->call(first->call(x))});
  return std::make_shared<nabla::nn::ReLU>()->call(sum);
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace nabla;
  const examples::Args args(
      argc, argv,
      {{"data", data::default_data_dir()},
       {"epochs", "1"},
       {"batch-size", "64"},
       {"seed", "0"},
       {"limit", "0"}},
      "resnet_block: a residual CNN from the functional API on Fashion-MNIST");
  manual_seed(static_cast<uint64_t>(args.integer("seed")));

  const SymbolicTensor inputs = nn::Input({1, 28, 28}, kFloat32, "img");
  SymbolicTensor x =
      std::make_shared<Conv2D>(16, 3, Conv2DOptions{.activation = "relu"})->call(inputs);
  x = std::make_shared<nn::MaxPooling2D>(2)->call(x);
  x = residual_block(x, 16);
  x = residual_block(x, 16);
  x = std::make_shared<nn::MaxPooling2D>(2)->call(x);
  x = std::make_shared<nn::Flatten>()->call(x);
  x = std::make_shared<nn::Dense>(64, nn::DenseOptions{.activation = "relu"})->call(x);
  x = std::make_shared<nn::Dropout>(0.3)->call(x);
  const SymbolicTensor outputs = std::make_shared<nn::Dense>(10)->call(x);
  auto network = std::make_shared<nn::Functional>(inputs, outputs);
  network->set_name("toy_resnet");
  fmt::print("{}\n", network->summary());

  const auto train_split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const auto test_split = data::load_mnist(args.str("data"), false);

  train::Model model(network);
  model.compile(std::make_shared<optim::Adam>(std::vector<Tensor>{}),
                train::loss_by_name("sparse_categorical_crossentropy", /*from_logits=*/true),
                {train::metric_by_name("accuracy")});
  model.fit(data::add_channel_dim(train_split.images), train_split.labels,
            {.epochs = args.integer("epochs"),
             .batch_size = args.integer("batch-size"),
             .verbose = 1,
             .seed = static_cast<uint64_t>(args.integer("seed"))});
  const train::Logs score =
      model.evaluate(data::add_channel_dim(test_split.images), test_split.labels, 500);
  fmt::print("Test loss: {:.4f}\nTest accuracy: {:.4f}\n", score.at("loss"), score.at("accuracy"));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "resnet_block: {}\n", e.what());
  return 1;
}
