// Embedding: a trainable lookup table from int64 indices to dense vectors (Keras's Embedding).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nn/module.h"

namespace nabla::nn {

struct EmbeddingOptions {
  // Keras's default "uniform": uniform in [-0.05, 0.05].
  std::string embeddings_initializer = "uniform";
  // Seeds the initializer; absent means nabla::default_generator().
  std::optional<uint64_t> seed = std::nullopt;
  DType dtype = kFloat32;
};

// indices [...] (int64, any shape; float tensors holding whole numbers are accepted, as Keras casts
// them) -> embeddings[indices] of shape [..., output_dim]. The table `embeddings` is
// [input_dim, output_dim]. The lookup is index_select, whose derivative index_add sums the
// gradients of repeated indices. An index outside [0, input_dim) is an error naming it.
class Embedding : public Module {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options = {});

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Embedding"; }

  [[nodiscard]] int64_t input_dim() const { return input_dim_; }
  [[nodiscard]] int64_t output_dim() const { return output_dim_; }
  [[nodiscard]] const Tensor& embeddings() const { return embeddings_; }
  [[nodiscard]] const EmbeddingOptions& options() const { return options_; }

 private:
  int64_t input_dim_;
  int64_t output_dim_;
  EmbeddingOptions options_;
  Tensor embeddings_;
};

}  // namespace nabla::nn
