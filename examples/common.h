// Command-line handling shared by the examples: --data DIR, --epochs N, --limit N, --seed N, ...
#pragma once

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "nabla.h"

namespace examples {

// Flags of the form --name value (or --name=value); --help lists the accepted flags.
class Args {
 public:
  Args(int argc, char** argv, std::map<std::string, std::string> defaults, std::string usage)
      : values_(std::move(defaults)) {
    for (int i = 1; i < argc; ++i) {
      std::string flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        fmt::print("{}\nflags (default):\n", usage);
        for (const auto& [name, value] : values_) fmt::print("  --{} ({})\n", name, value);
        std::exit(0);
      }
      if (flag.rfind("--", 0) != 0)
        throw nabla::error("unexpected argument '{}' (see --help)", flag);
      flag = flag.substr(2);
      std::string value;
      if (auto eq = flag.find('='); eq != std::string::npos) {
        value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw nabla::error("flag --{} needs a value", flag);
      }
      if (values_.find(flag) == values_.end())
        throw nabla::error("unknown flag --{} (see --help)", flag);
      values_[flag] = value;
    }
  }
  [[nodiscard]] std::string str(const std::string& name) const { return values_.at(name); }
  [[nodiscard]] int64_t integer(const std::string& name) const {
    try {
      return std::stoll(values_.at(name));
    } catch (const std::exception&) {
      throw nabla::error("flag --{} expects an integer, got '{}'", name, values_.at(name));
    }
  }
  [[nodiscard]] double real(const std::string& name) const {
    try {
      return std::stod(values_.at(name));
    } catch (const std::exception&) {
      throw nabla::error("flag --{} expects a number, got '{}'", name, values_.at(name));
    }
  }

 private:
  std::map<std::string, std::string> values_;
};

// The first `limit` samples (all when limit <= 0), to make quick runs possible.
inline nabla::data::MnistSplit take_first(const nabla::data::MnistSplit& split, int64_t limit) {
  if (limit <= 0 || limit >= split.images.size(0)) return split;
  return {nabla::slice(split.images, 0, 0, limit), nabla::slice(split.labels, 0, 0, limit)};
}

}  // namespace examples
