// Module bookkeeping: registration, traversal, modes and naming.
#include "nn/module.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <map>
#include <mutex>

namespace nabla::nn {
namespace {

std::mutex& name_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, int>& name_counters() {
  static std::map<std::string, int> counters;
  return counters;
}

}  // namespace

Tensor Module::operator()(const Tensor& input) {
  if (!built_) build(input.shape());
  return forward(input);
}

Shape Module::build(const Shape& input_shape) {
  built_ = true;
  return input_shape;
}

std::vector<Tensor> Module::forward_all(const std::vector<Tensor>& inputs) {
  if (inputs.size() != 1) {
    throw error("{} ({}): the module takes 1 input, got {}", name_, type_name(), inputs.size());
  }
  return {(*this)(inputs.front())};
}

std::vector<Shape> Module::build_all(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != 1) {
    throw error("{} ({}): build takes the shape of the module's 1 input, got {} shapes", name_,
                type_name(), input_shapes.size());
  }
  return {build(input_shapes.front())};
}

Tensor Module::register_parameter(const std::string& local_name, Tensor value) {
  for (const auto& [existing, tensor] : parameters_) {
    if (existing == local_name) {
      throw error("register_parameter: '{}' is already registered", local_name);
    }
  }
  if (!value.requires_grad()) value.requires_grad_();
  parameters_.emplace_back(local_name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& local_name, Tensor value) {
  for (const auto& [existing, tensor] : buffers_) {
    if (existing == local_name) {
      throw error("register_buffer: '{}' is already registered", local_name);
    }
  }
  buffers_.emplace_back(local_name, value);
  return value;
}

void Module::check_weights_created(std::string_view op) const {
  const std::vector<std::string> pending = layers_with_pending_weights();
  if (pending.empty()) return;
  throw error(
      "{}: {} {} {} not created {} weights yet: layers that infer their sizes create them when "
      "built; call build(input_shape) or run one forward pass first",
      op, pending.size() == 1 ? "layer" : "layers", fmt::join(pending, ", "),
      pending.size() == 1 ? "has" : "have", pending.size() == 1 ? "its" : "their");
}

std::vector<std::string> Module::layers_with_pending_weights() const {
  std::vector<std::string> out;
  collect_pending("", out);
  return out;
}

void Module::collect_pending(const std::string& path, std::vector<std::string>& out) const {
  if (weights_pending()) out.push_back(path.empty() ? name_ : fmt::format("{} ({})", path, name_));
  for (size_t i = 0; i < children_.size(); ++i) {
    children_[i]->collect_pending(path.empty() ? child_keys_[i] : path + "." + child_keys_[i], out);
  }
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
  for (const auto& [local, tensor] : buffers ? buffers_ : parameters_) {
    out.emplace_back(prefix + local, tensor);
  }
  for (size_t i = 0; i < children_.size(); ++i) {
    children_[i]->collect(prefix + child_keys_[i] + ".", out, buffers);
  }
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() {
  std::vector<std::pair<std::string, Generator*>> out;
  // Iterative walk (module trees are shallow, but this keeps the order of named_parameters).
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [path, module] = stack.back();
    stack.pop_back();
    if (Generator* generator = module->random_generator()) out.emplace_back(path, generator);
    for (size_t i = module->children_.size(); i-- > 0;) {
      const std::string& key = module->child_keys_[i];
      stack.emplace_back(path.empty() ? key : fmt::format("{}.{}", path, key),
                         module->children_[i].get());
    }
  }
  return out;
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

NamedTensors Module::state() const {
  NamedTensors out = named_parameters();
  NamedTensors buffers = named_buffers();
  out.insert(out.end(), buffers.begin(), buffers.end());
  return out;
}

std::vector<Tensor> Module::parameters() const {
  // An optimizer made from a partial list would silently never update the missing weights.
  check_weights_created("parameters");
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
  return out;
}

int64_t Module::trainable_parameter_count() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : named_parameters()) count += tensor.numel();
  return count;
}

int64_t Module::non_trainable_parameter_count() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : named_buffers()) {
    if (tensor.is_floating_point()) count += tensor.numel();
  }
  return count;
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& child : children_) child->train(on);
}

// NOLINTNEXTLINE(readability-make-member-function-const): clearing gradients is a mutation.
void Module::zero_grad() {
  for (const auto& [name, p] : named_parameters()) p.set_grad(Tensor());
}

std::string unique_layer_name(const std::string& type_name) {
  // Keras's to_snake_case turns "MaxPooling2D" into "max_pooling2d" and "Conv2DTranspose" into
  // "conv2d_transpose": an underscore before each inner capital that follows a lower-case letter
  // or starts a capitalized word (a capital followed by a lower-case letter).
  const auto is_upper = [&](size_t i) {
    return std::isupper(static_cast<unsigned char>(type_name[i])) != 0;
  };
  const auto is_lower = [&](size_t i) {
    return i < type_name.size() && std::islower(static_cast<unsigned char>(type_name[i])) != 0;
  };
  std::string snake;
  for (size_t i = 0; i < type_name.size(); ++i) {
    const char c = type_name[i];
    if (i > 0 && is_upper(i) && (is_lower(i - 1) || is_lower(i + 1))) snake += '_';
    snake += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const std::lock_guard lock(name_mutex());
  const int index = name_counters()[snake]++;
  return index == 0 ? snake : snake + "_" + std::to_string(index);
}

void reset_layer_names() {
  const std::lock_guard lock(name_mutex());
  name_counters().clear();
}

}  // namespace nabla::nn
