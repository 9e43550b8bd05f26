// libFuzzer target for the safetensors loader: parse_safetensors on the input bytes; when they
// parse, load_safetensors must read the same tensors from them as a file, and load_weights must
// either fill a small module or leave it untouched. Bad input must throw nabla::Error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "fuzz_support.h"
#include "nn/module.h"
#include "nn/serialization.h"
#include "tensor/tensor.h"

namespace {

// The tensors a seed file (tests/fuzz/make_corpus.py) names: weight F32 [2, 3], bias F32 [3],
// steps I64 [1].
class Tiny : public nabla::nn::Module {
 public:
  Tiny() {
    weight_ = register_parameter("weight", nabla::full({2, 3}, 0.5));
    bias_ = register_parameter("bias", nabla::full({3}, -0.5));
    steps_ = register_buffer("steps", nabla::full({1}, 7, nabla::kInt64));
  }
  nabla::Tensor forward(const nabla::Tensor& input) override {
    return nabla::matmul(input, weight_) + bias_;
  }
  [[nodiscard]] std::string type_name() const override { return "Tiny"; }

 private:
  nabla::Tensor weight_;
  nabla::Tensor bias_;
  nabla::Tensor steps_;
};

bool same_bytes(const nabla::Tensor& a, const nabla::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t nbytes = static_cast<size_t>(a.numel()) * nabla::dtype_size(a.dtype());
  return nbytes == 0 || std::memcmp(a.raw_data(), b.raw_data(), nbytes) == 0;
}

std::vector<std::vector<uint8_t>> snapshot(const nabla::nn::Module& module) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& [name, t] : module.state()) {
    const auto* p = static_cast<const uint8_t*>(t.raw_data());
    out.emplace_back(p, p + static_cast<size_t>(t.numel()) * nabla::dtype_size(t.dtype()));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nabla::nn::NamedTensors;
  std::map<std::string, std::string> metadata;
  NamedTensors parsed;
  if (!nabla_fuzz::accepts([&] {
        parsed = nabla::nn::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz input",
                                              &metadata);
      })) {
    return 0;
  }
  for (const auto& [name, t] : parsed) {
    NABLA_FUZZ_CHECK(!name.empty() && t.defined() && t.is_contiguous());
  }

  const std::string path = nabla_fuzz::scratch().write("input.safetensors", data, size);
  std::map<std::string, std::string> file_metadata;
  NamedTensors loaded;
  NABLA_FUZZ_CHECK(
      nabla_fuzz::accepts([&] { loaded = nabla::nn::load_safetensors(path, &file_metadata); }));
  NABLA_FUZZ_CHECK(loaded.size() == parsed.size() && file_metadata == metadata);
  for (size_t i = 0; i < loaded.size(); ++i) {
    NABLA_FUZZ_CHECK(loaded[i].first == parsed[i].first);
    NABLA_FUZZ_CHECK(same_bytes(loaded[i].second, parsed[i].second));
  }

  for (const bool strict : {true, false}) {
    Tiny module;
    const auto before = snapshot(module);
    if (!nabla_fuzz::accepts([&] { nabla::nn::load_weights(module, path, strict); })) {
      NABLA_FUZZ_CHECK(snapshot(module) == before);  // a failed load changes nothing
    }
  }
  return 0;
}
