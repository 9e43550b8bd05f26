// The Keras MNIST MLP: Dense(512, relu) + Dense(10, softmax), RMSprop, categorical cross-entropy,
// 5 epochs of batch 128, on Fashion-MNIST (or any MNIST-format directory given with --data).
// --loop plain trains the same model with the same optimizer, initial weights and batches in a
// hand-written loop instead of Model::fit; --loss logits ends in a linear Dense(10) and takes the
// cross-entropy on its logits (PyTorch's F.cross_entropy) instead of softmax + Keras' clipped one.
#include "examples/common.h"
#include "nabla.h"

namespace {

using nabla::Tensor;

// The hand-written loop: what fit does per step, without train/.
double train_plain(const std::shared_ptr<nabla::nn::Sequential>& network,
                   const nabla::train::Loss& loss_fn, const Tensor& x_train, const Tensor& y_train,
                   const Tensor& x_test, const Tensor& y_test, int64_t epochs, int64_t batch_size,
                   uint64_t seed) {
  using namespace nabla;
  if (!network->built()) network->build(x_train.shape());
  optim::RMSprop optimizer(network->parameters());
  data::DataLoader loader(data::TensorDataset(x_train, y_train), batch_size, /*shuffle=*/true,
                          /*drop_last=*/false, seed);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    double loss_sum = 0.0;
    for (const data::Batch& batch : loader) {
      optimizer.zero_grad();
      const Tensor loss = loss_fn.fn((*network)(batch.x), batch.y);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item() * static_cast<double>(batch.x.size(0));
    }
    fmt::print("Epoch {}/{}: loss {:.4f}\n", epoch + 1, epochs,
               loss_sum / static_cast<double>(x_train.size(0)));
  }
  const NoGradGuard no_grad;
  return nn::accuracy((*network)(x_test), y_test);
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace nabla;
  const examples::Args args(argc, argv,
                            {{"data", data::default_data_dir()},
                             {"epochs", "5"},
                             {"batch-size", "128"},
                             {"seed", "0"},
                             {"limit", "0"},
                             {"loop", "fit"},
                             {"loss", "softmax"},
                             {"shuffle-seed", "-1"}},
                            "mlp: the Keras MNIST multilayer perceptron\n"
                            "  --loop fit|plain: Model::fit, or a hand-written loop\n"
                            "  --loss softmax|logits: softmax output and Keras' clipped "
                            "cross-entropy, or a linear output and cross-entropy on logits");
  const std::string loop = args.str("loop");
  const std::string loss_kind = args.str("loss");
  if (loop != "fit" && loop != "plain") throw error("--loop must be fit or plain, got '{}'", loop);
  if (loss_kind != "softmax" && loss_kind != "logits") {
    throw error("--loss must be softmax or logits, got '{}'", loss_kind);
  }
  const bool from_logits = loss_kind == "logits";
  const auto seed = static_cast<uint64_t>(args.integer("seed"));
  manual_seed(seed);
  const int64_t shuffle_flag = args.integer("shuffle-seed");
  const uint64_t shuffle_seed = shuffle_flag < 0 ? seed : static_cast<uint64_t>(shuffle_flag);
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
  network->add<nn::Dense>(10, nn::DenseOptions{.activation = from_logits ? "linear" : "softmax"});
  fmt::print("{}\n", network->summary({784}));
  const train::Loss loss = train::loss_by_name("categorical_crossentropy", from_logits);

  if (loop == "plain") {
    const double accuracy =
        train_plain(network, loss, x_train, y_train, x_test, y_test, args.integer("epochs"),
                    args.integer("batch-size"), shuffle_seed);
    fmt::print("Test accuracy: {:.4f}\n", accuracy);
    return 0;
  }
  train::Model model(network);
  model.compile(std::make_shared<optim::RMSprop>(std::vector<Tensor>{}), loss,
                {train::metric_by_name("accuracy")});
  model.fit(x_train, y_train,
            {.epochs = args.integer("epochs"),
             .batch_size = args.integer("batch-size"),
             .verbose = 1,
             .seed = shuffle_seed});
  const train::Logs score = model.evaluate(x_test, y_test, 1000);
  fmt::print("Test loss: {:.4f}\nTest accuracy: {:.4f}\n", score.at("loss"), score.at("accuracy"));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "mlp: {}\n", e.what());
  return 1;
}
