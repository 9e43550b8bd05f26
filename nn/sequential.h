// Sequential: a stack of layers applied in order, with Keras's summary table.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace nabla::nn {

class Sequential : public Module {
 public:
  Sequential();
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);

  // Appends a layer (registered as a submodule); returns *this for chaining.
  Sequential& add(std::shared_ptr<Module> layer);
  // Constructs the layer in place: model.add<Dense>(512, DenseOptions{.activation = "relu"}).
  template <typename L, typename... Args>
  Sequential& add(Args&&... args) {
    return add(std::make_shared<L>(std::forward<Args>(args)...));
  }

  Tensor forward(const Tensor& input) override;
  // Builds each layer in order on the shape the previous one produces (batch dim first).
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Sequential"; }

  [[nodiscard]] const std::vector<std::shared_ptr<Module>>& layers() const { return layers_; }
  // The input shape of the last build (batch dim included), if any.
  [[nodiscard]] const std::optional<Shape>& built_input_shape() const { return input_shape_; }

  // Keras's model.summary() as text: one row per layer with its output shape ("None" for the
  // batch dim, NCHW order) and parameter count, then the total, trainable and non-trainable
  // counts with thousands separators. Builds the model for [1, input_shape...]; an empty shape
  // uses the shape of the last build, else the input the first layer declares (input_shape /
  // input_dim, as in Keras); an error if there is none.
  [[nodiscard]] std::string summary(const Shape& input_shape_without_batch = {});

 private:
  std::vector<std::shared_ptr<Module>> layers_;
  std::optional<Shape> input_shape_;
};

// "3,453,121": Keras's thousands separators.
std::string format_with_commas(int64_t value);

}  // namespace nabla::nn
