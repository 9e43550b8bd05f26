// Embedding: lookups of any index shape, accumulated gradients of repeated indices, errors.
#include "nn/embedding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/nn/golden_support.h"
#include "tests/nn/layer_goldens.h"
#include "tests/support/gradcheck_support.h"
#include "tests/support/test_helpers.h"

namespace nabla::nn {
namespace {

using testing::expect_error_containing;
using testing::expect_gradcheck;

TEST(Embedding, TableHasKerasNameShapeAndDefaultInit) {
  reset_layer_names();
  Embedding embedding(10, 4);
  EXPECT_EQ(embedding.name(), "embedding");
  EXPECT_EQ(embedding.type_name(), "Embedding");
  ASSERT_EQ(embedding.named_parameters().size(), 1U);
  EXPECT_EQ(embedding.named_parameters()[0].first, "embeddings");
  EXPECT_EQ(embedding.embeddings().shape(), (Shape{10, 4}));
  EXPECT_EQ(embedding.trainable_parameter_count(), 40);
  for (const float v : embedding.embeddings().to_vector<float>()) EXPECT_LE(std::abs(v), 0.05F);
}

TEST(Embedding, LooksUpRowsForIndicesOfAnyShape) {
  Embedding embedding(6, 3, {.seed = 4, .dtype = kFloat64});
  const std::vector<double> table = embedding.embeddings().to_vector<double>();
  for (const Shape& shape : {Shape{}, Shape{5}, Shape{2, 3}, Shape{2, 1, 2}, Shape{0, 4}}) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < shape_numel(shape); ++i) idx.push_back((i * 5 + 1) % 6);
    const Tensor out = embedding(tensor(idx, shape));
    Shape expected = shape;
    expected.push_back(3);
    ASSERT_EQ(out.shape(), expected);
    const std::vector<double> got = out.to_vector<double>();
    for (size_t i = 0; i < idx.size(); ++i) {
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(got[i * 3 + k], table[static_cast<size_t>(idx[i]) * 3 + k]);
      }
    }
  }
  EXPECT_EQ(embedding.build({8, 5}), (Shape{8, 5, 3}));
}

TEST(Embedding, AcceptsWholeFloatIndicesAsKerasCasts) {
  Embedding embedding(4, 2, {.dtype = kFloat64});
  const Tensor from_float = embedding(tensor({{3.0, 0.0}}, kFloat32));
  const Tensor from_int = embedding(tensor(std::vector<int64_t>{3, 0}, {1, 2}));
  EXPECT_EQ(from_float.to_vector<double>(), from_int.to_vector<double>());
  expect_error_containing([&] { (void)embedding(tensor({{1.5}}, kFloat32)); },
                          "Embedding: index 1.5");
}

TEST(Embedding, RepeatedIndicesAccumulateTheirGradients) {
  Embedding embedding(5, 2, {.dtype = kFloat64});
  const std::vector<int64_t> idx = {1, 3, 1, 1, 0, 3};
  const Tensor weights =
      tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}, {7.0, 8.0}, {9.0, 10.0}, {11.0, 12.0}}, kFloat64)
          .reshape({2, 3, 2});
  (embedding(tensor(idx, {2, 3})) * weights).sum().backward();
  std::vector<double> expected(10, 0.0);
  const std::vector<double> w = weights.to_vector<double>();
  for (size_t i = 0; i < idx.size(); ++i) {
    for (size_t k = 0; k < 2; ++k) expected[static_cast<size_t>(idx[i]) * 2 + k] += w[i * 2 + k];
  }
  EXPECT_EQ(embedding.embeddings().grad().to_vector<double>(), expected);
}

TEST(Embedding, Gradcheck) {
  Embedding embedding(4, 3, {.seed = 2, .dtype = kFloat64});
  const Tensor idx = tensor(std::vector<int64_t>{2, 0, 2, 3, 3, 2}, {3, 2});
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return embedding(in[0]) * embedding(in[0]); },
      {idx, embedding.embeddings()}, "Embedding repeated");
  const Tensor single = tensor(std::vector<int64_t>{1}, {1});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return embedding(in[0]); },
                   {single, embedding.embeddings()}, "Embedding size-1");
}

TEST(Embedding, OutOfRangeIndexNamesTheIndexAndTableSize) {
  Embedding embedding(5, 2);
  expect_error_containing(
      [&] {
        (void)embedding(tensor(std::vector<int64_t>{0, 7, 1}, {3}));
      },
      "Embedding: index 7 (at flat position 1 of the input of shape [3]) is out of range for a "
      "table of size 5");
  expect_error_containing([&] { (void)embedding(tensor(std::vector<int64_t>{-1}, {1})); },
                          "index -1");
  expect_error_containing([] { Embedding bad(0, 3); }, "input_dim must be positive");
  expect_error_containing([] { Embedding bad(3, 2, {.embeddings_initializer = "nope"}); },
                          "unknown initializer 'nope'");
}

TEST(Embedding, MatchesPyTorchGoldens) {
  using namespace goldens;  // NOLINT(google-build-using-namespace)
  Embedding embedding(7, 3, {.dtype = kFloat64});
  testing::assign(embedding.embeddings(), pattern({7, 3}, 0, 100.0));
  const Tensor idx =
      tensor(std::vector<int64_t>(kEmbeddingIndices.begin(), kEmbeddingIndices.end()), {2, 4});
  const Tensor out = embedding(idx);
  (out * pattern_tensor({2, 4, 3}, 1, 50.0)).sum().backward();
  expect_close(out, kEmbeddingOutput, "Embedding output");
  expect_close(embedding.embeddings().grad(), kEmbeddingTableGrad, "Embedding table grad");
}

}  // namespace
}  // namespace nabla::nn
