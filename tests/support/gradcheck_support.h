// The gradient-check fixture every op family's test table uses: the suite's tolerances (tighter
// than the public defaults) and the input layouts each op must pass on.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "nabla.h"
#include "tensor/kernels/kernels.h"

namespace nabla::testing {

// |analytic - numeric| <= 1e-6 + 1e-5 * |numeric|: float64 central differences meet this.
inline GradcheckOptions tight_options() {
  GradcheckOptions options;
  options.eps = 1e-6;
  options.atol = 1e-6;
  options.rtol = 1e-5;
  return options;
}

// A float64 leaf with values drawn uniformly from [low, high), reproducibly.
inline Tensor leaf(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator generator(seed);
  Tensor t = uniform(shape, low, high, kFloat64, &generator);
  t.requires_grad_();
  return t;
}

// The same values as `leaf(shape)` but laid out transposed in memory (a non-contiguous view).
inline Tensor transposed_leaf(const Shape& shape, uint64_t seed, double low = -1.0,
                              double high = 1.0) {
  Shape reversed(shape.rbegin(), shape.rend());
  Generator generator(seed);
  Tensor base = uniform(reversed, low, high, kFloat64, &generator);
  std::vector<int64_t> order;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) order.push_back(d);
  Tensor t = kernels::permute(base, order);
  t.requires_grad_();
  return t;
}

// Every other element of a larger buffer along the last dim: a strided, non-contiguous view.
inline Tensor strided_leaf(const Shape& shape, uint64_t seed, double low = -1.0,
                           double high = 1.0) {
  Shape wide = shape;
  wide.back() *= 2;
  Generator generator(seed);
  Tensor base = uniform(wide, low, high, kFloat64, &generator);
  Tensor t = kernels::slice(base, -1, 0, std::nullopt, 2);
  t.requires_grad_();
  return t;
}

inline void expect_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                             const std::string& what) {
  const GradcheckReport report = gradcheck(fn, inputs, tight_options());
  EXPECT_TRUE(report.passed) << what << ": " << report.message;
}

inline void expect_gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                                 const std::string& what) {
  GradcheckOptions options = tight_options();
  options.allow_vacuous = true;  // e.g. the second derivative of a linear op is zero
  const GradcheckReport report = gradgradcheck(fn, inputs, options);
  EXPECT_TRUE(report.passed) << what << ": " << report.message;
}

// One row of a family's gradient table: a unary or binary op and the input range it is smooth on.
struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  double low = -1.0;
  double high = 1.0;
  bool second_order = true;
};

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  double low = -1.0;
  double high = 1.0;
  bool second_order = true;
};

inline void PrintTo(const UnaryCase& c, std::ostream* os) { *os << c.name; }
inline void PrintTo(const BinaryCase& c, std::ostream* os) { *os << c.name; }

// Runs gradcheck (and gradgradcheck) of a unary op on same-shape, non-contiguous (transposed and
// strided), 0-d and size-1 inputs.
inline void check_unary_layouts(const UnaryCase& c) {
  const GradcheckFn fn = [&c](const std::vector<Tensor>& in) { return c.op(in[0]); };
  const std::vector<std::pair<std::string, Tensor>> layouts = {
      {"contiguous [3,4]", leaf({3, 4}, 1, c.low, c.high)},
      {"transposed [3,4]", transposed_leaf({3, 4}, 2, c.low, c.high)},
      {"strided [2,3]", strided_leaf({2, 3}, 3, c.low, c.high)},
      {"0-d", leaf({}, 4, c.low, c.high)},
      {"size-1 [1,3,1]", leaf({1, 3, 1}, 5, c.low, c.high)},
  };
  for (const auto& [layout, input] : layouts) {
    expect_gradcheck(fn, {input}, c.name + " " + layout);
    if (c.second_order) expect_gradgradcheck(fn, {input}, c.name + " " + layout);
  }
}

// Runs gradcheck of a binary op on same shapes, broadcast pairs ([3,1,4] with [2,1] and a 0-d
// operand), non-contiguous operands, 0-d pairs and size-1 dims.
inline void check_binary_layouts(const BinaryCase& c) {
  const GradcheckFn fn = [&c](const std::vector<Tensor>& in) { return c.op(in[0], in[1]); };
  const std::vector<std::pair<std::string, std::vector<Tensor>>> layouts = {
      {"same [2,3]", {leaf({2, 3}, 11, c.low, c.high), leaf({2, 3}, 12, c.low, c.high)}},
      {"broadcast [3,1,4]x[2,1]",
       {leaf({3, 1, 4}, 13, c.low, c.high), leaf({2, 1}, 14, c.low, c.high)}},
      {"broadcast [3,4]x0-d", {leaf({3, 4}, 15, c.low, c.high), leaf({}, 16, c.low, c.high)}},
      {"transposed x strided [3,2]",
       {transposed_leaf({3, 2}, 17, c.low, c.high), strided_leaf({3, 2}, 18, c.low, c.high)}},
      {"0-d x 0-d", {leaf({}, 19, c.low, c.high), leaf({}, 20, c.low, c.high)}},
      {"size-1 [1,3]x[1,1]", {leaf({1, 3}, 21, c.low, c.high), leaf({1, 1}, 22, c.low, c.high)}},
  };
  for (const auto& [layout, inputs] : layouts) {
    expect_gradcheck(fn, inputs, c.name + " " + layout);
    if (c.second_order) expect_gradgradcheck(fn, inputs, c.name + " " + layout);
  }
}

}  // namespace nabla::testing
