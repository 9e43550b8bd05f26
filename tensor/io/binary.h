// Binary file helpers shared by the file formats (safetensors in tensor/io, IDX in data/): byte
// order, checked sizes, reading files and writing them atomically, with errno-named errors.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace nabla::io {

// Unsigned integers from/to bytes in a fixed order, whatever the host's.
template <std::unsigned_integral T>
[[nodiscard]] T load_be(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v << 8 | p[i]);
  return v;
}
template <std::unsigned_integral T>
[[nodiscard]] T load_le(const uint8_t* p) {
  T v = 0;
  for (size_t i = sizeof(T); i-- > 0;) v = static_cast<T>(v << 8 | p[i]);
  return v;
}
template <std::unsigned_integral T>
void store_be(T v, uint8_t* p) {
  for (size_t i = sizeof(T); i-- > 0; v = static_cast<T>(v >> 8)) p[i] = static_cast<uint8_t>(v);
}
template <std::unsigned_integral T>
void store_le(T v, uint8_t* p) {
  for (size_t i = 0; i < sizeof(T); ++i, v = static_cast<T>(v >> 8)) p[i] = static_cast<uint8_t>(v);
}

// Reverses the bytes of each `element_size`-byte element of p[0, size).
void swap_bytes(uint8_t* p, size_t size, size_t element_size);

// Big- or little-endian <-> host order, in place (the same operation both ways): a no-op on a
// host of that order.
inline void big_endian_to_from_host(uint8_t* p, size_t size, size_t element_size) {
  if constexpr (std::endian::native != std::endian::big) swap_bytes(p, size, element_size);
}
inline void little_endian_to_from_host(uint8_t* p, size_t size, size_t element_size) {
  if constexpr (std::endian::native != std::endian::little) swap_bytes(p, size, element_size);
}

// *out = a * b for non-negative a and b; false (and *out untouched) when either is negative or
// the product overflows int64.
[[nodiscard]] bool checked_mul(int64_t a, int64_t b, int64_t* out);

// The text of an errno value ("No such file or directory").
[[nodiscard]] std::string errno_message(int code);

// A file open for reading. Errors start with `prefix` ("read_idx: PATH: "): "cannot open: is a
// directory", "cannot open: <errno>", "read error at byte offset N: <errno>".
class InputFile {
 public:
  InputFile(const std::string& path, std::string prefix);

  // Reads up to n bytes into dst; fewer only at the end of the file.
  size_t read(void* dst, size_t n);
  // Everything from the current position to the end of the file.
  [[nodiscard]] std::vector<uint8_t> read_rest();
  // The file's size in bytes, or -1 for something that is not a regular file (a pipe).
  [[nodiscard]] int64_t size() const { return size_; }

 private:
  struct Closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string prefix_;
  std::unique_ptr<std::FILE, Closer> file_;
  int64_t size_ = -1;
  uint64_t offset_ = 0;
};

// Writes `path` through a temporary file beside it (unique per process and call, so concurrent
// writers never share one) that commit() flushes to disk and renames over `path`: a failed or
// abandoned write leaves the old file (or none) and no temporary behind. Errors start with
// `prefix`: "cannot open for writing (cannot create temporary file T): <errno>", "write to T
// failed", "fsync of T failed", "closing T failed", "cannot rename T to PATH".
class AtomicFile {
 public:
  AtomicFile(std::string path, std::string prefix);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void commit();
  [[nodiscard]] const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string prefix_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace nabla::io
