// The vectorized float32 exp and log against the double-precision std::exp and std::log, over
// every float exponent range that matters, plus the special values.
#include "tensor/kernels/exp.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace nabla {
namespace {

// Distance in units in the last place between a float and the exactly rounded float of `exact`.
int64_t ulps_from(float value, double exact) {
  const auto rounded = static_cast<float>(exact);
  return std::abs(static_cast<int64_t>(std::bit_cast<int32_t>(value)) -
                  static_cast<int64_t>(std::bit_cast<int32_t>(rounded)));
}

TEST(ExpKernel, WithinOneUlpFromUnderflowToOverflow) {
  // Every 499th float bit pattern from -104 up to 89: 4.5 million inputs over all exponents.
  std::vector<float> inputs;
  for (const float end : {-104.0F, 89.0F}) {
    for (int32_t bits = 0; bits < std::bit_cast<int32_t>(std::abs(end)); bits += 499) {
      inputs.push_back(std::copysign(std::bit_cast<float>(bits), end));
    }
  }
  std::vector<float> outputs(inputs.size());
  kernels::exp_float(inputs.data(), outputs.data(), static_cast<int64_t>(inputs.size()));
  int64_t worst = 0;
  float worst_input = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const double exact = std::exp(static_cast<double>(inputs[i]));
    // Subnormal results carry fewer bits: compare them absolutely, to a subnormal step.
    if (exact < std::numeric_limits<float>::min()) {
      EXPECT_LE(std::abs(outputs[i] - exact), std::numeric_limits<float>::denorm_min())
          << inputs[i];
      continue;
    }
    const int64_t ulps = ulps_from(outputs[i], exact);
    if (ulps > worst) {
      worst = ulps;
      worst_input = inputs[i];
    }
  }
  EXPECT_LE(worst, 1) << "at x = " << worst_input;
}

TEST(ExpKernel, SpecialValuesAndAliasing) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0F, -0.0F, inf, -inf, std::nanf(""), 88.8F, -110.0F, 1.0F};
  kernels::exp_float(x.data(), x.data(), static_cast<int64_t>(x.size()));  // in place
  EXPECT_EQ(x[0], 1.0F);
  EXPECT_EQ(x[1], 1.0F);
  EXPECT_EQ(x[2], inf);
  EXPECT_EQ(x[3], 0.0F);
  EXPECT_TRUE(std::isnan(x[4]));
  EXPECT_EQ(x[5], inf);
  EXPECT_EQ(x[6], 0.0F);
  EXPECT_LE(ulps_from(x[7], std::exp(1.0)), 1);
}

TEST(ExpKernel, SameBitsForAnySplitOfTheArray) {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.173F - 80.0F;
  std::vector<float> whole(x.size());
  std::vector<float> one_by_one(x.size());
  kernels::exp_float(x.data(), whole.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) kernels::exp_float(&x[i], &one_by_one[i], 1);
  EXPECT_EQ(whole, one_by_one);
}

TEST(LogKernel, WithinOneUlpOverEveryPositiveFloat) {
  // Every 499th positive float bit pattern, subnormals to the largest float: 4.3 million inputs.
  std::vector<float> inputs;
  const auto end = std::bit_cast<int32_t>(std::numeric_limits<float>::max());
  for (int32_t bits = 1; bits > 0 && bits <= end; bits += 499) {
    inputs.push_back(std::bit_cast<float>(bits));
  }
  std::vector<float> outputs(inputs.size());
  kernels::log_float(inputs.data(), outputs.data(), static_cast<int64_t>(inputs.size()));
  int64_t worst = 0;
  float worst_input = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t ulps = ulps_from(outputs[i], std::log(static_cast<double>(inputs[i])));
    if (ulps > worst) {
      worst = ulps;
      worst_input = inputs[i];
    }
  }
  EXPECT_LE(worst, 1) << "at x = " << worst_input;
}

TEST(LogKernel, SpecialValuesAndAliasing) {
  const float inf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::denorm_min();
  std::vector<float> x = {1.0F, 0.0F, -0.0F, -1.0F, inf, -inf, std::nanf(""), tiny, 2.0F};
  kernels::log_float(x.data(), x.data(), static_cast<int64_t>(x.size()));  // in place
  EXPECT_EQ(x[0], 0.0F);
  EXPECT_EQ(x[1], -inf);
  EXPECT_EQ(x[2], -inf);
  EXPECT_TRUE(std::isnan(x[3]));
  EXPECT_EQ(x[4], inf);
  EXPECT_TRUE(std::isnan(x[5]));
  EXPECT_TRUE(std::isnan(x[6]));
  EXPECT_LE(ulps_from(x[7], std::log(static_cast<double>(tiny))), 1);
  EXPECT_LE(ulps_from(x[8], std::log(2.0)), 1);
}

TEST(LogKernel, SameBitsForAnySplitOfTheArray) {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.173F + 1e-3F;
  std::vector<float> whole(x.size());
  std::vector<float> one_by_one(x.size());
  kernels::log_float(x.data(), whole.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) kernels::log_float(&x[i], &one_by_one[i], 1);
  EXPECT_EQ(whole, one_by_one);
}

}  // namespace
}  // namespace nabla
