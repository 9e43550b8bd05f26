// Saving and loading module weights: module state <-> named tensors in a safetensors file.
#include "nn/serialization.h"

#include <fmt/ranges.h>

#include <map>
#include <string_view>
#include <vector>

#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/kernels/kernels.h"

namespace nabla::nn {
namespace {

// Longest list of tensor names in one load_weights message.
constexpr size_t kMaxListedNames = 10;

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxListedNames; ++i) {
    if (i > 0) out += ", ";
    out += "'" + names[i] + "'";
  }
  if (names.size() > kMaxListedNames) {
    out += fmt::format(" and {} more", names.size() - kMaxListedNames);
  }
  return out;
}

}  // namespace

void save_weights(const Module& module, const std::string& path) {
  module.check_weights_created(fmt::format("save_weights: {}", path));
  const NamedTensors state = module.state();
  if (state.empty() && !module.built()) {
    throw error(
        "save_weights: {}: the module has no parameters or buffers yet: layers that infer "
        "their sizes create them when built; call build(input_shape) or run one forward "
        "pass first",
        path);
  }
  save_safetensors(path, state, {{"format", "nabla"}});
}

void load_weights(Module& module, const std::string& path, bool strict) {
  module.check_weights_created(fmt::format("load_weights: {}", path));
  // The loaded tensors are the staged copies: nothing of the module is touched until all checks
  // in load_state have passed.
  load_state(module, load_safetensors(path), path, strict);
}

void load_state(Module& module, const NamedTensors& loaded, const std::string& path, bool strict) {
  module.check_weights_created(fmt::format("load_weights: {}", path));
  const NamedTensors targets = module.state();
  std::map<std::string, size_t> target_index;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!target_index.emplace(targets[i].first, i).second) {
      throw error(
          "load_weights: {}: the module has two tensors named '{}'; give its layers unique "
          "names",
          path, targets[i].first);
    }
  }

  if (targets.empty() && !loaded.empty()) {
    throw error(
        "load_weights: {}: the file has {} tensors but the module has no parameters or "
        "buffers yet: layers that infer their sizes create them when built; call "
        "build(input_shape) or run one forward pass before loading",
        path, loaded.size());
  }
  std::map<std::string, size_t> loaded_index;
  for (size_t i = 0; i < loaded.size(); ++i) loaded_index.emplace(loaded[i].first, i);

  std::vector<std::string> missing;
  std::vector<std::string> mismatches;
  for (const auto& [name, target] : targets) {
    const auto found = loaded_index.find(name);
    if (found == loaded_index.end()) {
      missing.push_back(name);
      continue;
    }
    const Tensor& source = loaded[found->second].second;
    if (source.dtype() != target.dtype() || source.shape() != target.shape()) {
      mismatches.push_back(fmt::format("tensor '{}': the module expects {} {}, the file has {} {}",
                                       name, dtype_name(target.dtype()), shape_str(target.shape()),
                                       dtype_name(source.dtype()), shape_str(source.shape())));
    }
  }
  if (!missing.empty()) {
    throw error("load_weights: {}: {} of the module's {} tensors missing from the file: {}", path,
                missing.size(), targets.size(), join_names(missing));
  }
  if (!mismatches.empty()) {
    std::string joined;
    for (const std::string& m : mismatches) joined += (joined.empty() ? "" : "; ") + m;
    throw error("load_weights: {}: {}", path, joined);
  }
  if (strict) {
    std::vector<std::string> extra;
    for (const auto& [name, tensor] : loaded) {
      if (target_index.find(name) == target_index.end()) extra.push_back(name);
    }
    if (!extra.empty()) {
      throw error(
          "load_weights: {}: the file has {} tensors the module lacks: {} (pass "
          "strict = false to ignore them)",
          path, extra.size(), join_names(extra));
    }
  }

  const NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    kernels::copy_(target, loaded[loaded_index.at(name)].second);
  }
}

}  // namespace nabla::nn
