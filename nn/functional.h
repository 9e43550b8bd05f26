// The functional API, as Keras has it: Input() makes a symbolic tensor, calling a layer on
// symbolic tensors records one node of a graph (and builds the layer for that shape), and
// Functional(inputs, outputs) runs the graph as a Module: models with several inputs or outputs,
// shared layers, skip connections.
//
//   const auto inputs = nn::Input({784});
//   const auto hidden = std::make_shared<nn::Dense>(64, nn::DenseOptions{.activation = "relu"});
//   const auto x = hidden->call(inputs);
//   const auto outputs = std::make_shared<nn::Add>()->call({x, hidden2->call(x)});
//   auto model = std::make_shared<nn::Functional>(inputs, outputs);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace nabla::nn {

namespace detail {
struct LayerCall;
}  // namespace detail

// A placeholder for a batch flowing through a functional model. Its shape has the batch dim
// first, held as 1 (summary prints it as None).
class SymbolicTensor {
 public:
  explicit SymbolicTensor(std::shared_ptr<const detail::LayerCall> producer);

  [[nodiscard]] const Shape& shape() const;
  [[nodiscard]] DType dtype() const;
  // "input_1" for an Input, else the producing layer's name ("dense_2").
  [[nodiscard]] const std::string& name() const;
  [[nodiscard]] const std::shared_ptr<const detail::LayerCall>& producer() const {
    return producer_;
  }

 private:
  std::shared_ptr<const detail::LayerCall> producer_;
};

namespace detail {
// One node of the graph: a layer applied to symbolic inputs, or an Input (no layer).
struct LayerCall {
  std::shared_ptr<Module> layer;
  std::vector<SymbolicTensor> inputs;
  Shape shape;  // of the output, batch dim first (as 1)
  DType dtype = kFloat32;
  std::string name;
  int64_t call_index = 0;  // the layer's how-manieth call this is (Keras's node index)
};
}  // namespace detail

// A symbolic input of `shape` (without the batch dim), as keras.Input. `name` defaults to
// "input", "input_1", ...
// NOLINTNEXTLINE(readability-identifier-naming): Keras's name, as users will look for it.
SymbolicTensor Input(const Shape& shape, DType dtype = kFloat32, const std::string& name = "");

// A graph of layer calls from `inputs` to `outputs`, run as a Module. Each distinct layer is a
// submodule (keyed by its position in the order the graph runs them, so a twin built the same way
// loads the weights); a layer called at several places shares its weights.
class Functional : public Module {
 public:
  Functional(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs);
  Functional(const SymbolicTensor& input, const SymbolicTensor& output)
      : Functional(std::vector<SymbolicTensor>{input}, std::vector<SymbolicTensor>{output}) {}

  // One input, one output.
  Tensor forward(const Tensor& input) override;
  // Every output for the given inputs (in the order the constructor took them); each input's
  // shape after the batch dim must be its Input's.
  std::vector<Tensor> forward_all(const std::vector<Tensor>& inputs) override;
  // The output shape for an input of `input_shape` (one input only); the layers are already built.
  Shape build(const Shape& input_shape) override;
  // The output shapes for inputs of these shapes (each checked against its Input).
  std::vector<Shape> build_all(const std::vector<Shape>& input_shapes) override;
  [[nodiscard]] size_t input_count() const override { return inputs_.size(); }
  [[nodiscard]] size_t output_count() const override { return outputs_.size(); }
  // The output layers' names ("dense_2"), as Keras names a model's outputs; a name that repeats
  // (one layer's call giving two outputs) gets "_1", "_2", ... after its second and later uses.
  [[nodiscard]] std::vector<std::string> output_names() const override;
  [[nodiscard]] std::string type_name() const override { return "Functional"; }

  [[nodiscard]] const std::vector<SymbolicTensor>& inputs() const { return inputs_; }
  [[nodiscard]] const std::vector<SymbolicTensor>& outputs() const { return outputs_; }

  // Keras's summary of a functional model: every call, Inputs included, with its output shape,
  // parameter count and the calls it is connected to ("dense_1[0][0]").
  [[nodiscard]] std::string summary() const;

 private:
  std::vector<SymbolicTensor> inputs_;
  std::vector<SymbolicTensor> outputs_;
  std::vector<std::shared_ptr<const detail::LayerCall>> order_;  // inputs first, then by need
};

// A layer that combines several inputs (Add, Multiply, Concatenate). Called on one tensor it
// throws: it takes its inputs as a list, through call() or merge().
class MergeLayer : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  // The combination of `inputs` (at least two).
  virtual Tensor merge(const std::vector<Tensor>& inputs) = 0;
  // The output shape for inputs of these shapes (batch dim first); throws on shapes that do not
  // combine, naming them.
  virtual Shape merged_shape(const std::vector<Shape>& shapes) = 0;

 protected:
  void check_count(size_t count) const;
};

// Sums its inputs, which must all have the same shape.
class Add : public MergeLayer {
 public:
  Add();
  Tensor merge(const std::vector<Tensor>& inputs) override;
  Shape merged_shape(const std::vector<Shape>& shapes) override;
  [[nodiscard]] std::string type_name() const override { return "Add"; }
};

// Multiplies its inputs elementwise; they must all have the same shape.
class Multiply : public MergeLayer {
 public:
  Multiply();
  Tensor merge(const std::vector<Tensor>& inputs) override;
  Shape merged_shape(const std::vector<Shape>& shapes) override;
  [[nodiscard]] std::string type_name() const override { return "Multiply"; }
};

// Joins its inputs along `axis` (counting the batch dim as 0; negative counts from the end, -1
// by default as in Keras); every other dim must agree.
class Concatenate : public MergeLayer {
 public:
  explicit Concatenate(int64_t axis = -1);
  Tensor merge(const std::vector<Tensor>& inputs) override;
  Shape merged_shape(const std::vector<Shape>& shapes) override;
  [[nodiscard]] std::string type_name() const override { return "Concatenate"; }

 private:
  int64_t axis_;
};

// Reshapes each sample to `target_shape` (without the batch dim; one entry may be -1).
class Reshape : public Module {
 public:
  explicit Reshape(Shape target_shape);
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Reshape"; }

 private:
  [[nodiscard]] Shape output_shape(const Shape& input_shape) const;
  Shape target_;
};

// Wraps a C++ callable as a layer (no weights). Its output shape is found by running the
// callable once on zeros of the input shape, without recording a graph.
class Lambda : public Module {
 public:
  using Function = std::function<Tensor(const Tensor&)>;
  explicit Lambda(Function function, const std::string& name = "");
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Lambda"; }

 private:
  Function function_;
};

}  // namespace nabla::nn
