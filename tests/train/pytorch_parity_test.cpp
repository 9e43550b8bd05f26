// End-to-end parity with PyTorch: two small models trained by Model::fit from the same data and
// weights as tests/train/pytorch_parity_goldens.py, which wrote the reference losses and final
// parameter norms below with PyTorch 1.13. Matching them step for step checks Dense, Conv2D
// ("valid" and "same" padding), MaxPooling2D (with an uncovered row), the activations, both
// cross-entropies, RMSprop, Adam and fit's batching together, not each against itself.
#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "nabla.h"

namespace nabla::train {
namespace {

// Written by tests/train/pytorch_parity_goldens.py with PyTorch 1.13.0a0.
constexpr std::array<double, 32> kMlpRmspropLosses = {
    2.30132866, 2.30175972, 2.2972312,  2.30855966, 2.29513025, 2.2974031,  2.29613352, 2.3035605,
    2.28843212, 2.29369259, 2.29019117, 2.30019689, 2.28635049, 2.29089618, 2.28972769, 2.29412818,
    2.27981639, 2.28742886, 2.2840085,  2.29283667, 2.27797937, 2.28412819, 2.28306222, 2.28454232,
    2.27071238, 2.28046632, 2.27696753, 2.28468847, 2.26852298, 2.27632141, 2.27520013, 2.27435422};
constexpr std::array<double, 4> kMlpRmspropParameterNorms = {1.3232801, 0.00294837728, 0.717800438,
                                                             0.000352561765};
constexpr std::array<double, 9> kCnnAdamLosses = {1.0979588,  1.10503173, 1.10420549,
                                                  1.09170651, 1.10344172, 1.10469592,
                                                  1.09160733, 1.10285389, 1.10407639};
constexpr std::array<double, 8> kCnnAdamParameterNorms = {
    0.152356833, 0.00522443419, 0.424885362,  0.00614297763,
    0.244584814, 0.00683871191, 0.0675795525, 0.000453119021};

// ((k * 7919 + salt * 131) % 211 - 105) / scale over the flat index k, rounded to float32 from the
// same double on both sides, so both frameworks start from identical bits.
Tensor pattern(const Shape& shape, int64_t salt, double scale) {
  const int64_t n = shape_numel(shape);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    values[static_cast<size_t>(k)] =
        static_cast<double>((k * 7919 + salt * 131) % 211 - 105) / scale;
  }
  return tensor(values, shape, kFloat32);
}

// x[i, j] = ((i * 131 + j * 71) % 256) / 255.
Tensor inputs(int64_t samples, int64_t features) {
  std::vector<double> values;
  for (int64_t i = 0; i < samples; ++i) {
    for (int64_t j = 0; j < features; ++j)
      values.push_back(static_cast<double>((i * 131 + j * 71) % 256) / 255.0);
  }
  return tensor(values, {samples, features}, kFloat32);
}

// y[i] = ((i * 131) % 256 * classes) / 256: the class follows x[i, 0].
Tensor labels(int64_t samples, int64_t classes) {
  std::vector<int64_t> values;
  for (int64_t i = 0; i < samples; ++i) values.push_back((i * 131) % 256 * classes / 256);
  return tensor(values, {samples});
}

// Overwrites the parameters, in registration order, with the script's patterns: parameter p gets
// salt p, kernels (even p) scale 1000 and biases (odd p) scale 10000.
void set_pattern_weights(nn::Module& network) {
  const NoGradGuard no_grad;
  int64_t salt = 0;
  for (auto& [name, parameter] : network.named_parameters()) {
    parameter.copy_(pattern(parameter.shape(), salt, salt % 2 == 0 ? 1000.0 : 10000.0));
    ++salt;
  }
}

class LossRecorder : public Callback {
 public:
  void on_batch_end(Model& /*model*/, int64_t /*batch*/, const Logs& logs) override {
    losses.push_back(logs.at("loss"));
  }
  std::vector<double> losses;
};

template <size_t Steps, size_t Parameters>
void expect_matches_reference(const std::vector<double>& losses, const nn::Module& network,
                              const std::array<double, Steps>& reference_losses,
                              const std::array<double, Parameters>& reference_norms) {
  ASSERT_EQ(losses.size(), Steps);
  for (size_t step = 0; step < Steps; ++step) {
    EXPECT_NEAR(losses[step], reference_losses[step], 1e-5 * std::abs(reference_losses[step]))
        << "step " << step;
  }
  const auto parameters = network.named_parameters();
  ASSERT_EQ(parameters.size(), Parameters);
  for (size_t p = 0; p < Parameters; ++p) {
    const double norm = sum(square(parameters[p].second)).item<double>();
    EXPECT_NEAR(norm, reference_norms[p], 1e-5 * reference_norms[p]) << parameters[p].first;
  }
}

TEST(PytorchParity, DenseSoftmaxWithRmspropMatchesStepForStep) {
  constexpr int64_t kSamples = 250;
  constexpr int64_t kFeatures = 20;
  constexpr int64_t kClasses = 10;
  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(16, nn::DenseOptions{.activation = "relu"});
  network->add<nn::Dense>(kClasses, nn::DenseOptions{.activation = "softmax"});
  network->build({1, kFeatures});
  set_pattern_weights(*network);

  Model model(network);
  model.compile(std::make_shared<optim::RMSprop>(std::vector<Tensor>{}), "categorical_crossentropy",
                {"accuracy"});
  auto recorder = std::make_shared<LossRecorder>();
  model.fit(
      inputs(kSamples, kFeatures), data::to_categorical(labels(kSamples, kClasses), kClasses),
      {.epochs = 4, .batch_size = 32, .shuffle = false, .callbacks = {recorder}, .verbose = 0});
  expect_matches_reference(recorder->losses, *network, kMlpRmspropLosses,
                           kMlpRmspropParameterNorms);
}

TEST(PytorchParity, ConvPoolDenseWithAdamMatchesStepForStep) {
  constexpr int64_t kSamples = 40;
  constexpr int64_t kClasses = 3;
  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Conv2D>(4, 3, nn::Conv2DOptions{.activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<nn::Conv2D>(6, 2, nn::Conv2DOptions{.padding = "same", .activation = "relu"})
      .add<nn::MaxPooling2D>(2)
      .add<nn::Flatten>()
      .add<nn::Dense>(8, nn::DenseOptions{.activation = "relu"})
      .add<nn::Dense>(kClasses);
  network->build({1, 1, 8, 8});
  set_pattern_weights(*network);

  Model model(network);
  model.compile(std::make_shared<optim::Adam>(std::vector<Tensor>{},
                                              optim::AdamOptions{.learning_rate = 1e-2}),
                loss_by_name("sparse_categorical_crossentropy", /*from_logits=*/true), {});
  auto recorder = std::make_shared<LossRecorder>();
  model.fit(
      inputs(kSamples, 64).reshape({kSamples, 1, 8, 8}), labels(kSamples, kClasses),
      {.epochs = 3, .batch_size = 16, .shuffle = false, .callbacks = {recorder}, .verbose = 0});
  expect_matches_reference(recorder->losses, *network, kCnnAdamLosses, kCnnAdamParameterNorms);
}

}  // namespace
}  // namespace nabla::train
