// nn::Module: a model part with registered parameters, buffers and submodules. A module's forward
// is ordinary autograd code; gradients come from the engine, never from hand-written backwards.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "autograd/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace nabla::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class SymbolicTensor;  // nn/functional.h

// NOTE: shared_from_this lets call() put the module into a functional graph; a module used that
// way must be owned by a std::shared_ptr.
class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input);
  // The functional API (nn/functional.h): applies the module to symbolic inputs, building it for
  // their shape, and returns its symbolic output. Several inputs only for merge layers.
  SymbolicTensor call(const SymbolicTensor& input);
  SymbolicTensor call(const std::vector<SymbolicTensor>& inputs);

  // Several inputs to several outputs: what train::Model runs, so it needs to know no module type.
  // The default takes exactly one input through operator() to one output; a model with several
  // inputs or outputs (nn::Functional) overrides it, with the counts and names below.
  virtual std::vector<Tensor> forward_all(const std::vector<Tensor>& inputs);
  // Builds for inputs of these shapes (batch dim first), one per input; returns the output
  // shapes. The default passes the one shape to build().
  virtual std::vector<Shape> build_all(const std::vector<Shape>& input_shapes);
  [[nodiscard]] virtual size_t input_count() const { return 1; }
  [[nodiscard]] virtual size_t output_count() const { return 1; }
  // One name per output (Keras names a multi-output model's logs after them, "dense_2_loss"):
  // the module's own name by default.
  [[nodiscard]] virtual std::vector<std::string> output_names() const { return {name()}; }

  // Creates the parameters for inputs of this shape (the batch dim first, any extent) if the
  // module infers its sizes at the first call, as Keras layers do. Modules with fixed sizes do
  // nothing. Returns the output shape for that input shape.
  virtual Shape build(const Shape& input_shape);
  [[nodiscard]] bool built() const { return built_; }
  // True while the module still waits for its first input (or build) to create its weights, as
  // Dense, Conv2D and BatchNormalization do when their input size was not given.
  [[nodiscard]] virtual bool weights_pending() const { return false; }
  // The paths (as in named_parameters) and names of this module and its descendants whose
  // weights are pending, like "1 (dense_1)"; the module itself is "" when it is one of them.
  [[nodiscard]] std::vector<std::string> layers_with_pending_weights() const;
  // Throws, naming `op` and those layers, while any are pending: what takes every weight
  // (parameters(), save_weights, load_weights) would otherwise see only part of them.
  void check_weights_created(std::string_view op) const;

  // The layer's type as Keras names it ("Dense", "Conv2D", ...).
  [[nodiscard]] virtual std::string type_name() const = 0;
  // A unique instance name such as "dense_1" (settable, used as the parameter name prefix).
  [[nodiscard]] const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Trainable parameters, in registration order, submodules' after the module's own. Throws while
  // a layer's weights are pending (check_weights_created): an optimizer made from a partial list
  // would never update the rest. named_parameters() lists what exists so far.
  [[nodiscard]] std::vector<Tensor> parameters() const;
  // Keys are paths of registration keys, like PyTorch's state_dict: a Sequential's first Dense
  // gives "0.kernel", "0.bias". They hold no instance names such as "dense_1", so a freshly built
  // twin of a model has the same keys and can load its weights.
  [[nodiscard]] NamedTensors named_parameters() const;
  // Non-trainable state (BatchNormalization's moving statistics, ...).
  [[nodiscard]] NamedTensors named_buffers() const;
  // Parameters and buffers: everything save_weights writes.
  [[nodiscard]] NamedTensors state() const;
  [[nodiscard]] const std::vector<std::shared_ptr<Module>>& children() const { return children_; }

  // The generator this module draws from in forward (Dropout's own), or nullptr. Checkpoints save
  // and restore it, so a resumed training run draws the same masks as an uninterrupted one.
  [[nodiscard]] virtual Generator* random_generator() { return nullptr; }
  // The generators of this module and its descendants, keyed by module path ("" for this module,
  // "2" for a Sequential's third layer, as in named_parameters).
  [[nodiscard]] std::vector<std::pair<std::string, Generator*>> named_generators();

  // The input shape without the batch dim that the layer declares (Keras's input_shape /
  // input_dim), so a model can be built or summarized before it sees data; nullopt if none.
  [[nodiscard]] const std::optional<Shape>& declared_input_shape() const {
    return declared_input_shape_;
  }

  [[nodiscard]] int64_t trainable_parameter_count() const;
  [[nodiscard]] int64_t non_trainable_parameter_count() const;

  // Training mode changes Dropout and BatchNormalization; it propagates to submodules.
  void train(bool on = true);
  void eval() { train(false); }
  [[nodiscard]] bool is_training() const { return training_; }

  // Forgets the accumulated gradients of every parameter.
  void zero_grad();

 protected:
  // Registers a parameter (marked requires_grad) under `local_name`; returns the stored handle.
  Tensor register_parameter(const std::string& local_name, Tensor value);
  Tensor register_buffer(const std::string& local_name, Tensor value);
  // A child's key is `key`, or its position among the children when `key` is empty.
  template <typename M>
  std::shared_ptr<M> register_module(std::shared_ptr<M> module, std::string key = "") {
    child_keys_.push_back(key.empty() ? std::to_string(children_.size()) : std::move(key));
    children_.push_back(module);
    return module;
  }
  void mark_built() { built_ = true; }
  void declare_input_shape(Shape shape_without_batch) {
    declared_input_shape_ = std::move(shape_without_batch);
  }

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;
  void collect_pending(const std::string& path, std::vector<std::string>& out) const;

  std::string name_;
  bool training_ = true;
  bool built_ = false;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::shared_ptr<Module>> children_;
  std::vector<std::string> child_keys_;
  int64_t symbolic_calls_ = 0;  // call() so far: the index of a functional graph node
  std::optional<Shape> declared_input_shape_;
};

// Unique default names per layer type ("dense", "dense_1", ...), as Keras gives them.
std::string unique_layer_name(const std::string& type_name);
// Forgets the names handed out so far, so the next layer of each type is "dense", "conv2d", ...
// again (Keras's clear_session); existing modules keep their names.
void reset_layer_names();

}  // namespace nabla::nn
