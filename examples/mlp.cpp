// The Keras MNIST MLP: Dense(512, relu) + Dense(10, softmax), RMSprop, categorical cross-entropy,
// 5 epochs of batch 128, on Fashion-MNIST (or any MNIST-format directory given with --data).
#include "examples/common.h"
#include "nabla.h"

int main(int argc, char** argv) try {
  using namespace nabla;
  const examples::Args args(argc, argv,
                            {{"data", data::default_data_dir()},
                             {"epochs", "5"},
                             {"batch-size", "128"},
                             {"seed", "0"},
                             {"limit", "0"}},
                            "mlp: the Keras MNIST multilayer perceptron");
  manual_seed(static_cast<uint64_t>(args.integer("seed")));
  const auto train_split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const auto test_split = data::load_mnist(args.str("data"), false);
  const Tensor x_train = data::flatten_images(train_split.images);
  const Tensor y_train = data::to_categorical(train_split.labels, 10);
  const Tensor x_test = data::flatten_images(test_split.images);
  const Tensor y_test = data::to_categorical(test_split.labels, 10);
  fmt::print("{} train samples, {} test samples from {}\n", x_train.size(0), x_test.size(0),
             args.str("data"));

  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(512, nn::DenseOptions{.activation = "relu", .input_dim = 784});
  network->add<nn::Dense>(10, nn::DenseOptions{.activation = "softmax"});
  fmt::print("{}\n", network->summary({784}));

  train::Model model(network);
  model.compile(std::make_shared<optim::RMSprop>(std::vector<Tensor>{}), "categorical_crossentropy",
                {"accuracy"});
  model.fit(x_train, y_train,
            {.epochs = args.integer("epochs"),
             .batch_size = args.integer("batch-size"),
             .verbose = 1,
             .seed = static_cast<uint64_t>(args.integer("seed"))});
  const train::Logs score = model.evaluate(x_test, y_test, 1000);
  fmt::print("Test loss: {:.4f}\nTest accuracy: {:.4f}\n", score.at("loss"), score.at("accuracy"));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "mlp: {}\n", e.what());
  return 1;
}
