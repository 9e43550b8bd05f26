// Shared by the optimizer tests: a two-element parameter, the gradients fed to it at three steps,
// and checks of values and error messages.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "nabla.h"

namespace nabla::optim::testing {

inline constexpr std::array<double, 2> kW0{1.0, -2.0};
// Gradients fed at steps 1, 2, 3 (set by hand, independent of the parameter).
inline constexpr std::array<std::array<double, 2>, 3> kGrads{
    {{0.5, -1.0}, {0.3, 0.2}, {-0.4, 0.6}}};

inline Tensor start() { return tensor({kW0[0], kW0[1]}, kFloat64).requires_grad_(); }

inline void run_three_steps(Optimizer& optimizer, const Tensor& w) {
  for (size_t s = 0; s < kGrads.size(); ++s) {
    w.set_grad(tensor({kGrads[s][0], kGrads[s][1]}, kFloat64));
    optimizer.step();
  }
}

inline void expect_values(const Tensor& t, const std::vector<double>& expected,
                          double tolerance = 1e-14) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], tolerance) << "element " << i;
  }
}

// `steps` optimizer steps on sum(s * (w - t)^2) with t = [0, 1, -1], s = [1, 3, 0.5] (zero_grad,
// backward, step): the problem the PyTorch reference trajectories in the tests were computed on.
inline std::vector<double> run_quadratic(Optimizer& optimizer, const Tensor& w, int steps) {
  const Tensor target = tensor({0.0, 1.0, -1.0}, kFloat64);
  const Tensor scale = tensor({1.0, 3.0, 0.5}, kFloat64);
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    sum(scale * square(w - target)).backward();
    optimizer.step();
  }
  return w.to_vector<double>();
}

// The nabla::Error message `fn` throws, or "no error".
inline std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace nabla::optim::testing
