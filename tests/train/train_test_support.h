// Shared by the train tests: a lazily built linear layer, an MSE loss and a noiseless line.
#pragma once

#include <cstdint>
#include <string>

#include "nabla.h"

namespace nabla::train::testing {

// y = x @ w + b, with parameters created at the first call like a Keras layer.
class Linear : public nn::Module {
 public:
  explicit Linear(int64_t units) : units_(units) { set_name(nn::unique_layer_name(type_name())); }
  Shape build(const Shape& input_shape) override {
    if (!built()) {
      Generator generator(1);
      weight_ = register_parameter(
          "kernel", uniform({input_shape.back(), units_}, -0.1, 0.1, kFloat32, &generator));
      bias_ = register_parameter("bias", zeros({units_}));
      mark_built();
    }
    return {input_shape.front(), units_};
  }
  Tensor forward(const Tensor& input) override { return matmul(input, weight_) + bias_; }
  [[nodiscard]] std::string type_name() const override { return "TestLinear"; }

 private:
  int64_t units_;
  Tensor weight_;
  Tensor bias_;
};

inline Loss mse() {
  return {"mse", [](const Tensor& p, const Tensor& t) { return mean(square(p - t)); }};
}

struct LineData {
  Tensor x;
  Tensor y;
};

inline LineData line(int64_t n) {
  Generator generator(2);
  Tensor x = uniform({n, 1}, -1.0, 1.0, kFloat32, &generator);
  const NoGradGuard no_grad;
  return {x, x * 2.0 + 1.0};
}

}  // namespace nabla::train::testing
