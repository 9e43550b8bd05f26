// Helpers of the PyTorch golden tests of nn/: the integer-formula inputs and weights that
// tests/nn/layer_goldens.py builds the same way, and the comparison with its float64 values.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "nabla.h"

namespace nabla::nn::goldens {

// ((k * 7919 + salt * 131) % 211 - 105) / scale over the flat index k (the script's pattern()).
inline std::vector<double> pattern(const Shape& shape, int64_t salt, double scale) {
  const int64_t n = shape_numel(shape);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    values[static_cast<size_t>(k)] =
        static_cast<double>((k * 7919 + salt * 131) % 211 - 105) / scale;
  }
  return values;
}

inline Tensor pattern_tensor(const Shape& shape, int64_t salt, double scale) {
  return tensor(pattern(shape, salt, scale), shape, kFloat64);
}

// A float64 leaf (requires grad) holding pattern values.
inline Tensor pattern_leaf(const Shape& shape, int64_t salt, double scale) {
  Tensor t = pattern_tensor(shape, salt, scale);
  t.requires_grad_();
  return t;
}

// Both sides compute in float64, so only summation order separates them.
template <size_t N>
void expect_close(const Tensor& actual, const std::array<double, N>& expected,
                  const std::string& what, double tolerance = 1e-10) {
  ASSERT_TRUE(actual.defined()) << what;
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(N)) << what;
  const std::vector<double> got = actual.to_vector<double>();
  for (size_t i = 0; i < N; ++i) {
    EXPECT_NEAR(got[i], expected[i], tolerance * std::max(1.0, std::abs(expected[i])))
        << what << " [" << i << "]";
  }
}

}  // namespace nabla::nn::goldens
