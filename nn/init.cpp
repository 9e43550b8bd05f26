// Keras initializers filling tensors in place from nabla::Generator draws.
#include "nn/init.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "autograd/node.h"

namespace nabla::nn::init {
namespace {

// The stddev of a unit normal truncated to [-2, 2]; Keras divides by it so that truncated draws
// keep the variance the scaling rule asks for.
constexpr double kTruncatedStddev = 0.87962566103423978;

void check_floating(const char* who, const Tensor& tensor) {
  if (!tensor.defined()) throw error("init::{}: the tensor is undefined", who);
  if (!tensor.is_floating_point()) {
    throw error("init::{}: expected a float32 or float64 tensor, got {}", who,
                dtype_name(tensor.dtype()));
  }
}

void write(Tensor tensor, const Tensor& values) {
  const NoGradGuard no_grad;
  tensor.copy_(values);
}

enum class Fan { In, Average };
enum class Distribution { Uniform, TruncatedNormal };

void variance_scaling(const char* who, Tensor tensor, double scale, Fan mode,
                      Distribution distribution, Generator* generator) {
  check_floating(who, tensor);
  const Fans fans = compute_fans(tensor.shape());
  double fan = mode == Fan::In ? fans.fan_in : (fans.fan_in + fans.fan_out) / 2.0;
  if (fan <= 0.0) {
    // An empty tensor has nothing to fill; Keras guards the same way (max(1, fan)).
    fan = 1.0;
  }
  const double variance = scale / fan;
  if (distribution == Distribution::Uniform) {
    const double limit = std::sqrt(3.0 * variance);
    random_uniform(std::move(tensor), -limit, limit, generator);
  } else {
    truncated_normal(std::move(tensor), 0.0, std::sqrt(variance) / kTruncatedStddev, generator);
  }
}

using Filler = std::function<void(Tensor, Generator*)>;

const std::map<std::string, Filler>& registry() {
  static const std::map<std::string, Filler> kFillers = {
      {"zeros", [](Tensor t, Generator*) { zeros(std::move(t)); }},
      {"ones", [](Tensor t, Generator*) { ones(std::move(t)); }},
      {"random_normal", [](Tensor t, Generator* g) { random_normal(std::move(t), 0.0, 0.05, g); }},
      {"random_uniform",
       [](Tensor t, Generator* g) { random_uniform(std::move(t), -0.05, 0.05, g); }},
      {"truncated_normal",
       [](Tensor t, Generator* g) { truncated_normal(std::move(t), 0.0, 0.05, g); }},
      {"glorot_uniform", [](Tensor t, Generator* g) { glorot_uniform(std::move(t), g); }},
      {"glorot_normal", [](Tensor t, Generator* g) { glorot_normal(std::move(t), g); }},
      {"xavier_uniform", [](Tensor t, Generator* g) { glorot_uniform(std::move(t), g); }},
      {"xavier_normal", [](Tensor t, Generator* g) { glorot_normal(std::move(t), g); }},
      {"he_uniform", [](Tensor t, Generator* g) { he_uniform(std::move(t), g); }},
      {"he_normal", [](Tensor t, Generator* g) { he_normal(std::move(t), g); }},
      {"lecun_uniform", [](Tensor t, Generator* g) { lecun_uniform(std::move(t), g); }},
      {"lecun_normal", [](Tensor t, Generator* g) { lecun_normal(std::move(t), g); }},
      {"orthogonal", [](Tensor t, Generator* g) { orthogonal(std::move(t), 1.0, g); }},
      {"uniform", [](Tensor t, Generator* g) { random_uniform(std::move(t), -0.05, 0.05, g); }},
  };
  return kFillers;
}

}  // namespace

Fans compute_fans(const Shape& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {static_cast<double>(shape[0]), static_cast<double>(shape[0])};
  if (shape.size() == 2) return {static_cast<double>(shape[0]), static_cast<double>(shape[1])};
  double receptive = 1.0;
  for (size_t d = 2; d < shape.size(); ++d) receptive *= static_cast<double>(shape[d]);
  return {static_cast<double>(shape[1]) * receptive, static_cast<double>(shape[0]) * receptive};
}

void zeros(Tensor tensor) { constant(std::move(tensor), 0.0); }

void ones(Tensor tensor) { constant(std::move(tensor), 1.0); }

void constant(Tensor tensor, double value) {
  check_floating("constant", tensor);
  const NoGradGuard no_grad;
  tensor.fill_(value);
}

void random_normal(Tensor tensor, double mean, double stddev, Generator* generator) {
  check_floating("random_normal", tensor);
  if (stddev < 0.0) throw error("init::random_normal: stddev must be >= 0, got {}", stddev);
  write(tensor, normal(tensor.shape(), mean, stddev, tensor.dtype(), generator));
}

void random_uniform(Tensor tensor, double minval, double maxval, Generator* generator) {
  check_floating("random_uniform", tensor);
  if (!(minval <= maxval)) {
    throw error("init::random_uniform: minval {} is greater than maxval {}", minval, maxval);
  }
  write(tensor, uniform(tensor.shape(), minval, maxval, tensor.dtype(), generator));
}

void truncated_normal(Tensor tensor, double mean, double stddev, Generator* generator) {
  check_floating("truncated_normal", tensor);
  if (stddev < 0.0) throw error("init::truncated_normal: stddev must be >= 0, got {}", stddev);
  Generator& gen = generator != nullptr ? *generator : default_generator();
  const auto lock = gen.lock();
  std::vector<double> values(static_cast<size_t>(tensor.numel()));
  for (double& v : values) {
    double z = gen.normal();
    while (std::abs(z) > 2.0) z = gen.normal();
    v = mean + stddev * z;
  }
  write(tensor, nabla::tensor(values, tensor.shape(), tensor.dtype()));
}

void glorot_uniform(Tensor tensor, Generator* generator) {
  variance_scaling("glorot_uniform", std::move(tensor), 1.0, Fan::Average, Distribution::Uniform,
                   generator);
}

void glorot_normal(Tensor tensor, Generator* generator) {
  variance_scaling("glorot_normal", std::move(tensor), 1.0, Fan::Average,
                   Distribution::TruncatedNormal, generator);
}

void he_uniform(Tensor tensor, Generator* generator) {
  variance_scaling("he_uniform", std::move(tensor), 2.0, Fan::In, Distribution::Uniform, generator);
}

void he_normal(Tensor tensor, Generator* generator) {
  variance_scaling("he_normal", std::move(tensor), 2.0, Fan::In, Distribution::TruncatedNormal,
                   generator);
}

void lecun_uniform(Tensor tensor, Generator* generator) {
  variance_scaling("lecun_uniform", std::move(tensor), 1.0, Fan::In, Distribution::Uniform,
                   generator);
}

void lecun_normal(Tensor tensor, Generator* generator) {
  variance_scaling("lecun_normal", std::move(tensor), 1.0, Fan::In, Distribution::TruncatedNormal,
                   generator);
}

void orthogonal(Tensor tensor, double gain, Generator* generator) {
  check_floating("orthogonal", tensor);
  if (tensor.dim() < 2) {
    throw error("init::orthogonal: needs a tensor of rank >= 2, got shape {}",
                shape_str(tensor.shape()));
  }
  const int64_t cols = tensor.shape().back();
  const int64_t rows = cols == 0 ? 0 : tensor.numel() / cols;
  if (rows == 0 || cols == 0) return;
  // Q of a [tall, narrow] Gaussian matrix: its `narrow` columns are orthonormal.
  const int64_t tall = std::max(rows, cols);
  const int64_t narrow = std::min(rows, cols);
  const Tensor gaussian = normal({tall, narrow}, 0.0, 1.0, kFloat64, generator);
  std::vector<double> q = gaussian.to_vector<double>();  // row-major [tall, narrow]
  const auto at = [&](int64_t r, int64_t c) -> double& {
    return q[static_cast<size_t>(r * narrow + c)];
  };
  for (int64_t j = 0; j < narrow; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0.0;
      for (int64_t r = 0; r < tall; ++r) dot += at(r, k) * at(r, j);
      for (int64_t r = 0; r < tall; ++r) at(r, j) -= dot * at(r, k);
    }
    double norm = 0.0;
    for (int64_t r = 0; r < tall; ++r) norm += at(r, j) * at(r, j);
    norm = std::sqrt(norm);
    // A Gaussian matrix is rank-deficient with probability 0; guard anyway.
    if (norm == 0.0) throw error("init::orthogonal: degenerate Gaussian draw, column {}", j);
    for (int64_t r = 0; r < tall; ++r) at(r, j) /= norm;
  }
  std::vector<double> values(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      // Fewer rows than columns: the transpose, so the rows are orthonormal.
      values[static_cast<size_t>(r * cols + c)] = gain * (rows >= cols ? at(r, c) : at(c, r));
    }
  }
  write(tensor, nabla::tensor(values, tensor.shape(), tensor.dtype()));
}

bool is_known(const std::string& name) { return registry().contains(name); }

std::vector<std::string> known_names() {
  std::vector<std::string> names;
  for (const auto& [name, filler] : registry()) names.push_back(name);
  return names;
}

void check_known(const std::string& who, const std::string& name) {
  if (!is_known(name)) {
    throw error("{}: unknown initializer '{}' (known: {})", who, name,
                fmt::join(known_names(), ", "));
  }
}

void initialize(const std::string& name, Tensor tensor, Generator* generator) {
  check_known("init::initialize", name);
  registry().at(name)(std::move(tensor), generator);
}

Tensor initialized(const std::string& name, const Shape& shape, DType dtype, Generator* generator) {
  Tensor tensor = Tensor::empty(shape, dtype);
  initialize(name, tensor, generator);
  return tensor;
}

}  // namespace nabla::nn::init
