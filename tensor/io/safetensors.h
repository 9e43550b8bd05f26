// Saving and loading named tensors in the safetensors format (Hugging Face's header-length + JSON
// header + raw little-endian buffer), readable by the reference library.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace nabla {

// Tensors with their names, in order (nn::Module::state() returns the same type).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `tensors` (F32/F64/I64, any layout: non-contiguous ones are written contiguous) and
// optional string metadata ("__metadata__") to `path`. The file is written to a temporary file
// beside `path` and renamed over it, so a failed save never leaves a half-written file behind.
// Names must be non-empty, unique and not "__metadata__".
// NOTE: like the reference writer, tensors are laid out by descending dtype (I64, F64, F32), then
// by name: every tensor's data then starts at a multiple of its element size in the file (which
// lets mmap-based readers view it in place), and the bytes match the reference byte for byte.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a safetensors file, in the order of their data in the file. The header is
// validated completely (types, dtypes, shapes, offsets covering the buffer exactly, file length)
// before any tensor is allocated. Files with dtypes other than F32, F64 and I64 are rejected.
// `metadata`, when given, receives the "__metadata__" entries (cleared when there are none).
// NOTE: the file is read whole into memory first, so loading needs its size twice at the peak.
NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr);

// Parses a safetensors file held in memory, with the same checks as load_safetensors.
// `name_for_errors` stands in for the path in error messages.
NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& name_for_errors,
                               std::map<std::string, std::string>* metadata = nullptr);

}  // namespace nabla
