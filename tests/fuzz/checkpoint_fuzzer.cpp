// libFuzzer target for train::Model::load_checkpoint: the input bytes as a checkpoint file for a
// small compiled model (Dense, Dropout, Dense; SGD with momentum). Bad input must throw
// nabla::Error and leave the weights, the optimizer and the generators as they were.
// NABLA_WRITE_CHECKPOINT_SEED=DIR makes the target write a valid seed (after one epoch) to DIR.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "nn/layers.h"
#include "nn/sequential.h"
#include "optim/sgd.h"
#include "tensor/random.h"
#include "train/model.h"

namespace {

struct Fixture {
  std::shared_ptr<nabla::nn::Sequential> network;
  std::unique_ptr<nabla::train::Model> model;
};

Fixture make_fixture() {
  Fixture f;
  f.network = std::make_shared<nabla::nn::Sequential>();
  f.network->add<nabla::nn::Dense>(3, nabla::nn::DenseOptions{.input_dim = 2, .seed = 1});
  f.network->add<nabla::nn::Dropout>(0.5, 2);
  f.network->add<nabla::nn::Dense>(1, nabla::nn::DenseOptions{.input_dim = 3, .seed = 3});
  f.model = std::make_unique<nabla::train::Model>(f.network);
  f.model->compile(std::make_shared<nabla::optim::SGD>(f.network->parameters(),
                                                       nabla::optim::SgdOptions{.momentum = 0.9}),
                   "mse");
  return f;
}

std::vector<uint8_t> bytes_of(const nabla::nn::Module& module) {
  std::vector<uint8_t> out;
  for (const auto& [name, t] : module.state()) {
    const auto* p = static_cast<const uint8_t*>(t.raw_data());
    out.insert(out.end(), p, p + static_cast<size_t>(t.numel()) * nabla::dtype_size(t.dtype()));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool kSeeded = [] {
    if (const char* dir = std::getenv("NABLA_WRITE_CHECKPOINT_SEED")) {
      Fixture f = make_fixture();
      nabla::Generator generator(4);
      const nabla::Tensor x = nabla::randn({6, 2}, nabla::kFloat32, &generator);
      const nabla::Tensor y = nabla::randn({6, 1}, nabla::kFloat32, &generator);
      (void)f.model->fit(x, y, {.epochs = 1, .batch_size = 4, .verbose = 0});
      f.model->save_checkpoint(std::string(dir) + "/valid.safetensors");
    }
    return true;
  }();
  (void)kSeeded;
  const std::string path = nabla_fuzz::scratch().write("input.safetensors", data, size);
  Fixture f = make_fixture();
  const std::vector<uint8_t> weights = bytes_of(*f.network);
  const auto generator_state = nabla::default_generator().get_state();
  if (!nabla_fuzz::accepts([&] { (void)f.model->load_checkpoint(path); })) {
    NABLA_FUZZ_CHECK(bytes_of(*f.network) == weights);
    NABLA_FUZZ_CHECK(f.model->optimizer().iterations() == 0);
    NABLA_FUZZ_CHECK(!f.model->optimizer().state(0, "momentum_buffer").defined());
    NABLA_FUZZ_CHECK(nabla::default_generator().get_state() == generator_state);
  }
  return 0;
}
