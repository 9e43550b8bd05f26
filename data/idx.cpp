// IDX reader and writer. One validating core reads from a byte source (memory, plain file or
// inflated gzip file), so every input path gets the same checks and the same messages.
#include "data/idx.h"

#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <system_error>
#include <utility>

#include "tensor/error.h"
#include "tensor/io/binary.h"

namespace nabla::data {
namespace {

using io::checked_mul;

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

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  return checked_mul(a, b, &out) ? out : kInt64Max;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  return dims.empty() ? std::string("[]") : fmt::format("{}", fmt::join(dims, "x"));
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

// How errors name their origin: "read_idx: /x/y: " and what holds the bytes ("file", ...).
struct Context {
  std::string prefix;
  const char* holder;
};

// A sequential stream of the (uncompressed) IDX bytes: memory, a plain file or an inflated one.
struct Source {
  // Reads up to n bytes into dst; fewer only at the end of the data. Throws on I/O errors.
  std::function<size_t(uint8_t*, size_t)> read;
  // Total bytes the stream will deliver, or -1 when that is only known at the end (gzip).
  int64_t known_size = -1;
  // An upper bound on the total bytes, or -1 for none.
  int64_t max_size = -1;
};

// Inflates a gzip file held in memory (one or more concatenated members, as gunzip accepts).
// inflate checks each member's CRC-32 and length at its end, so a reader must drain to the end.
class Inflater {
 public:
  Inflater(std::vector<uint8_t> input, const Context& context)
      : input_(std::move(input)), context_(context) {
    // 16 + MAX_WBITS: gzip wrapper only (we sniffed 1f 8b), largest window.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
      throw error("{}cannot initialize zlib: {}", context_.prefix,
                  stream_.msg != nullptr ? stream_.msg : "out of memory");
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  size_t read(uint8_t* dst, size_t n) {
    size_t produced = 0;
    while (produced < n && !finished_) {
      feed();
      const size_t room = std::min<size_t>(n - produced, UINT_MAX);
      stream_.next_out = dst + produced;
      stream_.avail_out = static_cast<uInt>(room);
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      produced += room - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        end_of_member();
      } else if (rc == Z_BUF_ERROR) {
        // No progress: inflate wants input we do not have (feed() gave it all there is).
        if (stream_.avail_in > 0) {
          // Cannot happen with room on both sides; guards against looping forever.
          throw error("{}corrupt gzip stream near compressed byte {}: inflate made no progress",
                      context_.prefix, offset());
        }
        throw error(
            "{}truncated gzip stream: compressed data ends at byte {} before the end of the "
            "stream ({} bytes decompressed so far)",
            context_.prefix, offset(), decompressed_ + produced);
      } else if (rc == Z_MEM_ERROR) {
        throw error("{}out of memory while decompressing", context_.prefix);
      } else if (rc != Z_OK) {
        throw error("{}corrupt gzip stream near compressed byte {}: {}", context_.prefix, offset(),
                    stream_.msg != nullptr ? stream_.msg : "invalid data");
      }
    }
    decompressed_ += produced;
    return produced;
  }

  // Deflate cannot compress better than about 1032:1 (plus slack for a tiny stream).
  [[nodiscard]] int64_t max_size() const {
    const int64_t bound = saturating_mul(static_cast<int64_t>(input_.size()), kMaxDeflateRatio);
    return bound > kInt64Max - kDeflateSlack ? kInt64Max : bound + kDeflateSlack;
  }

 private:
  // Hands inflate the next piece of input once it has used up the last (avail_in is 32 bits).
  void feed() {
    if (stream_.avail_in > 0) return;
    stream_.next_in = input_.data() + fed_;
    stream_.avail_in = static_cast<uInt>(std::min<size_t>(input_.size() - fed_, UINT_MAX));
    fed_ += stream_.avail_in;
  }

  // Either the input ends, another gzip member follows, or there is garbage after the stream.
  void end_of_member() {
    feed();
    if (stream_.avail_in == 0) {
      finished_ = true;
    } else if (input_.size() - offset() >= 2 && input_[offset()] == 0x1f &&
               input_[offset() + 1] == 0x8b) {
      inflateReset(&stream_);
    } else {
      throw error("{}unexpected bytes after the end of the gzip stream at compressed byte {}",
                  context_.prefix, offset());
    }
  }

  [[nodiscard]] size_t offset() const { return fed_ - stream_.avail_in; }

  std::vector<uint8_t> input_;
  const Context& context_;
  z_stream stream_{};
  size_t fed_ = 0;
  bool finished_ = false;
  uint64_t decompressed_ = 0;
};

// The validating core shared by parse_idx and read_idx.
IdxArray read_from(const Source& source, const Context& context) {
  const auto& p = context.prefix;
  std::array<uint8_t, 4 + 4 * kIdxMaxDims> header{};
  const size_t got_magic = source.read(header.data(), 4);
  if (got_magic < 4) {
    throw error("{}truncated header: the {} has {} bytes, the magic number alone needs 4", p,
                context.holder, got_magic);
  }
  const auto magic = io::load_be<uint32_t>(header.data());
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
    out.dims[i] = io::load_be<uint32_t>(header.data() + 4 + 4 * i);
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
  if (const int64_t known = source.known_size; known >= 0) {
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
  } else if (const int64_t bound = source.max_size;
             bound >= 0 && data_bytes > bound - header_bytes) {
    throw error(
        "{}header says {} = {} bytes of data, more than this gzip file can hold (at most {} "
        "bytes at a deflate ratio of {}:1)",
        p, what, data_bytes, bound, kMaxDeflateRatio);
  }

  const auto target = static_cast<size_t>(data_bytes);
  const bool grow = source.known_size < 0;
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
  io::big_endian_to_from_host(out.bytes.data(), out.bytes.size(),
                              static_cast<size_t>(out.element_size()));
  return out;
}

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
  size_t position = 0;
  const auto read = [&](uint8_t* dst, size_t n) {
    const size_t count = std::min(n, bytes.size() - position);
    if (count > 0) std::memcpy(dst, bytes.data() + position, count);
    position += count;
    return count;
  };
  return read_from({read, static_cast<int64_t>(bytes.size())}, context);
}

IdxArray read_idx(const std::string& path) {
  const Context context{fmt::format("read_idx: {}: ", path), "file"};
  io::InputFile file(path, context.prefix);
  std::array<uint8_t, 2> sniff{};
  const size_t sniffed = file.read(sniff.data(), sniff.size());
  if (sniffed == 2 && sniff[0] == 0x1f && sniff[1] == 0x8b) {
    // The compressed file is read whole (MNIST's biggest is 10 MB) and inflated as needed.
    std::vector<uint8_t> compressed = file.read_rest();
    compressed.insert(compressed.begin(), sniff.begin(), sniff.end());
    const Context gz_context{context.prefix, "decompressed data"};
    Inflater inflater(std::move(compressed), gz_context);
    const auto read = [&](uint8_t* dst, size_t n) { return inflater.read(dst, n); };
    return read_from({read, -1, inflater.max_size()}, gz_context);
  }
  // A plain file: first the sniffed bytes again, then the rest straight into place.
  size_t replayed = 0;
  const auto read = [&](uint8_t* dst, size_t n) {
    const size_t from_sniff = std::min(n, sniffed - replayed);
    std::memcpy(dst, sniff.data() + replayed, from_sniff);
    replayed += from_sniff;
    return from_sniff + file.read(dst + from_sniff, n - from_sniff);
  };
  return read_from({read, file.size()}, context);
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
    io::store_be(static_cast<uint32_t>(array.dims[i]), header.data() + 4 + 4 * i);
  }

  io::AtomicFile file(path, prefix);
  z_stream stream{};
  if (gzip && deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                           Z_DEFAULT_STRATEGY) != Z_OK) {
    throw error("{}cannot initialize zlib: out of memory", prefix);
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> deflater(gzip ? &stream : nullptr,
                                                               deflateEnd);
  std::vector<uint8_t> compressed(gzip ? kIoChunk : 0);
  // Writes `size` bytes (compressed if gzip); `finish` ends the gzip stream.
  const auto put = [&](uint8_t* data, size_t size, bool finish) {
    if (!gzip) return file.write(data, size);
    stream.next_in = data;
    stream.avail_in = static_cast<uInt>(size);
    int rc = Z_OK;
    do {
      stream.next_out = compressed.data();
      stream.avail_out = static_cast<uInt>(compressed.size());
      rc = deflate(&stream, finish ? Z_FINISH : Z_NO_FLUSH);
      file.write(compressed.data(), compressed.size() - stream.avail_out);
    } while (stream.avail_out == 0 || (finish && rc == Z_OK));
    if (finish && rc != Z_STREAM_END) {
      throw error("{}cannot write: deflate failed ({})", prefix, rc);
    }
  };
  put(header.data(), header.size(), false);
  // Swap a chunk at a time so writing never doubles the array's memory.
  std::vector<uint8_t> chunk(kIoChunk);
  for (size_t offset = 0; offset < array.bytes.size(); offset += chunk.size()) {
    const size_t count = std::min(chunk.size(), array.bytes.size() - offset);
    std::memcpy(chunk.data(), array.bytes.data() + offset, count);
    io::big_endian_to_from_host(chunk.data(), count, static_cast<size_t>(array.element_size()));
    put(chunk.data(), count, false);
  }
  put(nullptr, 0, true);
  file.commit();
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
