// Helpers shared by the data tests: a per-test temporary directory (so tests never depend on files
// outside the build) and checks on the messages of nabla::Error.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <system_error>

#include "tensor/error.h"

namespace nabla::data::test_support {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device entropy;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string test_name = info != nullptr ? info->name() : "data";
    path_ = std::filesystem::temp_directory_path() /
            ("nabla_data_test_" + test_name + "_" + std::to_string(entropy()) + "_" +
             std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;

  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] std::string dir() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The message of the nabla::Error that `f` throws; a test failure if it throws nothing.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a nabla::Error";
  return {};
}

inline void expect_contains(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos)
        << "message lacks \"" << part << "\": " << message;
  }
}

}  // namespace nabla::data::test_support
