// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed: a validating reader
// and a writer. They return raw arrays in host byte order; data/ wraps them into tensors.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace nabla::data {

// The element type is the third byte of the IDX magic number.
enum class IdxType : uint8_t {
  UInt8 = 0x08,
  Int8 = 0x09,
  Int16 = 0x0B,
  Int32 = 0x0C,
  Float32 = 0x0D,
  Float64 = 0x0E,
};

// The format allows 255 dimensions; nothing real has more than a handful, and a small bound
// keeps a corrupt count byte from being believed.
inline constexpr int kIdxMaxDims = 8;

// Bytes per element (1, 2, 4 or 8); throws nabla::Error for a value outside the enum.
[[nodiscard]] int64_t idx_element_size(IdxType type);
// "uint8", "int8", "int16", "int32", "float32", "float64"; "unknown(0x..)" otherwise.
[[nodiscard]] std::string idx_type_name(IdxType type);

// The C++ element type of each IdxType, for IdxArray::data_as<T>().
template <class T>
inline constexpr bool kIsIdxElement =
    std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, int16_t> ||
    std::is_same_v<T, int32_t> || std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
requires kIsIdxElement<T>
inline constexpr IdxType kIdxTypeOf = std::is_same_v<T, uint8_t>   ? IdxType::UInt8
                                      : std::is_same_v<T, int8_t>  ? IdxType::Int8
                                      : std::is_same_v<T, int16_t> ? IdxType::Int16
                                      : std::is_same_v<T, int32_t> ? IdxType::Int32
                                      : std::is_same_v<T, float>   ? IdxType::Float32
                                                                   : IdxType::Float64;

// One IDX array: `bytes` holds numel() elements of `type` in host byte order (IDX files are
// big-endian; read_idx and write_idx convert). Row-major, dims[0] outermost.
struct IdxArray {
  IdxType type = IdxType::UInt8;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;

  [[nodiscard]] int64_t element_size() const { return idx_element_size(type); }
  // Product of dims (1 for no dims); throws on a negative dim or 64-bit overflow.
  [[nodiscard]] int64_t numel() const;

  // The elements as T; throws unless T matches `type` and `bytes` has numel() elements.
  // NOTE: the vector's buffer comes from operator new, so it is aligned for any element type.
  template <class T>
  requires kIsIdxElement<T>
  [[nodiscard]] const T* data_as() const {
    check_access(kIdxTypeOf<T>);
    return reinterpret_cast<const T*>(bytes.data());
  }
  template <class T>
  requires kIsIdxElement<T>
  [[nodiscard]] T* data_as() {
    check_access(kIdxTypeOf<T>);
    return reinterpret_cast<T*>(bytes.data());
  }

 private:
  void check_access(IdxType requested) const;
};

// Reads an IDX file, gzip-compressed or not (detected from the magic bytes 1f 8b, not the file
// name). Everything is validated before anything is allocated from the header's numbers; a bad
// file throws nabla::Error naming the path, the values and the byte offsets at fault.
[[nodiscard]] IdxArray read_idx(const std::string& path);

// Parses an uncompressed IDX image held in memory, with the same checks as read_idx.
// `name_for_errors` stands in for the path in error messages.
[[nodiscard]] IdxArray parse_idx(std::span<const uint8_t> bytes,
                                 const std::string& name_for_errors);

// Writes `array` as an IDX file (gzip-compressed if `gzip`); throws nabla::Error on an
// inconsistent array or an I/O failure. The file is written to a temporary beside `path` and
// renamed over it, so a failed write leaves the old file (or none) and no partial file behind.
void write_idx(const std::string& path, const IdxArray& array, bool gzip);

// Finds an MNIST-style file in `dir`: tries `stem`, `stem.gz`, then the same with the other
// spelling of the separator before "idx" ("train-images-idx3-ubyte" and
// "train-images.idx3-ubyte" both occur in the wild). Returns the first that exists, or throws
// nabla::Error listing every path tried.
[[nodiscard]] std::string find_mnist_file(const std::string& dir, const std::string& stem);

}  // namespace nabla::data
