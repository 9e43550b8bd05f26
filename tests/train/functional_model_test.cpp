// train::Model around functional networks: one input and output like a Sequential, and several
// inputs and outputs through fit, evaluate and predict.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla::train {
namespace {

using nn::Dense;
using nn::DenseOptions;
using nn::Functional;
using nn::Input;
using nn::Module;
using nn::Sequential;

TEST(Functional, TrainsThroughModelFitLikeTheSameSequential) {
  manual_seed(7);
  const Tensor x = randn({64, 5});
  const Tensor y = (sum(x, {1}, true) > 0.0).to(kFloat32);

  auto sequential = std::make_shared<Sequential>();
  sequential->add<Dense>(8, DenseOptions{.activation = "relu", .seed = 11})
      .add<Dense>(1, DenseOptions{.activation = "sigmoid", .seed = 12});
  const auto input = Input({5});
  const auto hidden = std::make_shared<Dense>(8, DenseOptions{.activation = "relu", .seed = 11});
  const auto output = std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid", .seed = 12});
  auto functional = std::make_shared<Functional>(input, output->call(hidden->call(input)));

  std::vector<double> final_losses;
  for (const std::shared_ptr<Module>& network :
       std::vector<std::shared_ptr<Module>>{sequential, functional}) {
    Model model(network);
    model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{},
                                               optim::SgdOptions{.learning_rate = 0.1}),
                  "binary_crossentropy", {"accuracy"});
    const History history =
        model.fit(x, y, FitOptions{.epochs = 3, .batch_size = 16, .verbose = 0, .seed = 5});
    final_losses.push_back(history.values("loss").back());
  }
  EXPECT_EQ(final_losses[0], final_losses[1]);
  const auto seq = sequential->parameters();
  const auto fun = functional->parameters();
  ASSERT_EQ(seq.size(), fun.size());
  for (size_t i = 0; i < seq.size(); ++i) {
    EXPECT_EQ(seq[i].to_vector<float>(), fun[i].to_vector<float>()) << "parameter " << i;
  }
}

}  // namespace
}  // namespace nabla::train
