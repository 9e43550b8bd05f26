// Shared by the fuzz targets: a scratch directory for the entry points that take a path, and the
// rule that bad input may throw nabla::Error and nothing else (anything else aborts the run).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "tensor/error.h"

namespace nabla_fuzz {

// One directory per process under $TMPDIR (or /tmp), removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/nabla-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("nabla fuzz: mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Writes `size` bytes to the file `name` in the directory and returns its path.
  [[nodiscard]] std::string write(const std::string& name, const uint8_t* data, size_t size) const {
    const std::string path = path_ + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::fprintf(stderr, "nabla fuzz: cannot write %s\n", path.c_str());
      std::abort();
    }
    return path;
  }

 private:
  std::string path_;
};

inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

// Runs `fn`; a nabla::Error is the expected answer to bad input, true means it returned.
template <typename Fn>
bool accepts(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const nabla::Error&) {
    return false;
  }
}

// An invariant of the code under test broke: report and abort so libFuzzer saves the input.
#define NABLA_FUZZ_CHECK(condition)                                                      \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

}  // namespace nabla_fuzz
