// A Keras-style sequence model on a synthetic task: does token 1 come before token 2? Embedding,
// Bidirectional(LSTM) and GRU read the token sequence, Dense(1, sigmoid) answers; Adam,
// binary cross-entropy, accuracy and AUC. The order matters, so a bag of tokens cannot solve it.
#include "examples/common.h"
#include "nabla.h"

namespace {

struct Split {
  nabla::Tensor tokens;  // int64 [samples, steps], values in [0, vocabulary)
  nabla::Tensor labels;  // float32 [samples, 1]: 1 when token 1 precedes token 2
};

// Random tokens from [3, vocabulary) with one 1 and one 2 put at two distinct random positions.
Split make_split(int64_t samples, int64_t steps, int64_t vocabulary, nabla::Generator& generator) {
  using nabla::Tensor;
  const std::vector<int64_t> filler =
      nabla::randint(3, vocabulary, {samples, steps}, &generator).to_vector<int64_t>();
  const std::vector<int64_t> first =
      nabla::randint(0, steps, {samples}, &generator).to_vector<int64_t>();
  const std::vector<int64_t> second =
      nabla::randint(0, steps - 1, {samples}, &generator).to_vector<int64_t>();
  std::vector<int64_t> tokens = filler;
  std::vector<double> labels;
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t p1 = first[static_cast<size_t>(i)];
    int64_t p2 = second[static_cast<size_t>(i)];
    if (p2 >= p1) ++p2;  // distinct from p1
    tokens[static_cast<size_t>(i * steps + p1)] = 1;
    tokens[static_cast<size_t>(i * steps + p2)] = 2;
    labels.push_back(p1 < p2 ? 1.0 : 0.0);
  }
  return {nabla::tensor(tokens, {samples, steps}), nabla::tensor(labels, {samples, 1})};
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace nabla;
  const examples::Args args(argc, argv,
                            {{"samples", "3000"},
                             {"steps", "12"},
                             {"epochs", "3"},
                             {"batch-size", "32"},
                             {"seed", "0"},
                             {"min-accuracy", "0"}},
                            "sequence: Embedding + Bidirectional(LSTM) + GRU on token order "
                            "(--min-accuracy: exit 2 below it)");
  const auto seed = static_cast<uint64_t>(args.integer("seed"));
  manual_seed(seed);
  const int64_t vocabulary = 10;
  const int64_t steps = args.integer("steps");
  if (steps < 2) throw error("sequence: --steps must be at least 2, got {}", steps);
  Generator generator(seed + 1);
  const Split train_split = make_split(args.integer("samples"), steps, vocabulary, generator);
  const Split test_split = make_split(1000, steps, vocabulary, generator);

  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Embedding>(vocabulary, 8);
  network->add<nn::Bidirectional>(
      std::make_shared<nn::LSTM>(16, nn::RecurrentOptions{.return_sequences = true}));
  network->add<nn::GRU>(16);
  network->add<nn::Dense>(1, nn::DenseOptions{.activation = "sigmoid"});
  fmt::print("{}\n", network->summary({steps}));

  train::Model model(network);
  model.compile(std::make_shared<optim::Adam>(std::vector<Tensor>{},
                                              optim::AdamOptions{.learning_rate = 3e-3}),
                "binary_crossentropy", {"accuracy", "auc"});
  model.fit(train_split.tokens, train_split.labels,
            {.epochs = args.integer("epochs"),
             .batch_size = args.integer("batch-size"),
             .verbose = 2,
             .seed = seed});
  const train::Logs score = model.evaluate(test_split.tokens, test_split.labels, 250);
  fmt::print("Test loss: {:.4f}\nTest accuracy: {:.4f}\n", score.at("loss"), score.at("accuracy"));
  // The labels are balanced and depend only on the order of two tokens: a model that ignores
  // order (a broken recurrence, a bag of tokens) stays near 0.5.
  if (score.at("accuracy") < args.real("min-accuracy")) {
    fmt::print(stderr, "sequence: test accuracy {:.4f} is below --min-accuracy {}\n",
               score.at("accuracy"), args.real("min-accuracy"));
    return 2;
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "sequence: {}\n", e.what());
  return 1;
}
