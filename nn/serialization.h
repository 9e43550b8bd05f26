// Saving and loading module weights as safetensors files (tensor/io/safetensors.h).
#pragma once

#include <string>

#include "nn/module.h"
#include "tensor/io/safetensors.h"

namespace nabla::nn {

// The tensor-level functions, also reachable as nn:: (where they lived before).
using nabla::load_safetensors;
using nabla::parse_safetensors;
using nabla::save_safetensors;

// Saves module.state() (parameters, then buffers) with the metadata {"format": "nabla"}.
void save_weights(const Module& module, const std::string& path);

// Loads a file written by save_weights (or any safetensors file with matching names) into the
// module's tensors. Every tensor of module.state() must be in the file with the same dtype and
// shape; with `strict`, the file may hold no other tensors. Everything is checked before the
// first tensor is written: a failed load leaves the module unchanged.
void load_weights(Module& module, const std::string& path, bool strict = true);

// load_weights from tensors already in memory (a checkpoint's "model." part); `path` names their
// source in error messages.
void load_state(Module& module, const NamedTensors& loaded, const std::string& path,
                bool strict = true);

}  // namespace nabla::nn
