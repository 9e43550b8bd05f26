// Small checks shared by the layer tests: error messages and writing values into parameters.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nabla.h"

namespace nabla::testing {

// Runs `fn`, expecting a nabla::Error whose message contains `fragment`.
template <typename Fn>
void expect_error_containing(Fn fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected a nabla::Error containing \"" << fragment << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// Overwrites a parameter's values (row-major) without recording anything.
inline void assign(const Tensor& target, const std::vector<double>& values) {
  const NoGradGuard no_grad;
  Tensor t = target;
  t.copy_(tensor(values, target.shape(), kFloat64));
}

}  // namespace nabla::testing
