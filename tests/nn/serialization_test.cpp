// Tests for save_weights / load_weights: module state <-> safetensors files (the format itself is
// tested in tests/tensor/io/safetensors_test.cpp).
#include "nn/serialization.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/sequential.h"
#include "tensor/error.h"
#include "tests/support/scratch_files.h"

namespace nabla::nn {
namespace {

using nabla::testing::error_of;
using nabla::testing::read_bytes;
using nabla::testing::ScratchDir;
using nabla::testing::write_bytes;

// ---- module weights -------------------------------------------------------------------------

// Two parameters and an int64 buffer, like a small layer with a step counter.
class Tiny : public Module {
 public:
  explicit Tiny(double fill) {
    set_name("tiny");
    weight_ = register_parameter("weight", full({2, 3}, fill));
    bias_ = register_parameter("bias", full({3}, -fill));
    steps_ = register_buffer("steps", full({1}, fill, kInt64));
  }
  Tensor forward(const Tensor& input) override { return matmul(input, weight_) + bias_; }
  [[nodiscard]] std::string type_name() const override { return "Tiny"; }

 private:
  Tensor weight_;
  Tensor bias_;
  Tensor steps_;
};

// Creates its parameter only in build(), as layers that infer their input size do.
class Lazy : public Module {
 public:
  Lazy() { set_name("lazy"); }
  Shape build(const Shape& input_shape) override {
    weight_ = register_parameter("weight", ones({input_shape.back(), 2}));
    mark_built();
    return {input_shape.front(), 2};
  }
  Tensor forward(const Tensor& input) override { return matmul(input, weight_); }
  [[nodiscard]] std::string type_name() const override { return "Lazy"; }

 private:
  Tensor weight_;
};

std::vector<std::vector<double>> values_of(const Module& module) {
  std::vector<std::vector<double>> out;
  for (const auto& [name, t] : module.state()) out.push_back(t.to_vector<double>());
  return out;
}

TEST(Safetensors, SaveWeightsThenLoadWeightsRestoresTheModule) {
  ScratchDir dir;
  const std::string path = dir.file("tiny.safetensors");
  Tiny source(2.0);
  save_weights(source, path);
  std::map<std::string, std::string> metadata;
  EXPECT_EQ(load_safetensors(path, &metadata).size(), 3U);
  EXPECT_EQ(metadata.at("format"), "nabla");

  Tiny target(5.0);
  const Tensor weight = target.state()[0].second;
  load_weights(target, path);
  EXPECT_EQ(values_of(target), values_of(source));
  // Loaded in place: the same tensors, still trainable leaves with no graph attached.
  EXPECT_TRUE(target.state()[0].second.is_same(weight));
  EXPECT_TRUE(weight.requires_grad());
  EXPECT_TRUE(weight.is_leaf());
  EXPECT_EQ(target.state()[2].second.dtype(), kInt64);
}

// Writes a file whose tensors are those of Tiny(7) with `edit` applied.
std::string tiny_file(const ScratchDir& dir, const std::function<void(NamedTensors&)>& edit) {
  Tiny donor(7.0);
  NamedTensors state = donor.state();
  edit(state);
  std::string path = dir.file("edited.safetensors");
  save_safetensors(path, state);
  return path;
}

void erase_named(NamedTensors& state, const std::string& name) {
  std::erase_if(state, [&](const auto& entry) { return entry.first == name; });
}

void replace_named(NamedTensors& state, const std::string& name, const Tensor& value) {
  for (auto& entry : state) {
    if (entry.first == name) entry.second = value;
  }
}

TEST(Safetensors, LoadWeightsRejectsAMissingTensor) {
  ScratchDir dir;
  Tiny model(1.0);
  const std::string path = tiny_file(dir, [](NamedTensors& s) { erase_named(s, "bias"); });
  const std::string message = error_of([&] { load_weights(model, path); });
  EXPECT_CONTAINS(message, "load_weights: " + path);
  EXPECT_CONTAINS(message, "1 of the module's 3 tensors missing from the file: 'bias'");
  EXPECT_EQ(values_of(model), values_of(Tiny(1.0)));
}

TEST(Safetensors, LoadWeightsRejectsAShapeMismatch) {
  ScratchDir dir;
  Tiny model(1.0);
  const std::string path = tiny_file(dir, [](NamedTensors& s) {
    replace_named(s, "weight", ones({3, 2}));
  });
  EXPECT_CONTAINS(error_of([&] { load_weights(model, path); }),
                  "tensor 'weight': the module expects float32 [2, 3], the file has float32 "
                  "[3, 2]");
  EXPECT_EQ(values_of(model), values_of(Tiny(1.0)));
}

TEST(Safetensors, LoadWeightsRejectsADtypeMismatch) {
  ScratchDir dir;
  Tiny model(1.0);
  const std::string path =
      tiny_file(dir, [](NamedTensors& s) { replace_named(s, "steps", ones({1}, kFloat64)); });
  EXPECT_CONTAINS(error_of([&] { load_weights(model, path); }),
                  "tensor 'steps': the module expects int64 [1], the file has float64 [1]");
  EXPECT_EQ(values_of(model), values_of(Tiny(1.0)));
}

TEST(Safetensors, LoadWeightsRejectsExtraTensorsOnlyWhenStrict) {
  ScratchDir dir;
  Tiny model(1.0);
  const std::string path =
      tiny_file(dir, [](NamedTensors& s) { s.emplace_back("head.kernel", ones({4})); });
  const std::string message = error_of([&] { load_weights(model, path); });
  EXPECT_CONTAINS(message, "the file has 1 tensors the module lacks: 'head.kernel'");
  EXPECT_CONTAINS(message, "strict = false");
  EXPECT_EQ(values_of(model), values_of(Tiny(1.0)));

  load_weights(model, path, /*strict=*/false);
  EXPECT_EQ(values_of(model), values_of(Tiny(7.0)));
}

// The property the staged load exists for: a file that is right for the first tensors and wrong
// for the last must not leave a half-loaded model, and neither must a corrupt file.
TEST(Safetensors, AFailedLoadLeavesTheModelUntouched) {
  ScratchDir dir;
  Tiny model(1.0);
  const std::vector<std::vector<double>> before = values_of(model);
  std::vector<uint64_t> versions;
  for (const auto& [name, t] : model.state()) versions.push_back(t.version());

  const std::string last_bad =
      tiny_file(dir, [](NamedTensors& s) { replace_named(s, "steps", ones({2}, kInt64)); });
  EXPECT_CONTAINS(error_of([&] { load_weights(model, last_bad); }), "steps");

  const std::string corrupt = dir.file("corrupt.safetensors");
  save_weights(Tiny(7.0), corrupt);
  std::string bytes = read_bytes(corrupt);
  bytes.pop_back();
  write_bytes(corrupt, bytes);
  EXPECT_CONTAINS(error_of([&] { load_weights(model, corrupt); }), "truncated");

  EXPECT_EQ(values_of(model), before);
  std::vector<uint64_t> versions_after;
  for (const auto& [name, t] : model.state()) versions_after.push_back(t.version());
  EXPECT_EQ(versions_after, versions);  // not even rewritten with the same values
}

TEST(Safetensors, UnbuiltLazyModulesAskForBuild) {
  ScratchDir dir;
  const std::string path = dir.file("lazy.safetensors");
  Lazy unbuilt;
  EXPECT_CONTAINS(error_of([&] { save_weights(unbuilt, path); }), "build(input_shape)");

  Lazy built;
  (void)built.build({1, 3});
  save_weights(built, path);
  EXPECT_CONTAINS(error_of([&] { load_weights(unbuilt, path); }),
                  "the file has 1 tensors but the module has no parameters or buffers yet");
  EXPECT_CONTAINS(error_of([&] { load_weights(unbuilt, path); }), "build(input_shape)");

  (void)unbuilt.build({1, 3});
  load_weights(unbuilt, path);
  EXPECT_EQ(values_of(unbuilt), values_of(built));
}

// The first Dense knows its input size, the second learns it at the first call: until then a
// save would silently leave the second layer out, and a load would fill only the first.
TEST(Safetensors, PartlyBuiltModelsAreRefusedNotHalfSavedOrHalfLoaded) {
  ScratchDir dir;
  const std::string path = dir.file("partly.safetensors");
  reset_layer_names();
  Sequential partly;
  partly.add<Dense>(4, DenseOptions{.input_dim = 3}).add<Dense>(2);
  ASSERT_EQ(partly.state().size(), 2U);  // the first layer's kernel and bias only
  EXPECT_EQ(partly.layers_with_pending_weights(), std::vector<std::string>{"1 (dense_1)"});
  const std::string save_error = error_of([&] { save_weights(partly, path); });
  EXPECT_CONTAINS(save_error, "save_weights");
  EXPECT_CONTAINS(save_error, "layer 1 (dense_1) has not created its weights yet");
  EXPECT_CONTAINS(save_error, "build(input_shape)");
  EXPECT_FALSE(std::filesystem::exists(path));

  reset_layer_names();
  Sequential full;
  full.add<Dense>(4, DenseOptions{.input_dim = 3}).add<Dense>(2);
  (void)full.build({1, 3});
  EXPECT_TRUE(full.layers_with_pending_weights().empty());
  save_weights(full, path);
  const auto before = values_of(partly);
  EXPECT_CONTAINS(error_of([&] { load_weights(partly, path); }),
                  "load_weights: " + path + ": layer 1 (dense_1) has not created its weights yet");
  EXPECT_EQ(values_of(partly), before);

  auto inner = std::make_shared<Sequential>();
  inner->add<Dense>(2);
  Sequential nested;
  nested.add(inner).add<Dense>(3);
  EXPECT_EQ(nested.layers_with_pending_weights(),
            (std::vector<std::string>{"0.0 (dense_2)", "1 (dense_3)"}));
  EXPECT_CONTAINS(error_of([&] { save_weights(nested, path); }),
                  "layers 0.0 (dense_2), 1 (dense_3) have not created their weights yet");
}

}  // namespace
}  // namespace nabla::nn