// safetensors reading and writing: the header is validated in full with checked arithmetic before
// anything is allocated from its numbers; files are written to a temporary and renamed into place.
#include "tensor/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/error.h"
#include "tensor/io/binary.h"
#include "tensor/kernels/kernels.h"

namespace nabla {
namespace {

constexpr uint64_t kLengthPrefixBytes = 8;
// The reference library refuses headers above this size; a corrupt length must not make us
// allocate gigabytes before the JSON is even looked at.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";
// Longest piece of offending JSON quoted in an error message.
constexpr size_t kMaxQuotedJson = 80;
// A valid header nests 3 deep (header object, entry object, shape list). Deeper nesting is
// invalid anyway; the bound keeps anything that walks the parsed JSON recursively (quoting a
// value, comparing, copying) from overflowing the stack on a header like [[[[...]]]].
constexpr int kMaxHeaderDepth = 64;

std::string_view safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
  }
  return "?";
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  if (name == "F32") return kFloat32;
  if (name == "F64") return kFloat64;
  if (name == "I64") return kInt64;
  return std::nullopt;
}

// The other dtypes of the format: a file using them is valid but holds types nabla lacks, which
// deserves a different message than a misspelt dtype.
bool is_other_safetensors_dtype(std::string_view name) {
  static constexpr std::string_view kOthers[] = {
      "BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16",     "U16", "F16",
      "BF16", "I32", "U32", "U64",     "C64",     "F6_E2M3", "F6_E3M2", "F4"};
  return std::find(std::begin(kOthers), std::end(kOthers), name) != std::end(kOthers);
}

// The reference writer's order: descending dtype in its enum (I64 > F64 > F32), then by name.
// Element sizes then never increase along the buffer, so every tensor starts aligned.
int reference_dtype_rank(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 0;
    case DType::Float64: return 1;
    case DType::Int64: return 2;
  }
  return 0;
}

// Appends `value` as compact JSON to `out`, stopping soon after `out` passes `limit` characters:
// the header may be megabytes long, and a dump of a deeply nested value would recurse as deep as
// it nests. Each level appends a bracket before descending, so recursion stops within `limit`.
void append_json(const nlohmann::json& value, std::string& out, size_t limit) {
  const auto scalar = [](const nlohmann::json& v) {
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // Long strings are cut before they are escaped (replace turns a cut UTF-8 sequence into U+FFFD).
  const auto string = [&](const std::string& text) {
    return scalar(nlohmann::json(text.size() > limit ? text.substr(0, limit) : text));
  };
  if (out.size() > limit) return;
  if (value.is_array()) {
    out += '[';
    bool first = true;
    for (const nlohmann::json& item : value) {
      if (out.size() > limit) return;
      if (!first) out += ',';
      first = false;
      append_json(item, out, limit);
    }
    out += ']';
  } else if (value.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (out.size() > limit) return;
      if (!first) out += ',';
      first = false;
      out += string(key);
      out += ':';
      append_json(item, out, limit);
    }
    out += '}';
  } else if (value.is_string()) {
    out += string(value.get_ref<const std::string&>());
  } else {
    out += scalar(value);
  }
}

// A JSON value as text for an error message, shortened to kMaxQuotedJson characters.
std::string quote_json(const nlohmann::json& value) {
  std::string text;
  append_json(value, text, kMaxQuotedJson);
  if (text.size() > kMaxQuotedJson) text = text.substr(0, kMaxQuotedJson) + "...";
  return text;
}

// Throws unless `text` can be written as a JSON string (valid UTF-8).
void check_utf8(const std::string& prefix, std::string_view what, const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error&) {
    throw error("{}{} is not valid UTF-8 (JSON strings must be)", prefix, what);
  }
}

// One validated header entry.
struct Entry {
  std::string name;
  DType dtype = kFloat32;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A non-negative integer that fits in int64 (so in a Shape), or nullopt.
std::optional<int64_t> as_extent(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  // Non-negative integers parse as unsigned; a signed one here is negative.
  return std::nullopt;
}

Entry parse_entry(const std::string& prefix, const std::string& name, const nlohmann::json& value) {
  const std::string where = fmt::format("{}tensor '{}': ", prefix, name);
  if (!value.is_object()) {
    throw error("{}entry is a JSON {} ({}), expected an object with dtype, shape and data_offsets",
                where, value.type_name(), quote_json(value));
  }
  for (const auto& [key, unused] : value.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      throw error("{}unexpected key \"{}\" (an entry has exactly dtype, shape and data_offsets)",
                  where, key);
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) throw error("{}missing \"{}\"", where, key);
  }

  Entry entry;
  entry.name = name;

  const nlohmann::json& dtype = value["dtype"];
  if (!dtype.is_string()) {
    throw error("{}dtype must be a string, found {}", where, quote_json(dtype));
  }
  const auto& dtype_text = dtype.get_ref<const std::string&>();
  const std::optional<DType> parsed_dtype = dtype_from_safetensors(dtype_text);
  if (!parsed_dtype) {
    if (is_other_safetensors_dtype(dtype_text)) {
      throw error("{}unsupported dtype \"{}\" (nabla reads F32, F64 and I64)", where, dtype_text);
    }
    throw error("{}unknown dtype \"{}\" (nabla reads F32, F64 and I64)", where, dtype_text);
  }
  entry.dtype = *parsed_dtype;

  const nlohmann::json& shape = value["shape"];
  if (!shape.is_array()) {
    throw error("{}shape must be a list of non-negative integers, found {}", where,
                quote_json(shape));
  }
  int64_t numel = 1;
  for (const nlohmann::json& extent : shape) {
    const std::optional<int64_t> parsed = as_extent(extent);
    if (!parsed) {
      throw error("{}shape must be a list of non-negative integers, found {}", where,
                  quote_json(shape));
    }
    entry.shape.push_back(*parsed);
    if (__builtin_mul_overflow(numel, *parsed, &numel)) {
      throw error("{}shape {} has more elements than fit in 64 bits", where, quote_json(shape));
    }
  }
  // A shape with a 0 extent has no elements, but a tensor of it still has strides: the product
  // of the other extents must fit in 64 bits too ([0, 2^32, 2^32] does not).
  int64_t strided = 1;
  for (const int64_t extent : entry.shape) {
    if (__builtin_mul_overflow(strided, std::max<int64_t>(extent, 1), &strided)) {
      throw error("{}shape {}: the product of its nonzero extents does not fit in 64 bits", where,
                  quote_json(shape));
    }
  }
  int64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(entry.dtype)), &nbytes)) {
    throw error("{}shape {} has more bytes than fit in 64 bits", where, quote_json(shape));
  }

  const nlohmann::json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    throw error("{}data_offsets must be a list of two non-negative integers [begin, end], found {}",
                where, quote_json(offsets));
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.end < entry.begin) {
    throw error("{}data_offsets [{}, {}] end before they begin", where, entry.begin, entry.end);
  }
  if (entry.end - entry.begin != static_cast<uint64_t>(nbytes)) {
    throw error("{}{} {} needs {} bytes, but data_offsets [{}, {}] span {}", where, dtype_text,
                shape_str(entry.shape), nbytes, entry.begin, entry.end, entry.end - entry.begin);
  }
  return entry;
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string prefix = fmt::format("save_safetensors: {}: ", path);

  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    if (name.empty()) throw error("{}tensor #{} has an empty name", prefix, i);
    if (name == kMetadataKey) {
      throw error("{}tensor #{} is named \"{}\", which the format reserves for metadata", prefix, i,
                  kMetadataKey);
    }
    if (!tensor.defined()) throw error("{}tensor '{}' is undefined", prefix, name);
    const auto [it, inserted] = seen.emplace(name, i);
    if (!inserted) {
      throw error("{}duplicate tensor name '{}' (entries #{} and #{})", prefix, name, it->second,
                  i);
    }
    check_utf8(prefix, fmt::format("tensor name #{}", i), name);
  }
  for (const auto& [key, value] : metadata) {
    check_utf8(prefix, "a metadata key", key);
    check_utf8(prefix, fmt::format("metadata value of \"{}\"", key), value);
  }

  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int rank_a = reference_dtype_rank(tensors[a].second.dtype());
    const int rank_b = reference_dtype_rank(tensors[b].second.dtype());
    if (rank_a != rank_b) return rank_a > rank_b;
    return tensors[a].first < tensors[b].first;
  });

  // ordered_json keeps insertion order: "__metadata__" first, then tensors in buffer order, and
  // each entry's keys as dtype, shape, data_offsets, exactly as the reference serializes them.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[std::string(kMetadataKey)] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const size_t i : order) {
    const auto& [name, tensor] = tensors[i];
    const auto nbytes = static_cast<uint64_t>(tensor.numel()) * dtype_size(tensor.dtype());
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = std::string(safetensors_dtype(tensor.dtype()));
    entry["shape"] = tensor.shape();
    entry["data_offsets"] = {offset, offset + nbytes};
    header[name] = std::move(entry);
    offset += nbytes;
  }
  std::string header_text = header.dump();
  // Spaces pad the header to a multiple of 8 so the buffer starts 8-byte aligned in the file.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  uint8_t length_prefix[kLengthPrefixBytes];
  io::store_le<uint64_t>(header_text.size(), length_prefix);

  io::AtomicFile file(path, prefix);
  file.write(length_prefix, sizeof(length_prefix));
  file.write(header_text.data(), header_text.size());
  for (const size_t i : order) {
    const Tensor data = kernels::contiguous(tensors[i].second);
    const auto nbytes = static_cast<size_t>(data.numel()) * dtype_size(data.dtype());
    if (nbytes == 0) continue;
    if constexpr (std::endian::native == std::endian::little) {
      file.write(data.raw_data(), nbytes);
    } else {
      std::vector<uint8_t> bytes(static_cast<const uint8_t*>(data.raw_data()),
                                 static_cast<const uint8_t*>(data.raw_data()) + nbytes);
      io::little_endian_to_from_host(bytes.data(), bytes.size(), dtype_size(data.dtype()));
      file.write(bytes.data(), bytes.size());
    }
  }
  file.commit();
}

namespace {

// Where the bytes come from, for error messages: the "load_safetensors: PATH: " or
// "parse_safetensors: NAME: " prefix, and "file" or "buffer" for what holds them.
struct Origin {
  std::string prefix;
  const char* holder;
};

// The validated header: entries sorted by offsets, covering the data buffer exactly.
struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;
};

// The header length from the 8-byte little-endian prefix, checked against the limit and against
// `total_size`, the bytes of the whole file.
uint64_t header_length(const Origin& origin, const uint8_t* length_prefix, uint64_t total_size) {
  const auto header_size = io::load_le<uint64_t>(length_prefix);
  if (header_size > kMaxHeaderBytes) {
    throw error("{}header length {} exceeds the limit of {} bytes (not a safetensors file?)",
                origin.prefix, header_size, kMaxHeaderBytes);
  }
  if (header_size > total_size - kLengthPrefixBytes) {
    throw error(
        "{}header length {} runs past the end of the {}: the header would end at {} offset {}, "
        "the {} has {} bytes",
        origin.prefix, header_size, origin.holder, origin.holder, kLengthPrefixBytes + header_size,
        origin.holder, total_size);
  }
  return header_size;
}

void check_total_size(const Origin& origin, uint64_t total_size) {
  if (total_size < kLengthPrefixBytes) {
    throw error("{}{} has {} bytes; a safetensors file starts with an 8-byte header length",
                origin.prefix, origin.holder, total_size);
  }
}

// Rejects arrays and objects nested deeper than kMaxHeaderDepth before the JSON is parsed. Only
// brackets outside strings count; unbalanced ones are left for the parser to report.
void check_nesting(const Origin& origin, std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxHeaderDepth) {
        throw error(
            "{}header nests JSON arrays and objects more than {} deep: header byte {} ({} offset "
            "{}) opens level {} (a safetensors header nests 3 deep)",
            origin.prefix, kMaxHeaderDepth, i, origin.holder, kLengthPrefixBytes + i, depth);
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// Parses and validates the JSON header completely; `total_size` is the bytes of the whole file.
Header parse_header(const Origin& origin, std::string_view header_text, uint64_t total_size) {
  const std::string& prefix = origin.prefix;
  Header out;
  out.data_start = kLengthPrefixBytes + header_text.size();
  const uint64_t buffer_size = total_size - out.data_start;
  check_nesting(origin, header_text);

  // nlohmann keeps the last of duplicate keys silently; the callback sees every top-level key,
  // so a tensor declared twice is caught instead of one declaration vanishing.
  std::set<std::string> top_level_keys;
  std::optional<std::string> duplicate_key;
  const auto on_event = [&](int depth, nlohmann::json::parse_event_t event,
                            nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && !duplicate_key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!top_level_keys.insert(key).second) duplicate_key = key;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text.begin(), header_text.end(), on_event);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts the characters read, so the offending one is at e.byte - 1.
    const uint64_t at = e.byte > 0 ? static_cast<uint64_t>(e.byte) - 1 : 0;
    throw error("{}header is not valid JSON: error at header byte {} ({} offset {}): {}", prefix,
                at, origin.holder, kLengthPrefixBytes + at, e.what());
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error but a value the parser cannot hold: out_of_range 406 for a number
    // beyond double range ("shape": [1e400]).
    throw error("{}header cannot be parsed: {}", prefix, e.what());
  }
  if (!header.is_object()) {
    throw error("{}header is a JSON {}, expected an object", prefix, header.type_name());
  }
  if (duplicate_key) {
    throw error("{}tensor '{}' is declared twice in the header", prefix, *duplicate_key);
  }

  try {
    for (const auto& [key, value] : header.items()) {
      if (key == kMetadataKey) {
        if (!value.is_object()) {
          throw error("{}\"{}\" is a JSON {}, expected an object of strings", prefix, kMetadataKey,
                      value.type_name());
        }
        for (const auto& [meta_key, meta_value] : value.items()) {
          if (!meta_value.is_string()) {
            throw error(R"({}"{}" entry "{}" must be a string, found {})", prefix, kMetadataKey,
                        meta_key, quote_json(meta_value));
          }
          out.metadata.emplace(meta_key, meta_value.get<std::string>());
        }
        continue;
      }
      out.entries.push_back(parse_entry(prefix, key, value));
    }
  } catch (const nlohmann::json::exception& e) {
    // The checks above test every type before using it; this keeps a missed case an Error.
    throw error("{}unexpected JSON in the header: {}", prefix, e.what());
  }

  // The buffer must be covered exactly: sorted by offsets, each tensor begins where the previous
  // one ended. stable_sort keeps name order (the map's) among empty tensors at the same offset.
  std::vector<Entry>& entries = out.entries;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    if (entry.begin < covered) {
      const Entry& previous = entries[i - 1];
      throw error("{}tensors '{}' (data_offsets [{}, {}]) and '{}' (data_offsets [{}, {}]) overlap",
                  prefix, previous.name, previous.begin, previous.end, entry.name, entry.begin,
                  entry.end);
    }
    if (entry.begin > covered) {
      throw error(
          "{}hole in the data buffer: bytes [{}, {}) before tensor '{}' (data_offsets [{}, "
          "{}]) belong to no tensor",
          prefix, covered, entry.begin, entry.name, entry.begin, entry.end);
    }
    covered = entry.end;
  }
  if (covered > buffer_size) {
    const auto past_end = std::find_if(entries.begin(), entries.end(),
                                       [&](const Entry& e) { return e.end > buffer_size; });
    throw error(
        "{}{} is truncated: tensor '{}' (data_offsets [{}, {}]) ends at {} offset {}, "
        "but the {} has {} bytes (data buffer of {} bytes after the {}-byte header)",
        prefix, origin.holder, past_end->name, past_end->begin, past_end->end, origin.holder,
        out.data_start + past_end->end, origin.holder, total_size, buffer_size, header_text.size());
  }
  if (covered < buffer_size) {
    throw error("{}{} trailing bytes: the tensors end at {} offset {}, the {} has {} bytes", prefix,
                buffer_size - covered, origin.holder, out.data_start + covered, origin.holder,
                total_size);
  }
  return out;
}

// Parses a whole safetensors file held in `bytes`; the tensors are in buffer order.
NamedTensors parse(const Origin& origin, std::span<const uint8_t> bytes,
                   std::map<std::string, std::string>* metadata) {
  const auto total_size = static_cast<uint64_t>(bytes.size());
  check_total_size(origin, total_size);
  const uint64_t header_size = header_length(origin, bytes.data(), total_size);
  const std::string_view header_text(
      reinterpret_cast<const char*>(bytes.data()) + kLengthPrefixBytes,
      static_cast<size_t>(header_size));
  Header header = parse_header(origin, header_text, total_size);

  // Everything checked: the numbers are now safe to allocate from.
  NamedTensors out;
  out.reserve(header.entries.size());
  for (const Entry& entry : header.entries) {
    Tensor tensor = Tensor::empty(entry.shape, entry.dtype);
    const size_t nbytes = entry.end - entry.begin;
    if (nbytes > 0) {
      auto* data = static_cast<uint8_t*>(tensor.raw_data());
      std::memcpy(data, bytes.data() + header.data_start + entry.begin, nbytes);
      io::little_endian_to_from_host(data, nbytes, dtype_size(entry.dtype));
    }
    out.emplace_back(entry.name, std::move(tensor));
  }
  if (metadata != nullptr) *metadata = std::move(header.metadata);
  return out;
}

}  // namespace

NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata) {
  const Origin origin{fmt::format("load_safetensors: {}: ", path), "file"};
  io::InputFile file(path, origin.prefix);
  if (file.size() < 0) throw error("{}not a regular file", origin.prefix);
  return parse(origin, file.read_rest(), metadata);
}

NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& name_for_errors,
                               std::map<std::string, std::string>* metadata) {
  return parse(Origin{fmt::format("parse_safetensors: {}: ", name_for_errors), "buffer"}, bytes,
               metadata);
}

}  // namespace nabla
