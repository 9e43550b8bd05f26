// Model::save_checkpoint / load_checkpoint: the full training state in one safetensors file.
//
// Layout (tensor names; the metadata holds "format": "nabla-checkpoint", "version": "1" and
// "optimizer": the optimizer's type):
//   model.<key>              the network's state() (parameters and buffers), as save_weights
//   optimizer.<key>          Optimizer::state_dict() (moments, step counts, learning rate)
//   generator.default        nabla::default_generator()'s state, int64 [6] (Generator::get_state)
//   generator.module[.path]  each layer's own generator (Dropout), by module path
//   callback.<i>.<key>       Callback::state_dict() of the fit's i-th callback
//   training.epoch, training.shuffle_seed, training.num_callbacks   int64 scalars
// and the metadata "callbacks": the callbacks' C++ types, separated by ";".
#include <cxxabi.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <typeinfo>

#include "nn/serialization.h"
#include "tensor/io/safetensors.h"
#include "tensor/random.h"
#include "train/model.h"

namespace nabla::train {
namespace {

constexpr std::string_view kFormat = "nabla-checkpoint";
constexpr std::string_view kVersion = "1";

Tensor int64_scalar(int64_t value) { return tensor(std::vector<int64_t>{value}, Shape{}); }

Tensor generator_tensor(const Generator& generator) {
  const auto lock = generator.lock();
  const auto words = generator.get_state();
  std::vector<int64_t> values;
  values.reserve(words.size());
  for (const uint64_t word : words) values.push_back(std::bit_cast<int64_t>(word));
  return tensor(values, Shape{static_cast<int64_t>(words.size())});
}

// A generator state checked by a scratch generator, so that a bad one is found before anything is
// written.
std::array<uint64_t, Generator::kStateWords> generator_words(const std::string& path,
                                                             const std::string& key,
                                                             const Tensor& t) {
  const Shape expected{static_cast<int64_t>(Generator::kStateWords)};
  if (t.dtype() != kInt64 || t.shape() != expected) {
    throw error("load_checkpoint: {}: '{}' must be int64 {}, got {} {}", path, key,
                shape_str(expected), dtype_name(t.dtype()), shape_str(t.shape()));
  }
  std::array<uint64_t, Generator::kStateWords> words{};
  const std::vector<int64_t> values = t.to_vector<int64_t>();
  for (size_t i = 0; i < words.size(); ++i) words[i] = std::bit_cast<uint64_t>(values[i]);
  Generator scratch;
  try {
    scratch.set_state(words);
  } catch (const Error& e) {
    throw error("load_checkpoint: {}: '{}': {}", path, key, e.what());
  }
  return words;
}

int64_t int64_entry(const std::string& path, const std::map<std::string, Tensor>& training,
                    const std::string& key) {
  const auto it = training.find(key);
  if (it == training.end()) throw error("load_checkpoint: {}: missing 'training.{}'", path, key);
  const Tensor& t = it->second;
  if (t.dtype() != kInt64 || t.dim() != 0) {
    throw error("load_checkpoint: {}: 'training.{}' must be an int64 scalar (shape []), got {} {}",
                path, key, dtype_name(t.dtype()), shape_str(t.shape()));
  }
  return t.item<int64_t>();
}

std::optional<size_t> parse_index(std::string_view text) {
  size_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// "nabla::train::EarlyStopping": a callback's type, saved so that a resumed fit cannot hand one
// callback's state to another whose keys happen to match.
std::string type_of(const Callback& callback) {
  const char* mangled = typeid(callback).name();
  int status = 0;
  const std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(mangled);
}

std::string generator_key(const std::string& module_path) {
  return module_path.empty() ? "module" : "module." + module_path;
}

void check_built(std::string_view op, const nn::Module& network, const std::string& path) {
  const std::vector<std::string> pending = network.layers_with_pending_weights();
  if (pending.empty()) return;
  std::string names;
  for (const std::string& name : pending) names += (names.empty() ? "" : ", ") + name;
  throw error(
      "{}: {}: {} {} not created {} weights yet; build the model (build(input_shape), an "
      "input_dim/input_shape option, or one forward pass) first",
      op, path, pending.size() == 1 ? "layer " + names : "layers " + names,
      pending.size() == 1 ? "has" : "have", pending.size() == 1 ? "its" : "their");
}

}  // namespace

void Model::save_checkpoint(const std::string& path) const {
  check_compiled("save_checkpoint");
  check_built("save_checkpoint", *network_, path);
  NamedTensors out;
  for (const auto& [key, t] : network_->state()) out.emplace_back("model." + key, t);
  const optim::OptimizerState optimizer_state = optimizer_->state_dict();
  for (const auto& [key, t] : optimizer_state.tensors) out.emplace_back("optimizer." + key, t);
  out.emplace_back("generator.default", generator_tensor(default_generator()));
  for (const auto& [module_path, generator] : network_->named_generators()) {
    out.emplace_back("generator." + generator_key(module_path), generator_tensor(*generator));
  }
  std::string callback_types;
  for (size_t i = 0; i < callbacks_.size(); ++i) {
    callback_types += (i == 0 ? "" : ";") + type_of(*callbacks_[i]);
    for (const auto& [key, t] : callbacks_[i]->state_dict()) {
      out.emplace_back(fmt::format("callback.{}.{}", i, key), t);
    }
  }
  out.emplace_back("training.epoch", int64_scalar(epochs_done_));
  out.emplace_back("training.shuffle_seed", int64_scalar(std::bit_cast<int64_t>(shuffle_seed_)));
  out.emplace_back("training.num_callbacks", int64_scalar(static_cast<int64_t>(callbacks_.size())));
  save_safetensors(path, out,
                   {{"format", std::string(kFormat)},
                    {"version", std::string(kVersion)},
                    {"optimizer", optimizer_state.type},
                    {"callbacks", callback_types}});
}

int64_t Model::load_checkpoint(const std::string& path) {
  check_compiled("load_checkpoint");
  check_built("load_checkpoint", *network_, path);
  if (optimizer_->parameters().empty()) optimizer_->set_parameters(network_->parameters());

  std::map<std::string, std::string> metadata;
  const NamedTensors all = load_safetensors(path, &metadata);
  const auto meta = [&](const std::string& key) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? std::string("(none)") : it->second;
  };
  if (meta("format") != kFormat) {
    throw error(
        "load_checkpoint: {}: not a nabla checkpoint (metadata format is '{}', expected '{}'); a "
        "weights file loads with load_weights",
        path, meta("format"), kFormat);
  }
  if (meta("version") != kVersion) {
    throw error("load_checkpoint: {}: checkpoint version '{}' is not supported (expected '{}')",
                path, meta("version"), kVersion);
  }

  // Sort the tensors by part; everything is checked before anything is written.
  NamedTensors model_tensors;
  optim::OptimizerState optimizer_state{.type = meta("optimizer"), .tensors = {}};
  std::map<std::string, Tensor> generators;
  std::map<std::string, Tensor> training;
  std::map<size_t, NamedTensors> callback_state;
  for (const auto& [name, t] : all) {
    const size_t dot = name.find('.');
    const std::string part = name.substr(0, dot);
    const std::string rest = dot == std::string::npos ? "" : name.substr(dot + 1);
    if (part == "model" && !rest.empty()) {
      model_tensors.emplace_back(rest, t);
    } else if (part == "optimizer" && !rest.empty()) {
      optimizer_state.tensors.emplace_back(rest, t);
    } else if (part == "generator" && !rest.empty()) {
      generators.emplace(rest, t);
    } else if (part == "training" && !rest.empty()) {
      training.emplace(rest, t);
    } else if (part == "callback" && rest.find('.') != std::string::npos) {
      const size_t second = rest.find('.');
      const std::optional<size_t> index = parse_index(std::string_view(rest).substr(0, second));
      if (!index) throw error("load_checkpoint: {}: unexpected tensor '{}'", path, name);
      callback_state[*index].emplace_back(rest.substr(second + 1), t);
    } else {
      throw error("load_checkpoint: {}: unexpected tensor '{}'", path, name);
    }
  }
  for (const auto& [key, t] : training) {
    if (key != "epoch" && key != "shuffle_seed" && key != "num_callbacks") {
      throw error("load_checkpoint: {}: unexpected tensor 'training.{}'", path, key);
    }
  }
  const int64_t epoch = int64_entry(path, training, "epoch");
  const auto shuffle_seed = std::bit_cast<uint64_t>(int64_entry(path, training, "shuffle_seed"));
  const int64_t num_callbacks = int64_entry(path, training, "num_callbacks");
  if (epoch < 0) throw error("load_checkpoint: {}: 'training.epoch' is {} (< 0)", path, epoch);
  if (num_callbacks < 0 || (!callback_state.empty() &&
                            callback_state.rbegin()->first >= static_cast<size_t>(num_callbacks))) {
    throw error(
        "load_checkpoint: {}: 'training.num_callbacks' ({}) does not cover the callback "
        "state in the file",
        path, num_callbacks);
  }

  // The callback types come from the metadata: one per saved callback, which also bounds
  // num_callbacks before anything is allocated from it.
  std::vector<std::string> callback_types;
  if (num_callbacks > 0) {
    const std::string types = meta("callbacks");
    for (size_t begin = 0; begin <= types.size();) {
      const size_t comma = std::min(types.find(';', begin), types.size());
      callback_types.push_back(types.substr(begin, comma - begin));
      begin = comma + 1;
    }
  }
  if (callback_types.size() != static_cast<size_t>(num_callbacks)) {
    throw error("load_checkpoint: {}: the metadata lists {} callback types for {} callbacks", path,
                callback_types.size(), num_callbacks);
  }

  // Generators: the default one and exactly the network's own.
  std::vector<std::pair<Generator*, std::array<uint64_t, Generator::kStateWords>>> new_states;
  const auto take_generator = [&](const std::string& key, Generator* generator) {
    const auto it = generators.find(key);
    if (it == generators.end()) {
      throw error("load_checkpoint: {}: missing 'generator.{}' (the network has a generator there)",
                  path, key);
    }
    new_states.emplace_back(generator, generator_words(path, "generator." + key, it->second));
    generators.erase(it);
  };
  take_generator("default", &default_generator());
  for (const auto& [module_path, generator] : network_->named_generators()) {
    take_generator(generator_key(module_path), generator);
  }
  if (!generators.empty()) {
    throw error(
        "load_checkpoint: {}: 'generator.{}' names no generator of this network (another "
        "architecture?)",
        path, generators.begin()->first);
  }

  // Snapshot, then write; on any failure the snapshot is put back.
  const NoGradGuard no_grad;
  NamedTensors weights_before;
  for (const auto& [key, t] : network_->state()) weights_before.emplace_back(key, clone(t));
  const optim::OptimizerState optimizer_before = optimizer_->state_dict();
  try {
    nn::load_state(*network_, model_tensors, path, /*strict=*/true);
    try {
      optimizer_->load_state_dict(optimizer_state);
    } catch (const Error& e) {
      throw error("load_checkpoint: {}: {}", path, e.what());
    }
  } catch (...) {
    nn::load_state(*network_, weights_before, path, /*strict=*/true);
    optimizer_->load_state_dict(optimizer_before);
    throw;
  }
  for (auto& [generator, words] : new_states) {
    const auto lock = generator->lock();
    generator->set_state(words);
  }

  const size_t saved_callbacks = callback_types.size();
  Resume resume{.path = path,
                .epoch = epoch,
                .shuffle_seed = shuffle_seed,
                .callbacks = std::vector<nn::NamedTensors>(saved_callbacks),
                .callback_types = std::move(callback_types)};
  for (auto& [index, state] : callback_state) resume.callbacks[index] = std::move(state);
  resume_ = std::move(resume);
  epochs_done_ = epoch;
  return epoch;
}

void Model::restore_callbacks(const std::vector<std::shared_ptr<Callback>>& callbacks) {
  const std::vector<nn::NamedTensors>& saved = resume_->callbacks;
  if (saved.size() != callbacks.size()) {
    bool any_state = false;
    for (const auto& state : saved) any_state = any_state || !state.empty();
    if (any_state) {
      throw error(
          "fit: the checkpoint was saved with {} callbacks, this fit has {}; pass the same "
          "callbacks, in the same order, to resume their state",
          saved.size(), callbacks.size());
    }
  }
  for (size_t i = 0; i < saved.size() && i < callbacks.size(); ++i) {
    if (saved[i].empty()) continue;
    const std::string type = type_of(*callbacks[i]);
    if (type != resume_->callback_types[i]) {
      throw error("fit: callback {} is a {}, but the checkpoint saved the state of a {} there", i,
                  type, resume_->callback_types[i]);
    }
    callbacks[i]->load_state_dict(saved[i]);
  }
}

}  // namespace nabla::train
