// Small checks shared by the layer tests: error messages and writing values into parameters.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla::testing {

// Overwrites a parameter's values (row-major) without recording anything.
inline void assign(const Tensor& target, const std::vector<double>& values) {
  const NoGradGuard no_grad;
  Tensor t = target;
  t.copy_(tensor(values, target.shape(), kFloat64));
}

}  // namespace nabla::testing
