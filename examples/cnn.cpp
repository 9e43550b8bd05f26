// The Keras CNN: first the summary of the 150x150x3 cats-vs-dogs network, then a small CNN
// (Conv2D, MaxPooling2D, Flatten, Dense) trained on Fashion-MNIST with Adam.
#include "examples/common.h"
#include "nabla.h"

int main(int argc, char** argv) try {
  using namespace nabla;
  using nn::Conv2D;
  using nn::Conv2DOptions;
  using nn::Dense;
  using nn::DenseOptions;
  const examples::Args args(argc, argv,
                            {{"data", data::default_data_dir()},
                             {"epochs", "2"},
                             {"batch-size", "64"},
                             {"seed", "0"},
                             {"limit", "0"}},
                            "cnn: the Keras CNN summary, then a small CNN on Fashion-MNIST");
  manual_seed(static_cast<uint64_t>(args.integer("seed")));

  // Keras's (150, 150, 3) input is (3, 150, 150) here: nabla's images are NCHW like PyTorch's.
  nn::Sequential keras_cnn;
  keras_cnn.add<Conv2D>(32, 3, Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<Conv2D>(64, 3, Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<Conv2D>(128, 3, Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<Conv2D>(128, 3, Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<nn::Flatten>()
      .add<Dense>(512, DenseOptions{.activation = "relu"})
      .add<Dense>(1, DenseOptions{.activation = "sigmoid"});
  fmt::print("{}\n", keras_cnn.summary({3, 150, 150}));

  const auto train_split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const auto test_split = data::load_mnist(args.str("data"), false);
  const Tensor x_train = data::add_channel_dim(train_split.images);
  const Tensor x_test = data::add_channel_dim(test_split.images);

  auto network = std::make_shared<nn::Sequential>();
  network->add<Conv2D>(32, 3, Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<Conv2D>(64, 3, Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<nn::Flatten>()
      .add<Dense>(128, DenseOptions{.activation = "relu"})
      .add<Dense>(10);
  fmt::print("{}\n", network->summary({1, 28, 28}));

  train::Model model(network);
  model.compile(std::make_shared<optim::Adam>(std::vector<Tensor>{}),
                train::loss_by_name("sparse_categorical_crossentropy", /*from_logits=*/true),
                {train::metric_by_name("accuracy")});
  model.fit(x_train, train_split.labels,
            {.epochs = args.integer("epochs"),
             .batch_size = args.integer("batch-size"),
             .verbose = 1,
             .seed = static_cast<uint64_t>(args.integer("seed"))});
  const train::Logs score = model.evaluate(x_test, test_split.labels, 500);
  fmt::print("Test loss: {:.4f}\nTest accuracy: {:.4f}\n", score.at("loss"), score.at("accuracy"));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "cnn: {}\n", e.what());
  return 1;
}
