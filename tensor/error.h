// nabla::Error, the one exception type for user mistakes (bad shapes, dtypes, indices, files).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace nabla {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Builds the message with fmt: NABLA_CHECK-free code reads `throw error("add: ...", ...)`.
template <typename... Args>
[[nodiscard]] Error error(fmt::format_string<Args...> format, Args&&... args) {
  return Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace nabla
