// Byte order, checked sizes, reading files and writing them through a temporary file.
#include "tensor/io/binary.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "tensor/error.h"

namespace nabla::io {

void swap_bytes(uint8_t* p, size_t size, size_t element_size) {
  switch (element_size) {
    case 1: break;  // single bytes have no order
    case 2:
      for (size_t i = 0; i < size; i += 2) std::swap(p[i], p[i + 1]);
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
    default:
      for (size_t i = 0; i < size; i += element_size) std::reverse(p + i, p + i + element_size);
  }
}

bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  if (a < 0 || b < 0 || (a != 0 && b > std::numeric_limits<int64_t>::max() / a)) return false;
  *out = a * b;
  return true;
}

std::string errno_message(int code) {
  return std::error_code(code, std::generic_category()).message();
}

// ---- InputFile ---------------------------------------------------------------------------------

InputFile::InputFile(const std::string& path, std::string prefix) : prefix_(std::move(prefix)) {
  errno = 0;
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) throw error("{}cannot open: {}", prefix_, errno_message(errno));
  struct stat info {};
  if (::fstat(::fileno(file_.get()), &info) == 0) {
    // fopen opens a directory for reading on Linux; reading it would fail with EISDIR.
    if (S_ISDIR(info.st_mode)) throw error("{}cannot open: is a directory", prefix_);
    if (S_ISREG(info.st_mode)) size_ = static_cast<int64_t>(info.st_size);
  }
}

size_t InputFile::read(void* dst, size_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  size_t total = 0;
  while (total < n) {
    errno = 0;
    const size_t got = std::fread(bytes + total, 1, n - total, file_.get());
    total += got;
    if (got == 0) {
      if (std::ferror(file_.get()) != 0) {
        throw error("{}read error at byte offset {}: {}", prefix_, offset_ + total,
                    errno_message(errno));
      }
      break;  // end of file
    }
  }
  offset_ += total;
  return total;
}

std::vector<uint8_t> InputFile::read_rest() {
  // A regular file's size is known; anything else (or a file that grew) grows the buffer.
  const auto known = size_ >= 0 && static_cast<uint64_t>(size_) > offset_
                         ? static_cast<size_t>(static_cast<uint64_t>(size_) - offset_)
                         : 0;
  std::vector<uint8_t> out(std::max<size_t>(known + 1, size_t{1} << 16));
  size_t filled = 0;
  while (true) {
    filled += read(out.data() + filled, out.size() - filled);
    if (filled < out.size()) break;
    out.resize(2 * out.size());
  }
  out.resize(filled);
  return out;
}

// ---- AtomicFile --------------------------------------------------------------------------------

AtomicFile::AtomicFile(std::string path, std::string prefix)
    : path_(std::move(path)), prefix_(std::move(prefix)) {
  static std::atomic<uint64_t> counter{0};
  // O_EXCL with a pid + counter name: concurrent writes (threads or processes) to the same
  // target never share a temporary. Mode 0666 lets the umask decide, as for any new file.
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ =
        fmt::format("{}.tmp-{}-{}", path_, static_cast<long>(::getpid()), counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    throw error("{}cannot open for writing (cannot create temporary file {}): {}", prefix_,
                temp_path_, errno_message(errno));
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (size > 0) {
    // Bounded chunks: Linux writes at most ~2 GiB per call anyway.
    const size_t chunk = std::min<size_t>(size, size_t{1} << 30);
    const ssize_t written = ::write(fd_, bytes, chunk);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw error("{}write to {} failed: {}", prefix_, temp_path_, errno_message(errno));
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

// Flushes to disk before the rename, so a crash leaves either the old file or the new one.
void AtomicFile::commit() {
  if (::fsync(fd_) != 0) {
    throw error("{}fsync of {} failed: {}", prefix_, temp_path_, errno_message(errno));
  }
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    throw error("{}closing {} failed: {}", prefix_, temp_path_, errno_message(errno));
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw error("{}cannot rename {} to {}: {}", prefix_, temp_path_, path_, errno_message(errno));
  }
  committed_ = true;
}

}  // namespace nabla::io
