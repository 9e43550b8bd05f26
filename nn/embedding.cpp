// Embedding: index_select rows of the table, checked indices first.
#include "nn/embedding.h"

#include <cmath>
#include <vector>

#include "nn/init.h"
#include "nn/layer_util.h"

namespace nabla::nn {

Embedding::Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options)
    : input_dim_(input_dim), output_dim_(output_dim), options_(std::move(options)) {
  if (input_dim_ < 1) throw error("Embedding: input_dim must be positive, got {}", input_dim_);
  if (output_dim_ < 1) throw error("Embedding: output_dim must be positive, got {}", output_dim_);
  init::check_known("Embedding: embeddings_initializer", options_.embeddings_initializer);
  detail::check_float_dtype("Embedding", options_.dtype);
  set_name(unique_layer_name("Embedding"));
  Generator seeded(options_.seed.value_or(0));
  embeddings_ = register_parameter(
      "embeddings", init::initialized(options_.embeddings_initializer, {input_dim_, output_dim_},
                                      options_.dtype, options_.seed ? &seeded : nullptr));
  mark_built();
}

Shape Embedding::build(const Shape& input_shape) {
  Shape out = input_shape;
  out.push_back(output_dim_);
  return out;
}

Tensor Embedding::forward(const Tensor& input) {
  // The flat int64 indices, each checked against the table.
  std::vector<int64_t> indices;
  if (input.dtype() == kInt64) {
    indices = input.to_vector<int64_t>();
  } else if (input.is_floating_point()) {
    for (const double v : input.to_vector<double>()) {
      if (v != std::floor(v) || std::abs(v) > 9.0e15) {
        throw error("Embedding: index {} of the input of shape {} is not a whole number", v,
                    shape_str(input.shape()));
      }
      indices.push_back(static_cast<int64_t>(v));
    }
  } else {
    throw error("Embedding: indices must be int64 (or whole floats), got {}",
                dtype_name(input.dtype()));
  }
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= input_dim_) {
      throw error(
          "Embedding: index {} (at flat position {} of the input of shape {}) is out of range for "
          "a table of size {} (input_dim)",
          indices[i], i, shape_str(input.shape()), input_dim_);
    }
  }
  const auto count = static_cast<int64_t>(indices.size());
  const Tensor rows = index_select(embeddings_, 0, tensor(indices, {count}));
  return reshape(rows, build(input.shape()));
}

}  // namespace nabla::nn
