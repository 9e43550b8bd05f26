// Dense, Flatten, Dropout, BatchNormalization and LayerNormalization.
#include "nn/layers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/activations.h"
#include "nn/init.h"
#include "nn/layer_util.h"

namespace nabla::nn {
namespace {

// `axis` of an input of `shape` as a dim in [1, rank): a normalization never runs over the batch.
int64_t feature_axis(const char* who, int64_t axis, const Shape& shape) {
  const auto rank = static_cast<int64_t>(shape.size());
  if (axis < -rank || axis >= rank) {
    throw error("{}: axis {} is out of range for input of shape {}", who, axis, shape_str(shape));
  }
  const int64_t d = axis < 0 ? axis + rank : axis;
  if (d == 0) {
    throw error("{}: axis {} is the batch dim of input of shape {}", who, axis, shape_str(shape));
  }
  return d;
}

}  // namespace

// ---- Dense ----

Dense::Dense(int64_t units, DenseOptions options) : units_(units), options_(std::move(options)) {
  if (units_ < 1) throw error("Dense: units must be positive, got {}", units_);
  check_activation("Dense", options_.activation);
  init::check_known("Dense: kernel_initializer", options_.kernel_initializer);
  init::check_known("Dense: bias_initializer", options_.bias_initializer);
  detail::check_float_dtype("Dense", options_.dtype);
  set_name(unique_layer_name("Dense"));
  if (options_.input_shape) {
    const Shape& shape = *options_.input_shape;
    if (shape.empty()) throw error("Dense: input_shape must have at least one dim, got []");
    for (const int64_t extent : shape) {
      if (extent < 1) {
        throw error("Dense: input_shape must have positive extents, got {}", shape_str(shape));
      }
    }
    if (options_.input_dim && *options_.input_dim != shape.back()) {
      throw error("Dense: input_dim {} disagrees with input_shape {} (whose last extent is {})",
                  *options_.input_dim, shape_str(shape), shape.back());
    }
    options_.input_dim = shape.back();
    declare_input_shape(shape);
  } else if (options_.input_dim && *options_.input_dim >= 1) {
    declare_input_shape({*options_.input_dim});
  }
  if (options_.input_dim) {
    if (*options_.input_dim < 1) {
      throw error("Dense: input_dim must be positive, got {}", *options_.input_dim);
    }
    create_parameters(*options_.input_dim);
  }
}

void Dense::create_parameters(int64_t input_dim) {
  Generator seeded(options_.seed.value_or(0));
  Generator* generator = options_.seed ? &seeded : nullptr;
  kernel_ = register_parameter(
      "kernel", init::initialized(options_.kernel_initializer, {input_dim, units_}, options_.dtype,
                                  generator));
  if (options_.use_bias) {
    bias_ = register_parameter(
        "bias", init::initialized(options_.bias_initializer, {units_}, options_.dtype, generator));
  }
  input_dim_ = input_dim;
  mark_built();
}

void Dense::check_input_shape(const Shape& shape) const {
  if (shape.size() < 2) {
    throw error("Dense: input of shape {} needs at least 2 dims (batch, ..., features)",
                shape_str(shape));
  }
  if (input_dim_ && shape.back() != *input_dim_) {
    throw error("Dense: input of shape {} has {} features, expected {}", shape_str(shape),
                shape.back(), *input_dim_);
  }
}

Shape Dense::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  if (!input_dim_) {
    if (input_shape.back() < 1) {
      throw error("Dense: input of shape {} has no features", shape_str(input_shape));
    }
    create_parameters(input_shape.back());
  }
  Shape output = input_shape;
  output.back() = units_;
  return output;
}

Tensor Dense::forward(const Tensor& input) {
  build(input.shape());
  detail::check_input_dtype("Dense", input, options_.dtype);
  Tensor y = matmul(input, kernel_);
  if (bias_.defined()) y = y + bias_;
  return apply_activation(options_.activation, y);
}

// ---- Flatten ----

Flatten::Flatten(std::optional<Shape> input_shape) {
  set_name(unique_layer_name("Flatten"));
  if (input_shape) {
    for (const int64_t extent : *input_shape) {
      if (extent < 0) {
        throw error("Flatten: input_shape must have non-negative extents, got {}",
                    shape_str(*input_shape));
      }
    }
    declare_input_shape(*input_shape);
  }
}

Shape Flatten::build(const Shape& input_shape) {
  if (input_shape.empty()) {
    throw error("Flatten: input of shape {} has no batch dim", shape_str(input_shape));
  }
  mark_built();
  int64_t features = 1;
  for (size_t d = 1; d < input_shape.size(); ++d) features *= input_shape[d];
  return {input_shape[0], features};
}

Tensor Flatten::forward(const Tensor& input) { return reshape(input, build(input.shape())); }

// ---- Dropout ----

Dropout::Dropout(double rate, std::optional<uint64_t> seed)
    : rate_(rate), generator_(seed ? *seed : seed_from_default_generator()) {
  if (!(rate >= 0.0 && rate < 1.0)) {
    throw error("Dropout: rate must be in [0, 1), got {}", rate);
  }
  set_name(unique_layer_name("Dropout"));
}

Tensor Dropout::forward(const Tensor& input) {
  if (!is_training() || rate_ == 0.0) return input;
  detail::check_floating_input("Dropout", input);
  // The mask carries the 1 / (1 - rate) scale, so the product is the whole op and its gradient
  // (mask * grad) comes from mul.
  const double keep_scale = 1.0 / (1.0 - rate_);
  std::vector<double> mask(static_cast<size_t>(input.numel()));
  {
    const auto lock = generator_.lock();
    for (double& m : mask) m = generator_.uniform() < rate_ ? 0.0 : keep_scale;
  }
  return input * tensor(mask, input.shape(), input.dtype());
}

// ---- BatchNormalization ----

BatchNormalization::BatchNormalization(BatchNormalizationOptions options)
    : options_(std::move(options)) {
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0)) {
    throw error("BatchNormalization: momentum must be in [0, 1], got {}", options_.momentum);
  }
  if (!(options_.epsilon > 0.0)) {
    throw error("BatchNormalization: epsilon must be positive, got {}", options_.epsilon);
  }
  init::check_known("BatchNormalization: beta_initializer", options_.beta_initializer);
  init::check_known("BatchNormalization: gamma_initializer", options_.gamma_initializer);
  init::check_known("BatchNormalization: moving_mean_initializer",
                    options_.moving_mean_initializer);
  init::check_known("BatchNormalization: moving_variance_initializer",
                    options_.moving_variance_initializer);
  detail::check_float_dtype("BatchNormalization", options_.dtype);
  set_name(unique_layer_name("BatchNormalization"));
  if (options_.num_features) {
    if (*options_.num_features < 1) {
      throw error("BatchNormalization: num_features must be positive, got {}",
                  *options_.num_features);
    }
    create_state(*options_.num_features);
  }
}

void BatchNormalization::create_state(int64_t features) {
  const auto make = [&](const std::string& initializer) {
    return init::initialized(initializer, {features}, options_.dtype);
  };
  if (options_.scale) gamma_ = register_parameter("gamma", make(options_.gamma_initializer));
  if (options_.center) beta_ = register_parameter("beta", make(options_.beta_initializer));
  moving_mean_ = register_buffer("moving_mean", make(options_.moving_mean_initializer));
  moving_variance_ = register_buffer("moving_variance", make(options_.moving_variance_initializer));
  features_ = features;
  mark_built();
}

int64_t BatchNormalization::check_input_shape(const Shape& shape) const {
  const auto rank = static_cast<int64_t>(shape.size());
  if (rank < 2) {
    throw error("BatchNormalization: input of shape {} needs at least 2 dims (batch, features)",
                shape_str(shape));
  }
  const int64_t axis = feature_axis("BatchNormalization", options_.axis, shape);
  if (features_ && shape[static_cast<size_t>(axis)] != *features_) {
    throw error("BatchNormalization: input of shape {} has {} features on axis {}, expected {}",
                shape_str(shape), shape[static_cast<size_t>(axis)], axis, *features_);
  }
  return axis;
}

Shape BatchNormalization::build(const Shape& input_shape) {
  const int64_t axis = check_input_shape(input_shape);
  if (!features_) create_state(input_shape[static_cast<size_t>(axis)]);
  return input_shape;
}

Tensor BatchNormalization::forward(const Tensor& input) {
  build(input.shape());
  detail::check_input_dtype("BatchNormalization", input, options_.dtype);
  const int64_t axis = check_input_shape(input.shape());
  const int64_t features = *features_;
  // Per-feature vectors broadcast as [1, .., C, .., 1].
  Shape broadcast(input.shape().size(), 1);
  broadcast[static_cast<size_t>(axis)] = features;
  std::vector<int64_t> reduce_dims;
  for (int64_t d = 0; d < input.dim(); ++d) {
    if (d != axis) reduce_dims.push_back(d);
  }

  Tensor normalized;
  if (is_training()) {
    if (input.numel() == 0) {
      throw error("BatchNormalization: cannot compute batch statistics of an empty input {}",
                  shape_str(input.shape()));
    }
    const Tensor batch_mean = mean(input, reduce_dims, /*keepdim=*/true);
    const Tensor batch_var = var(input, reduce_dims, /*correction=*/0, /*keepdim=*/true);
    normalized = (input - batch_mean) / sqrt(batch_var + options_.epsilon);
    const NoGradGuard no_grad;
    const double momentum = options_.momentum;
    moving_mean_.mul_(momentum).add_(batch_mean.detach().reshape({features}), 1.0 - momentum);
    moving_variance_.mul_(momentum).add_(batch_var.detach().reshape({features}), 1.0 - momentum);
  } else {
    normalized = (input - moving_mean_.reshape(broadcast)) /
                 sqrt(moving_variance_.reshape(broadcast) + options_.epsilon);
  }
  if (gamma_.defined()) normalized = normalized * gamma_.reshape(broadcast);
  if (beta_.defined()) normalized = normalized + beta_.reshape(broadcast);
  return normalized;
}

// ---- LayerNormalization ----

LayerNormalization::LayerNormalization(LayerNormalizationOptions options)
    : options_(std::move(options)) {
  if (options_.axis.empty()) throw error("LayerNormalization: axis must name at least one axis");
  if (!(options_.epsilon > 0.0)) {
    throw error("LayerNormalization: epsilon must be positive, got {}", options_.epsilon);
  }
  init::check_known("LayerNormalization: beta_initializer", options_.beta_initializer);
  init::check_known("LayerNormalization: gamma_initializer", options_.gamma_initializer);
  detail::check_float_dtype("LayerNormalization", options_.dtype);
  set_name(unique_layer_name("LayerNormalization"));
}

std::vector<int64_t> LayerNormalization::resolve_axes(const Shape& shape) const {
  std::vector<int64_t> axes;
  for (const int64_t a : options_.axis) {
    const int64_t d = feature_axis("LayerNormalization", a, shape);
    if (std::find(axes.begin(), axes.end(), d) != axes.end()) {
      throw error("LayerNormalization: axis {} is listed twice", a);
    }
    axes.push_back(d);
  }
  std::sort(axes.begin(), axes.end());
  if (param_shape_) {
    Shape extents;
    for (const int64_t d : axes) extents.push_back(shape[static_cast<size_t>(d)]);
    if (extents != *param_shape_) {
      throw error("LayerNormalization: input of shape {} has extents {} on the axes, expected {}",
                  shape_str(shape), shape_str(extents), shape_str(*param_shape_));
    }
  }
  return axes;
}

Shape LayerNormalization::build(const Shape& input_shape) {
  const std::vector<int64_t> axes = resolve_axes(input_shape);
  if (!param_shape_) {
    Shape extents;
    for (const int64_t d : axes) extents.push_back(input_shape[static_cast<size_t>(d)]);
    const auto make = [&](const std::string& initializer) {
      return init::initialized(initializer, extents, options_.dtype);
    };
    if (options_.scale) gamma_ = register_parameter("gamma", make(options_.gamma_initializer));
    if (options_.center) beta_ = register_parameter("beta", make(options_.beta_initializer));
    param_shape_ = extents;
    mark_built();
  }
  return input_shape;
}

Tensor LayerNormalization::forward(const Tensor& input) {
  build(input.shape());
  detail::check_input_dtype("LayerNormalization", input, options_.dtype);
  const std::vector<int64_t> axes = resolve_axes(input.shape());
  // gamma and beta broadcast as [1, .., extent, .., 1] with the extents on the axes.
  Shape broadcast(input.shape().size(), 1);
  for (const int64_t d : axes) {
    broadcast[static_cast<size_t>(d)] = input.shape()[static_cast<size_t>(d)];
  }
  const Tensor m = mean(input, axes, /*keepdim=*/true);
  const Tensor v = var(input, axes, /*correction=*/0, /*keepdim=*/true);
  Tensor y = (input - m) / sqrt(v + options_.epsilon);
  if (gamma_.defined()) y = y * gamma_.reshape(broadcast);
  if (beta_.defined()) y = y + beta_.reshape(broadcast);
  return y;
}

}  // namespace nabla::nn
