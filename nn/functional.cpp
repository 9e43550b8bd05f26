// The functional API: symbolic calls record LayerCall nodes; Functional orders them once and
// replays them on real tensors.
#include "nn/functional.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "autograd/node.h"
#include "nn/layer_util.h"
#include "nn/sequential.h"

namespace nabla::nn {
namespace {

// Shapes as the batch dim free: "[None, 784]".
std::string free_batch_str(const Shape& shape) {
  std::string out = "[None";
  for (size_t d = 1; d < shape.size(); ++d) out += ", " + std::to_string(shape[d]);
  return out + "]";
}

bool same_sample_shape(const Shape& a, const Shape& b) {
  return a.size() == b.size() &&
         std::equal(a.begin() + (a.empty() ? 0 : 1), a.end(), b.begin() + (b.empty() ? 0 : 1));
}

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string out;
  for (size_t i = 0; i < shapes.size(); ++i) out += (i > 0 ? ", " : "") + shape_str(shapes[i]);
  return out;
}

std::vector<Shape> shapes_of(const std::vector<Tensor>& tensors) {
  std::vector<Shape> shapes;
  shapes.reserve(tensors.size());
  for (const Tensor& t : tensors) shapes.push_back(t.shape());
  return shapes;
}

// The shape every input of an elementwise merge must share.
Shape same_shapes(const std::string& op, const std::vector<Shape>& shapes) {
  for (const Shape& shape : shapes) {
    if (shape != shapes.front()) {
      throw error("{}: inputs of shapes {} differ; {} needs inputs of one shape", op,
                  shapes_str(shapes), op);
    }
  }
  return shapes.front();
}

}  // namespace

// ---- SymbolicTensor and Input ----

SymbolicTensor::SymbolicTensor(std::shared_ptr<const detail::LayerCall> producer)
    : producer_(std::move(producer)) {}
const Shape& SymbolicTensor::shape() const { return producer_->shape; }
DType SymbolicTensor::dtype() const { return producer_->dtype; }
const std::string& SymbolicTensor::name() const { return producer_->name; }

SymbolicTensor Input(const Shape& shape, DType dtype, const std::string& name) {
  for (const int64_t extent : shape) {
    if (extent < 1) {
      throw error("Input: shape {} (without the batch dim) has an extent below 1",
                  shape_str(shape));
    }
  }
  auto call = std::make_shared<detail::LayerCall>();
  call->shape.push_back(1);
  call->shape.insert(call->shape.end(), shape.begin(), shape.end());
  call->dtype = dtype;
  call->name = name.empty() ? unique_layer_name("Input") : name;
  return SymbolicTensor(std::move(call));
}

SymbolicTensor Module::call(const SymbolicTensor& input) {
  return call(std::vector<SymbolicTensor>{input});
}

SymbolicTensor Module::call(const std::vector<SymbolicTensor>& inputs) {
  std::shared_ptr<Module> self = weak_from_this().lock();
  if (!self) {
    throw error(
        "call: layer \"{}\" ({}) must be owned by a std::shared_ptr (std::make_shared) to take "
        "part in a functional model",
        name(), type_name());
  }
  if (inputs.empty()) throw error("call: layer \"{}\" ({}) got no inputs", name(), type_name());
  auto node = std::make_shared<detail::LayerCall>();
  node->layer = self;
  node->inputs = inputs;
  node->name = name();
  node->dtype = inputs.front().dtype();
  if (auto* merge = dynamic_cast<MergeLayer*>(this)) {
    std::vector<Shape> shapes;
    shapes.reserve(inputs.size());
    for (const SymbolicTensor& input : inputs) shapes.push_back(input.shape());
    node->shape = merge->merged_shape(shapes);
    mark_built();
  } else if (inputs.size() != 1) {
    throw error(
        "call: layer \"{}\" ({}) takes one input, got {}; only merge layers (Add, Multiply, "
        "Concatenate) take several",
        name(), type_name(), inputs.size());
  } else if (auto* lambda = dynamic_cast<Lambda*>(this)) {
    const NoGradGuard no_grad;
    const Tensor probe = lambda->forward(zeros(inputs.front().shape(), inputs.front().dtype()));
    node->shape = probe.shape();
    node->dtype = probe.dtype();
    mark_built();
  } else {
    node->shape = build(inputs.front().shape());
  }
  node->call_index = symbolic_calls_++;
  return SymbolicTensor(std::move(node));
}

// ---- Functional ----

Functional::Functional(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs)
    : inputs_(std::move(inputs)), outputs_(std::move(outputs)) {
  set_name(unique_layer_name("Model"));
  if (inputs_.empty() || outputs_.empty()) {
    throw error("Functional: a model needs at least one input and one output (got {} and {})",
                inputs_.size(), outputs_.size());
  }
  std::unordered_set<const detail::LayerCall*> declared;
  for (const SymbolicTensor& input : inputs_) {
    if (input.producer()->layer) {
      throw error(
          "Functional: model input \"{}\" is the output of a layer; model inputs come from "
          "nn::Input",
          input.name());
    }
    if (!declared.insert(input.producer().get()).second) {
      throw error("Functional: input \"{}\" is given twice", input.name());
    }
    order_.push_back(input.producer());
  }
  // Post-order from the outputs (iterative: a long chain of layers cannot overflow the stack).
  std::unordered_set<const detail::LayerCall*> placed(declared);
  std::unordered_set<const Module*> registered;
  for (const SymbolicTensor& output : outputs_) {
    std::vector<std::pair<std::shared_ptr<const detail::LayerCall>, size_t>> stack{
        {output.producer(), 0}};
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (placed.contains(node.get())) {
        stack.pop_back();
      } else if (!node->layer) {
        std::string names;
        for (const SymbolicTensor& input : inputs_) names += " \"" + input.name() + "\"";
        throw error(
            "Functional: output \"{}\" depends on input \"{}\", which is not among the model's "
            "inputs ({})",
            output.name(), node->name, names.substr(1));
      } else if (next < node->inputs.size()) {
        const auto& input = node->inputs[next++].producer();
        stack.emplace_back(input, 0);
      } else {
        placed.insert(node.get());
        order_.push_back(node);
        if (registered.insert(node->layer.get()).second) register_module(node->layer);
        stack.pop_back();
      }
    }
  }
  mark_built();
}

std::vector<Tensor> Functional::forward_all(const std::vector<Tensor>& inputs) {
  if (inputs.size() != inputs_.size()) {
    throw error("{}: the model takes {} inputs, got {}", name(), inputs_.size(), inputs.size());
  }
  std::unordered_map<const detail::LayerCall*, Tensor> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Shape& expected = inputs_[i].shape();
    if (!same_sample_shape(inputs[i].shape(), expected) ||
        inputs[i].shape()[0] != inputs[0].shape()[0]) {
      throw error("{}: input {} (\"{}\") has shape {}, expected {} with the batch of input 0 ({})",
                  name(), i, inputs_[i].name(), shape_str(inputs[i].shape()),
                  free_batch_str(expected), shape_str(inputs[0].shape()));
    }
    values[inputs_[i].producer().get()] = inputs[i];
  }
  for (const auto& node : order_) {
    if (!node->layer) continue;
    std::vector<Tensor> arguments;
    arguments.reserve(node->inputs.size());
    for (const SymbolicTensor& input : node->inputs) {
      arguments.push_back(values.at(input.producer().get()));
    }
    auto* merge = dynamic_cast<MergeLayer*>(node->layer.get());
    values[node.get()] = merge != nullptr ? merge->merge(arguments) : (*node->layer)(arguments[0]);
  }
  std::vector<Tensor> out;
  out.reserve(outputs_.size());
  for (const SymbolicTensor& output : outputs_) out.push_back(values.at(output.producer().get()));
  return out;
}

Tensor Functional::forward(const Tensor& input) {
  if (inputs_.size() != 1 || outputs_.size() != 1) {
    throw error(
        "{}: forward takes the model's one input to its one output; this model has {} "
        "inputs and {} outputs (use forward_all)",
        name(), inputs_.size(), outputs_.size());
  }
  return forward_all({input}).front();
}

Shape Functional::build(const Shape& input_shape) {
  if (inputs_.size() != 1 || outputs_.size() != 1) {
    throw error(
        "{}: build takes the shape of the model's one input; this model has {} inputs and "
        "{} outputs",
        name(), inputs_.size(), outputs_.size());
  }
  if (input_shape.empty() || !same_sample_shape(input_shape, inputs_[0].shape())) {
    throw error("{}: input shape {} does not match the model's input {}", name(),
                shape_str(input_shape), free_batch_str(inputs_[0].shape()));
  }
  Shape out = outputs_[0].shape();
  out[0] = input_shape[0];
  return out;
}

std::vector<Shape> Functional::build_all(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != inputs_.size()) {
    throw error("{}: the model takes {} inputs, got {} input shapes", name(), inputs_.size(),
                input_shapes.size());
  }
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    if (input_shapes[i].empty() || !same_sample_shape(input_shapes[i], inputs_[i].shape())) {
      throw error("{}: input {} (\"{}\") has shape {}, expected {}", name(), i, inputs_[i].name(),
                  shape_str(input_shapes[i]), free_batch_str(inputs_[i].shape()));
    }
  }
  std::vector<Shape> out;
  out.reserve(outputs_.size());
  for (const SymbolicTensor& output : outputs_) {
    out.push_back(output.shape());
    out.back()[0] = input_shapes.front()[0];
  }
  return out;
}

std::vector<std::string> Functional::output_names() const {
  // A repeated name gets the first free suffix: "out", "out_1", ... skipping any name another
  // output already has, so no two outputs share one (their logs would overwrite each other).
  std::unordered_set<std::string> taken;
  for (const SymbolicTensor& output : outputs_) taken.insert(output.name());
  std::unordered_set<std::string> given;
  std::vector<std::string> names;
  for (const SymbolicTensor& output : outputs_) {
    // The layer's own name only has to be unused so far; a suffixed one must also not be another
    // output's own name.
    const auto is_free = [&](const std::string& candidate, bool own) {
      return !given.contains(candidate) && (own || !taken.contains(candidate));
    };
    std::string name = output.name();
    for (int64_t suffix = 1; !is_free(name, suffix == 1); ++suffix) {
      name = fmt::format("{}_{}", output.name(), suffix);
    }
    given.insert(name);
    names.push_back(name);
  }
  return names;
}

std::string Functional::summary() const {
  struct Row {
    std::string layer, shape, params;
    std::vector<std::string> connected;
  };
  std::vector<Row> rows;
  std::unordered_map<const Module*, size_t> row_of;
  for (const auto& node : order_) {
    std::vector<std::string> connected;
    for (const SymbolicTensor& input : node->inputs) {
      connected.push_back(fmt::format("{}[{}][0]", input.name(), input.producer()->call_index));
    }
    if (!node->layer) {
      rows.push_back({node->name + " (InputLayer)", detail::keras_shape(node->shape), "0", {}});
      continue;
    }
    const auto [it, first] = row_of.emplace(node->layer.get(), rows.size());
    if (!first) {
      Row& row = rows[it->second];
      if (row.shape != detail::keras_shape(node->shape)) row.shape = "multiple";
      row.connected.insert(row.connected.end(), connected.begin(), connected.end());
      continue;
    }
    const Module& layer = *node->layer;
    rows.push_back(
        {layer.name() + " (" + layer.type_name() + ")", detail::keras_shape(node->shape),
         std::to_string(layer.trainable_parameter_count() + layer.non_trainable_parameter_count()),
         connected});
  }

  size_t layer_width = 34;
  size_t shape_width = 22;
  size_t params_width = 12;
  size_t connected_width = 30;
  for (const Row& row : rows) {
    layer_width = std::max(layer_width, row.layer.size() + 3);
    shape_width = std::max(shape_width, row.shape.size() + 2);
    params_width = std::max(params_width, row.params.size() + 2);
    for (const auto& c : row.connected) connected_width = std::max(connected_width, c.size() + 1);
  }
  const size_t line_length = layer_width + shape_width + params_width + connected_width;
  const auto line = [&](const std::string& layer, const std::string& shape,
                        const std::string& params, const std::string& connected) {
    std::string text = " " + detail::pad_right(layer, layer_width - 1) +
                       detail::pad_right(shape, shape_width) +
                       detail::pad_right(params, params_width) + connected;
    text.erase(text.find_last_not_of(' ') + 1);
    return text + "\n";
  };

  std::ostringstream out;
  out << "Model: \"" << name() << "\"\n" << std::string(line_length, '_') << "\n";
  out << line("Layer (type)", "Output Shape", "Param #", "Connected to");
  out << std::string(line_length, '=') << "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    out << line(row.layer, row.shape, row.params, row.connected.empty() ? "[]" : row.connected[0]);
    for (size_t c = 1; c < row.connected.size(); ++c) out << line("", "", "", row.connected[c]);
    if (i + 1 < rows.size()) out << "\n";
  }
  out << std::string(line_length, '=') << "\n";
  out << detail::summary_totals(*this, line_length);
  return out.str();
}

// ---- merge layers ----

Tensor MergeLayer::forward(const Tensor& input) {
  throw error("{}: {} takes a list of at least two inputs (call or merge), got one of shape {}",
              name(), type_name(), shape_str(input.shape()));
}

void MergeLayer::check_count(size_t count) const {
  if (count < 2) {
    throw error("{}: {} takes at least two inputs, got {}", name(), type_name(), count);
  }
}

Add::Add() { set_name(unique_layer_name("Add")); }

Shape Add::merged_shape(const std::vector<Shape>& shapes) {
  check_count(shapes.size());
  return same_shapes(type_name(), shapes);
}

Tensor Add::merge(const std::vector<Tensor>& inputs) {
  merged_shape(shapes_of(inputs));
  Tensor sum = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) sum = sum + inputs[i];
  return sum;
}

Multiply::Multiply() { set_name(unique_layer_name("Multiply")); }

Shape Multiply::merged_shape(const std::vector<Shape>& shapes) {
  check_count(shapes.size());
  return same_shapes(type_name(), shapes);
}

Tensor Multiply::merge(const std::vector<Tensor>& inputs) {
  merged_shape(shapes_of(inputs));
  Tensor product = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) product = product * inputs[i];
  return product;
}

Concatenate::Concatenate(int64_t axis) : axis_(axis) { set_name(unique_layer_name("Concatenate")); }

Shape Concatenate::merged_shape(const std::vector<Shape>& shapes) {
  check_count(shapes.size());
  const auto rank = static_cast<int64_t>(shapes.front().size());
  const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
  if (axis < 1 || axis >= rank) {
    throw error("Concatenate: axis {} is not a non-batch dim of inputs of shapes {}", axis_,
                shapes_str(shapes));
  }
  Shape out = shapes.front();
  out[static_cast<size_t>(axis)] = 0;
  for (const Shape& shape : shapes) {
    bool agree = static_cast<int64_t>(shape.size()) == rank;
    for (int64_t d = 0; agree && d < rank; ++d) {
      agree = d == axis || shape[static_cast<size_t>(d)] == out[static_cast<size_t>(d)];
    }
    if (!agree) {
      throw error("Concatenate: inputs of shapes {} differ outside axis {}", shapes_str(shapes),
                  axis_);
    }
    out[static_cast<size_t>(axis)] += shape[static_cast<size_t>(axis)];
  }
  return out;
}

Tensor Concatenate::merge(const std::vector<Tensor>& inputs) {
  const Shape out = merged_shape(shapes_of(inputs));
  return cat(inputs, axis_ < 0 ? axis_ + static_cast<int64_t>(out.size()) : axis_);
}

// ---- Reshape and Lambda ----

Reshape::Reshape(Shape target_shape) : target_(std::move(target_shape)) {
  set_name(unique_layer_name("Reshape"));
  const auto unknown = std::count(target_.begin(), target_.end(), -1);
  const bool valid = std::all_of(target_.begin(), target_.end(),
                                 [](int64_t extent) { return extent >= 1 || extent == -1; });
  if (!valid || unknown > 1) {
    throw error("Reshape: target shape {} needs extents of at least 1 and at most one -1",
                shape_str(target_));
  }
}

Shape Reshape::output_shape(const Shape& input_shape) const {
  if (input_shape.empty()) throw error("{}: input has no batch dim (shape [])", name());
  int64_t values = 1;
  for (size_t d = 1; d < input_shape.size(); ++d) values *= input_shape[d];
  int64_t known = 1;
  for (const int64_t extent : target_) known *= extent == -1 ? 1 : extent;
  Shape out{input_shape[0]};
  for (const int64_t extent : target_) {
    out.push_back(extent == -1 && known > 0 && values % known == 0 ? values / known : extent);
  }
  int64_t produced = 1;
  for (size_t d = 1; d < out.size(); ++d) produced *= out[d];
  if (produced != values || std::count(out.begin(), out.end(), -1) > 0) {
    throw error("{}: a sample of shape {} ({} values) cannot be reshaped to {}", name(),
                free_batch_str(input_shape), values, shape_str(target_));
  }
  return out;
}

Shape Reshape::build(const Shape& input_shape) {
  mark_built();
  return output_shape(input_shape);
}

Tensor Reshape::forward(const Tensor& input) { return reshape(input, output_shape(input.shape())); }

Lambda::Lambda(Function function, const std::string& name) : function_(std::move(function)) {
  if (!function_) throw error("Lambda: the function is empty");
  set_name(name.empty() ? unique_layer_name("Lambda") : name);
}

Tensor Lambda::forward(const Tensor& input) { return function_(input); }

Shape Lambda::build(const Shape& input_shape) {
  const NoGradGuard no_grad;
  mark_built();
  return function_(zeros(input_shape)).shape();
}

}  // namespace nabla::nn
