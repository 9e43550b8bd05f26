// IDX reader and writer. One validating core reads from a byte source (memory, plain file or
// zlib inflate stream), so every input path gets the same checks and the same messages.
#include "data/idx.h"

#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <system_error>
#include <utility>

#include "tensor/error.h"

namespace nabla::data {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxIdxDim = 0xFFFFFFFF;  // dims are stored as 32-bit unsigned integers
// Deflate cannot compress better than about 1032:1, so a gzip file of n bytes cannot
// decompress to more than this many times n (plus slack for a tiny stream).
constexpr int64_t kMaxDeflateRatio = 1032;
constexpr int64_t kDeflateSlack = 1 << 16;
// When the decompressed size is unknown, the data buffer grows as data actually arrives, so a
// header that lies cannot make us allocate much more than twice what the stream holds. The
// first step is big enough for MNIST's 47 MB of training images: growing by copies costs
// fresh pages, and a first touch of a page is what dominates reading them.
constexpr size_t kFirstChunk = size_t{64} << 20;
constexpr size_t kIoChunk = size_t{1} << 16;  // a multiple of every element size

bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  if (a < 0 || b < 0) {
    return false;
  }
  if (a != 0 && b > kInt64Max / a) {
    return false;
  }
  *out = a * b;
  return true;
}

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  return checked_mul(a, b, &out) ? out : kInt64Max;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  return dims.empty() ? std::string("[]") : fmt::format("{}", fmt::join(dims, "x"));
}

std::string errno_message(int err) {
  return std::error_code(err, std::generic_category()).message();
}

bool valid_type(uint8_t code) {
  switch (static_cast<IdxType>(code)) {
    case IdxType::UInt8:
    case IdxType::Int8:
    case IdxType::Int16:
    case IdxType::Int32:
    case IdxType::Float32:
    case IdxType::Float64: return true;
  }
  return false;
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(uint32_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Big-endian <-> host, in place; the same operation in both directions. `size` is a multiple
// of `element_size`.
void swap_to_from_big_endian(uint8_t* p, size_t size, int64_t element_size) {
  if constexpr (std::endian::native == std::endian::big) {
    return;
  }
  switch (element_size) {
    case 2:
      for (size_t i = 0; i < size; i += 2) {
        std::swap(p[i], p[i + 1]);
      }
      break;
    case 4:
      for (size_t i = 0; i < size; i += 4) {
        uint32_t v = 0;
        std::memcpy(&v, p + i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(p + i, &v, 4);
      }
      break;
    case 8:
      for (size_t i = 0; i < size; i += 8) {
        uint64_t v = 0;
        std::memcpy(&v, p + i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(p + i, &v, 8);
      }
      break;
    default: break;  // single bytes have no order
  }
}

// How errors name their origin: "read_idx: /x/y: " and what holds the bytes ("file", ...).
struct Context {
  std::string prefix;
  const char* holder;
};

// A sequential stream of the (uncompressed) IDX bytes.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into dst; fewer only at the end of the data. Throws on I/O errors.
  virtual size_t read(uint8_t* dst, size_t n) = 0;
  // Total bytes the stream will deliver, or -1 when that is only known at the end (gzip).
  [[nodiscard]] virtual int64_t known_size() const { return -1; }
  // An upper bound on the total bytes, or -1 for none.
  [[nodiscard]] virtual int64_t max_size() const { return -1; }
};

class SpanSource final : public ByteSource {
 public:
  explicit SpanSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t read(uint8_t* dst, size_t n) override {
    const size_t count = std::min(n, bytes_.size() - position_);
    if (count > 0) {
      std::memcpy(dst, bytes_.data() + position_, count);
    }
    position_ += count;
    return count;
  }
  [[nodiscard]] int64_t known_size() const override { return static_cast<int64_t>(bytes_.size()); }

 private:
  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// The raw bytes of a file; `size()` is -1 for something that is not a regular file (a pipe).
class FileReader {
 public:
  FileReader(const std::string& path, const Context& context) : context_(context) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      throw error("{}cannot open: is a directory", context_.prefix);
    }
    errno = 0;
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) {
      throw error("{}cannot open: {}", context_.prefix, errno_message(errno));
    }
    if (std::filesystem::is_regular_file(path, ec)) {
      const auto size = std::filesystem::file_size(path, ec);
      if (!ec && size <= static_cast<uintmax_t>(kInt64Max)) {
        size_ = static_cast<int64_t>(size);
      }
    }
  }

  size_t read(uint8_t* dst, size_t n) {
    size_t total = 0;
    while (total < n) {
      errno = 0;
      const size_t got = std::fread(dst + total, 1, n - total, file_.get());
      total += got;
      if (got == 0) {
        if (std::ferror(file_.get()) != 0) {
          throw error("{}read error at byte offset {}: {}", context_.prefix, consumed_ + total,
                      errno_message(errno));
        }
        break;  // end of file
      }
    }
    consumed_ += total;
    return total;
  }

  [[nodiscard]] int64_t size() const { return size_; }
  [[nodiscard]] uint64_t consumed() const { return consumed_; }

 private:
  const Context& context_;
  FilePtr file_;
  int64_t size_ = -1;
  uint64_t consumed_ = 0;
};

// An uncompressed file; `prefix` holds the bytes already read to sniff the format.
class PlainSource final : public ByteSource {
 public:
  PlainSource(FileReader& file, std::span<const uint8_t> prefix) : file_(file), prefix_(prefix) {}
  size_t read(uint8_t* dst, size_t n) override {
    const size_t from_prefix = std::min(n, prefix_.size());
    if (from_prefix > 0) {
      std::memcpy(dst, prefix_.data(), from_prefix);
    }
    prefix_ = prefix_.subspan(from_prefix);
    return from_prefix + file_.read(dst + from_prefix, n - from_prefix);
  }
  [[nodiscard]] int64_t known_size() const override { return file_.size(); }

 private:
  FileReader& file_;
  std::span<const uint8_t> prefix_;
};

// Inflates a gzip file (one or more concatenated members, as gunzip accepts). inflate checks
// each member's CRC-32 and length at its end, so a reader must drain to end-of-stream.
class GzipSource final : public ByteSource {
 public:
  GzipSource(FileReader& file, std::span<const uint8_t> prefix, const Context& context)
      : file_(file), context_(context), input_(kIoChunk) {
    std::copy(prefix.begin(), prefix.end(), input_.begin());
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(prefix.size());
    // 16 + MAX_WBITS: gzip wrapper only (we sniffed 1f 8b), largest window.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
      throw error("{}cannot initialize zlib: {}", context_.prefix,
                  stream_.msg != nullptr ? stream_.msg : "out of memory");
    }
  }
  ~GzipSource() override { inflateEnd(&stream_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(uint8_t* dst, size_t n) override {
    size_t produced = 0;
    while (produced < n && !finished_) {
      if (stream_.avail_in == 0) {
        fill_input(1);
      }
      const size_t room = std::min<size_t>(n - produced, UINT_MAX);
      stream_.next_out = dst + produced;
      stream_.avail_out = static_cast<uInt>(room);
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      produced += room - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        end_of_member();
      } else if (rc == Z_BUF_ERROR) {
        // No progress: inflate wants input we do not have.
        if (stream_.avail_in > 0) {
          // Cannot happen with room on both sides; guards against looping forever.
          throw error("{}corrupt gzip stream near compressed byte {}: inflate made no progress",
                      context_.prefix, compressed_offset());
        }
        if (input_eof_) {
          throw error(
              "{}truncated gzip stream: compressed data ends at byte {} before the end of the "
              "stream ({} bytes decompressed so far)",
              context_.prefix, compressed_offset(), decompressed_ + produced);
        }
      } else if (rc == Z_MEM_ERROR) {
        throw error("{}out of memory while decompressing", context_.prefix);
      } else if (rc != Z_OK) {
        throw error("{}corrupt gzip stream near compressed byte {}: {}", context_.prefix,
                    compressed_offset(), stream_.msg != nullptr ? stream_.msg : "invalid data");
      }
    }
    decompressed_ += produced;
    return produced;
  }

  [[nodiscard]] int64_t max_size() const override {
    if (file_.size() < 0) {
      return -1;
    }
    const int64_t bound = saturating_mul(file_.size(), kMaxDeflateRatio);
    return bound > kInt64Max - kDeflateSlack ? kInt64Max : bound + kDeflateSlack;
  }

 private:
  // Keeps unconsumed input and reads more until at least `want` bytes are buffered or EOF.
  void fill_input(size_t want) {
    std::memmove(input_.data(), stream_.next_in, stream_.avail_in);
    size_t have = stream_.avail_in;
    while (have < want && !input_eof_) {
      const size_t got = file_.read(input_.data() + have, input_.size() - have);
      if (got == 0) {
        input_eof_ = true;
      }
      have += got;
    }
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(have);
  }

  // Either the file ends, another gzip member follows, or there is garbage after the stream.
  void end_of_member() {
    fill_input(2);
    if (stream_.avail_in == 0) {
      finished_ = true;
    } else if (stream_.avail_in >= 2 && stream_.next_in[0] == 0x1f && stream_.next_in[1] == 0x8b) {
      inflateReset(&stream_);
    } else {
      throw error("{}unexpected bytes after the end of the gzip stream at compressed byte {}",
                  context_.prefix, compressed_offset());
    }
  }

  [[nodiscard]] uint64_t compressed_offset() const { return file_.consumed() - stream_.avail_in; }

  FileReader& file_;
  const Context& context_;
  std::vector<uint8_t> input_;
  z_stream stream_{};
  bool input_eof_ = false;
  bool finished_ = false;
  uint64_t decompressed_ = 0;
};

// The validating core shared by parse_idx and read_idx.
IdxArray read_from(ByteSource& source, const Context& context) {
  const auto& p = context.prefix;
  std::array<uint8_t, 4 + 4 * kIdxMaxDims> header{};
  const size_t got_magic = source.read(header.data(), 4);
  if (got_magic < 4) {
    throw error("{}truncated header: the {} has {} bytes, the magic number alone needs 4", p,
                context.holder, got_magic);
  }
  const uint32_t magic = load_be32(header.data());
  if (header[0] != 0 || header[1] != 0) {
    throw error("{}bad magic number 0x{:08x}: its first two bytes must be 0 (not an IDX file?)", p,
                magic);
  }
  if (!valid_type(header[2])) {
    throw error(
        "{}unknown element type 0x{:02x} in magic number 0x{:08x} (known: 0x08 uint8, 0x09 "
        "int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)",
        p, header[2], magic);
  }
  const auto type = static_cast<IdxType>(header[2]);
  const int ndims = header[3];
  if (ndims < 1 || ndims > kIdxMaxDims) {
    throw error("{}{} dimensions in magic number 0x{:08x}; expected 1 to {}", p, ndims, magic,
                kIdxMaxDims);
  }
  const int64_t header_bytes = 4 + 4 * int64_t{ndims};
  const size_t dims_bytes = 4 * static_cast<size_t>(ndims);
  const size_t got_dims = source.read(header.data() + 4, dims_bytes);
  if (got_dims < dims_bytes) {
    throw error("{}truncated header: {} dimensions need a {}-byte header, the {} has {} bytes", p,
                ndims, header_bytes, context.holder, 4 + got_dims);
  }

  IdxArray out;
  out.type = type;
  out.dims.resize(static_cast<size_t>(ndims));
  int64_t data_bytes = idx_element_size(type);
  bool overflow = false;
  for (size_t i = 0; i < out.dims.size(); ++i) {
    out.dims[i] = load_be32(header.data() + 4 + 4 * i);
    overflow = overflow || !checked_mul(data_bytes, out.dims[i], &data_bytes);
  }
  const std::string what = fmt::format("{} {}", dims_string(out.dims), idx_type_name(type));
  if (overflow) {
    throw error("{}dimensions {} overflow: their size in bytes does not fit in 64 bits", p, what);
  }
  // An array with a 0 dimension is empty, but a tensor of its shape still has strides: the
  // product of the other dimensions must fit in 64 bits too (0x4294967295x4294967295 does not).
  int64_t strided = 1;
  for (const int64_t dim : out.dims) {
    if (!checked_mul(strided, std::max<int64_t>(dim, 1), &strided)) {
      throw error(
          "{}dimensions {} overflow: the product of the nonzero dimensions does not fit in 64 "
          "bits, so no tensor can have this shape",
          p, what);
    }
  }

  // Check the claim against what the source can hold before allocating anything from it.
  if (const int64_t known = source.known_size(); known >= 0) {
    const int64_t follow = known - header_bytes;
    if (follow < data_bytes) {
      throw error(
          "{}truncated data: header says {} = {} bytes at offset {}, the {} has only {} bytes "
          "after the header ({} in all)",
          p, what, data_bytes, header_bytes, context.holder, follow, known);
    }
    if (follow > data_bytes) {
      throw error(
          "{}{} trailing bytes: header says {} = {} bytes at offset {}, the {} has {} bytes", p,
          follow - data_bytes, what, data_bytes, header_bytes, context.holder, known);
    }
  } else if (const int64_t bound = source.max_size();
             bound >= 0 && data_bytes > bound - header_bytes) {
    throw error(
        "{}header says {} = {} bytes of data, more than this gzip file can hold (at most {} "
        "bytes at a deflate ratio of {}:1)",
        p, what, data_bytes, bound, kMaxDeflateRatio);
  }

  const auto target = static_cast<size_t>(data_bytes);
  const bool grow = source.known_size() < 0;
  size_t filled = 0;
  while (filled < target) {
    const size_t want = grow ? std::min(target, std::max(2 * filled, kFirstChunk)) : target;
    out.bytes.resize(want);
    const size_t got = source.read(out.bytes.data() + filled, want - filled);
    filled += got;
    if (filled < want) {
      throw error(
          "{}truncated data: header says {} = {} bytes at offset {}, the {} has only {} bytes "
          "after the header",
          p, what, data_bytes, header_bytes, context.holder, filled);
    }
  }
  // Drain to the end: a file that grew since we sized it, or a gzip stream with more data
  // than the header claims, must not be silently cut short (and gzip checks its CRC here).
  uint64_t trailing = 0;
  std::vector<uint8_t> scratch(kIoChunk);
  while (const size_t extra = source.read(scratch.data(), scratch.size())) {
    trailing += extra;
  }
  if (trailing > 0) {
    throw error("{}{} trailing bytes: header says {} = {} bytes at offset {}, the {} has {} bytes",
                p, trailing, what, data_bytes, header_bytes, context.holder,
                static_cast<uint64_t>(header_bytes + data_bytes) + trailing);
  }
  swap_to_from_big_endian(out.bytes.data(), out.bytes.size(), out.element_size());
  return out;
}

// Writes all of `size` bytes or reports failure, to plain stdio or to zlib's gz* stream.
class Sink {
 public:
  Sink(const std::string& path, bool gzip) : gzip_(gzip) {
    errno = 0;
    if (gzip_) {
      gz_ = gzopen(path.c_str(), "wb");
      ok_ = gz_ != nullptr;
    } else {
      file_ = std::fopen(path.c_str(), "wb");
      ok_ = file_ != nullptr;
    }
    if (!ok_) {
      error_ = errno != 0 ? errno_message(errno) : std::string("cannot open");
    }
  }
  ~Sink() { close(); }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  [[nodiscard]] bool opened() const { return gz_ != nullptr || file_ != nullptr; }

  void write(const uint8_t* data, size_t size) {
    if (!ok_ || size == 0) {
      return;
    }
    errno = 0;
    if (gzip_) {
      ok_ = gzwrite(gz_, data, static_cast<unsigned>(size)) == static_cast<int>(size);
    } else {
      ok_ = std::fwrite(data, 1, size, file_) == size;
    }
    if (!ok_) {
      remember_error();
    }
  }

  // Flushes and closes; false (with error()) if anything failed along the way.
  bool close() {
    errno = 0;
    if (gz_ != nullptr) {
      if (gzclose(gz_) != Z_OK && ok_) {
        ok_ = false;
        remember_error();
      }
      gz_ = nullptr;
    }
    if (file_ != nullptr) {
      if (std::fclose(file_) != 0 && ok_) {
        ok_ = false;
        remember_error();
      }
      file_ = nullptr;
    }
    return ok_;
  }

  [[nodiscard]] const std::string& error_message() const { return error_; }

 private:
  void remember_error() {
    if (error_.empty()) {
      error_ = errno != 0 ? errno_message(errno) : std::string("write failed");
    }
  }

  bool gzip_;
  bool ok_ = false;
  gzFile gz_ = nullptr;
  std::FILE* file_ = nullptr;
  std::string error_;
};

}  // namespace

int64_t idx_element_size(IdxType type) {
  switch (type) {
    case IdxType::UInt8:
    case IdxType::Int8: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32:
    case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  throw error("idx_element_size: unknown IDX type 0x{:02x}", static_cast<unsigned>(type));
}

std::string idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::UInt8: return "uint8";
    case IdxType::Int8: return "int8";
    case IdxType::Int16: return "int16";
    case IdxType::Int32: return "int32";
    case IdxType::Float32: return "float32";
    case IdxType::Float64: return "float64";
  }
  return fmt::format("unknown(0x{:02x})", static_cast<unsigned>(type));
}

int64_t IdxArray::numel() const {
  int64_t n = 1;
  for (const int64_t d : dims) {
    if (!checked_mul(n, d, &n)) {
      throw error("IdxArray::numel: dims {} are negative or overflow 64 bits", dims_string(dims));
    }
  }
  return n;
}

void IdxArray::check_access(IdxType requested) const {
  if (requested != type) {
    throw error("IdxArray::data_as: the array holds {}, not {}", idx_type_name(type),
                idx_type_name(requested));
  }
  int64_t expected = 0;
  if (!checked_mul(numel(), element_size(), &expected) ||
      static_cast<uint64_t>(expected) != bytes.size()) {
    throw error("IdxArray::data_as: {} {} needs {} bytes, the array has {}", dims_string(dims),
                idx_type_name(type), expected, bytes.size());
  }
}

IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name_for_errors) {
  const Context context{fmt::format("parse_idx: {}: ", name_for_errors), "buffer"};
  SpanSource source(bytes);
  return read_from(source, context);
}

IdxArray read_idx(const std::string& path) {
  const Context context{fmt::format("read_idx: {}: ", path), "file"};
  FileReader file(path, context);
  std::array<uint8_t, 2> sniff{};
  const size_t got = file.read(sniff.data(), sniff.size());
  const std::span<const uint8_t> prefix(sniff.data(), got);
  if (got == 2 && sniff[0] == 0x1f && sniff[1] == 0x8b) {
    const Context gz_context{context.prefix, "decompressed data"};
    GzipSource source(file, prefix, gz_context);
    return read_from(source, gz_context);
  }
  PlainSource source(file, prefix);
  return read_from(source, context);
}

void write_idx(const std::string& path, const IdxArray& array, bool gzip) {
  const std::string prefix = fmt::format("write_idx: {}: ", path);
  const auto code = static_cast<uint8_t>(array.type);
  if (!valid_type(code)) {
    throw error("{}unknown IDX type 0x{:02x}", prefix, code);
  }
  const auto ndims = static_cast<int64_t>(array.dims.size());
  if (ndims < 1 || ndims > kIdxMaxDims) {
    throw error("{}{} dimensions; expected 1 to {}", prefix, ndims, kIdxMaxDims);
  }
  int64_t data_bytes = array.element_size();
  for (const int64_t d : array.dims) {
    if (d < 0 || d > kMaxIdxDim) {
      throw error("{}dimension {} in {} is outside 0..{}", prefix, d, dims_string(array.dims),
                  kMaxIdxDim);
    }
    if (!checked_mul(data_bytes, d, &data_bytes)) {
      throw error("{}dimensions {} overflow 64 bits", prefix, dims_string(array.dims));
    }
  }
  if (static_cast<uint64_t>(data_bytes) != array.bytes.size()) {
    throw error("{}{} {} needs {} bytes, the array has {}", prefix, dims_string(array.dims),
                idx_type_name(array.type), data_bytes, array.bytes.size());
  }

  std::vector<uint8_t> header(4 + 4 * array.dims.size());
  header[2] = code;
  header[3] = static_cast<uint8_t>(ndims);
  for (size_t i = 0; i < array.dims.size(); ++i) {
    store_be32(static_cast<uint32_t>(array.dims[i]), header.data() + 4 + 4 * i);
  }

  bool ok = false;
  std::string message;
  {
    Sink sink(path, gzip);
    if (!sink.opened()) {
      throw error("{}cannot open for writing: {}", prefix, sink.error_message());
    }
    sink.write(header.data(), header.size());
    // Swap a chunk at a time so writing never doubles the array's memory.
    std::vector<uint8_t> chunk(kIoChunk);
    for (size_t offset = 0; offset < array.bytes.size(); offset += chunk.size()) {
      const size_t count = std::min(chunk.size(), array.bytes.size() - offset);
      std::memcpy(chunk.data(), array.bytes.data() + offset, count);
      swap_to_from_big_endian(chunk.data(), count, array.element_size());
      sink.write(chunk.data(), count);
    }
    ok = sink.close();
    message = sink.error_message();
  }
  if (!ok) {
    std::error_code ec;
    std::filesystem::remove(path, ec);  // a half-written file would only fail later, worse
    throw error("{}cannot write: {}", prefix, message);
  }
}

std::string find_mnist_file(const std::string& dir, const std::string& stem) {
  std::vector<std::string> names{stem, stem + ".gz"};
  // The other spelling: "-idx" <-> ".idx" at the last "idx" that follows one of them.
  if (const size_t at = stem.rfind("idx"); at != std::string::npos && at > 0) {
    const char sep = stem[at - 1];
    if (sep == '-' || sep == '.') {
      std::string other = stem;
      other[at - 1] = sep == '-' ? '.' : '-';
      names.push_back(other);
      names.push_back(other + ".gz");
    }
  }
  std::vector<std::string> tried;
  for (const auto& name : names) {
    std::string path = (std::filesystem::path(dir) / name).string();
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      return path;
    }
    tried.push_back(path);
  }
  std::error_code ec;
  const bool dir_exists = std::filesystem::is_directory(dir, ec);
  throw error("find_mnist_file: no file for '{}' in {}{}; tried {}", stem, dir,
              dir_exists ? "" : " (no such directory)", fmt::join(tried, ", "));
}

}  // namespace nabla::data
