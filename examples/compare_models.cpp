// Three Keras models (hidden layers 512-512, 512 and 256-256; he_normal, Adam, 5 epochs of batch
// 64, validation_split 0.05) trained, saved as safetensors, loaded back into fresh twins and
// compared on one test image.
#include <filesystem>

#include "examples/common.h"
#include "nabla.h"

namespace {

using namespace nabla;

std::shared_ptr<nn::Sequential> make_model(const std::vector<int64_t>& hidden, uint64_t seed) {
  auto model = std::make_shared<nn::Sequential>();
  int64_t inputs = 784;
  for (size_t i = 0; i < hidden.size(); ++i) {
    model->add<nn::Dense>(hidden[i], nn::DenseOptions{.activation = "relu",
                                                      .kernel_initializer = "he_normal",
                                                      .input_dim = inputs,
                                                      .seed = seed + i});
    inputs = hidden[i];
  }
  model->add<nn::Dense>(
      10,
      nn::DenseOptions{.activation = "softmax", .input_dim = inputs, .seed = seed + hidden.size()});
  return model;
}

std::string describe(const std::vector<int64_t>& hidden) {
  std::string out;
  for (const int64_t units : hidden) out += (out.empty() ? "" : "-") + std::to_string(units);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args(argc, argv,
                            {{"data", data::default_data_dir()},
                             {"epochs", "5"},
                             {"batch-size", "64"},
                             {"seed", "0"},
                             {"limit", "0"},
                             {"out", "compare_models_out"},
                             {"image", "0"}},
                            "compare_models: three MLPs trained, saved, loaded back and compared");
  const auto seed = static_cast<uint64_t>(args.integer("seed"));
  manual_seed(seed);
  const auto train_split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const auto test_split = data::load_mnist(args.str("data"), false);
  const Tensor x_train = data::flatten_images(train_split.images);
  const Tensor y_train = data::to_categorical(train_split.labels, 10);
  const Tensor x_test = data::flatten_images(test_split.images);
  const Tensor y_test = data::to_categorical(test_split.labels, 10);
  const int64_t image = args.integer("image");
  if (image < 0 || image >= x_test.size(0))
    throw error("--image {} is not a test image index", image);
  const Tensor probe = slice(x_test, 0, image, image + 1);
  const auto& class_names = data::fashion_mnist_class_names();
  const int64_t true_label = test_split.labels.to_vector<int64_t>()[static_cast<size_t>(image)];

  std::filesystem::create_directories(args.str("out"));
  const std::vector<std::vector<int64_t>> architectures = {{512, 512}, {512}, {256, 256}};
  fmt::print("Test image {}: true class {} ({})\n", image, true_label,
             class_names[static_cast<size_t>(true_label)]);
  struct Row {
    std::string name;
    double test_accuracy;
    double val_accuracy;
    int64_t predicted;
    double confidence;
    bool identical_after_reload;
  };
  std::vector<Row> rows;
  for (size_t m = 0; m < architectures.size(); ++m) {
    const std::string name = describe(architectures[m]);
    fmt::print("\n== Model {} (hidden {}) ==\n", m + 1, name);
    auto network = make_model(architectures[m], seed + 100 * (m + 1));
    train::Model model(network);
    model.compile(std::make_shared<optim::Adam>(std::vector<Tensor>{}), "categorical_crossentropy",
                  {"accuracy"});
    const train::History history = model.fit(x_train, y_train,
                                             {.epochs = args.integer("epochs"),
                                              .batch_size = args.integer("batch-size"),
                                              .validation_split = 0.05,
                                              .verbose = 2,
                                              .seed = seed + m});
    const double test_accuracy = model.evaluate(x_test, y_test, 1000).at("accuracy");

    const std::string path =
        (std::filesystem::path(args.str("out")) / ("model_" + name + ".safetensors")).string();
    nn::save_weights(*network, path);
    auto reloaded = make_model(architectures[m], 12345);  // different initial weights on purpose
    nn::load_weights(*reloaded, path);
    reloaded->eval();
    network->eval();
    const NoGradGuard no_grad;
    const Tensor before = (*network)(probe);
    const Tensor after = (*reloaded)(probe);
    const int64_t predicted = argmax(after, 1).item<int64_t>();
    rows.push_back({name, test_accuracy, history.values("val_accuracy").back(), predicted,
                    after.to_vector<double>()[static_cast<size_t>(predicted)],
                    before.to_vector<float>() == after.to_vector<float>()});
    fmt::print("saved {} and loaded it back into a fresh model\n", path);
  }

  fmt::print("\n{:<10} {:>9} {:>9}  {:<24} {:>10}  {}\n", "hidden", "val acc", "test acc",
             "prediction (image)", "confidence", "reload identical");
  for (const Row& row : rows) {
    fmt::print(
        "{:<10} {:>9.4f} {:>9.4f}  {:<24} {:>10.4f}  {}\n", row.name, row.val_accuracy,
        row.test_accuracy,
        fmt::format("{} ({})", row.predicted, class_names[static_cast<size_t>(row.predicted)]),
        row.confidence, row.identical_after_reload ? "yes" : "NO");
    if (!row.identical_after_reload)
      throw error("model {} predicts differently after reloading", row.name);
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "compare_models: {}\n", e.what());
  return 1;
}
