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

// The one gradient-table fixture (its TEST_P is in tests/support/grad_table.cpp): a named
// function of explicit float64 inputs, checked by gradcheck and, when second_order, gradgradcheck.
// Each family file instantiates it with its rows:
//   INSTANTIATE_TEST_SUITE_P(Family, GradTable, ValuesIn(on_every_layout({UnaryCase{...}, ...})),
//                            grad_case_name);
struct GradCase {
  std::string name;  // letters, digits and '_' (a GoogleTest name)
  GradcheckFn fn;
  std::vector<Tensor> inputs;
  bool second_order = true;
};
inline void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }
class GradTable : public ::testing::TestWithParam<GradCase> {};
inline std::string grad_case_name(const ::testing::TestParamInfo<GradCase>& info) {
  return info.param.name;
}

// Each unary op on same-shape, non-contiguous (transposed and strided), 0-d and size-1 inputs.
inline std::vector<GradCase> on_every_layout(const std::vector<UnaryCase>& rows) {
  std::vector<GradCase> cases;
  for (const UnaryCase& c : rows) {
    const GradcheckFn fn = [op = c.op](const std::vector<Tensor>& in) { return op(in[0]); };
    const std::vector<std::pair<std::string, Tensor>> layouts = {
        {"contiguous", leaf({3, 4}, 1, c.low, c.high)},
        {"transposed", transposed_leaf({3, 4}, 2, c.low, c.high)},
        {"strided", strided_leaf({2, 3}, 3, c.low, c.high)},
        {"scalar", leaf({}, 4, c.low, c.high)},
        {"size_one", leaf({1, 3, 1}, 5, c.low, c.high)},
    };
    for (const auto& [layout, input] : layouts) {
      cases.push_back({c.name + "_" + layout, fn, {input}, c.second_order});
    }
  }
  return cases;
}

// Each binary op on same shapes, broadcast pairs ([3,1,4] with [2,1] and a 0-d operand),
// non-contiguous operands, 0-d pairs and size-1 dims.
inline std::vector<GradCase> on_every_layout(const std::vector<BinaryCase>& rows) {
  std::vector<GradCase> cases;
  for (const BinaryCase& c : rows) {
    const GradcheckFn fn = [op = c.op](const std::vector<Tensor>& in) { return op(in[0], in[1]); };
    const std::vector<std::pair<std::string, std::vector<Tensor>>> layouts = {
        {"same", {leaf({2, 3}, 11, c.low, c.high), leaf({2, 3}, 12, c.low, c.high)}},
        {"broadcast", {leaf({3, 1, 4}, 13, c.low, c.high), leaf({2, 1}, 14, c.low, c.high)}},
        {"broadcast_scalar", {leaf({3, 4}, 15, c.low, c.high), leaf({}, 16, c.low, c.high)}},
        {"transposed_strided",
         {transposed_leaf({3, 2}, 17, c.low, c.high), strided_leaf({3, 2}, 18, c.low, c.high)}},
        {"scalars", {leaf({}, 19, c.low, c.high), leaf({}, 20, c.low, c.high)}},
        {"size_one", {leaf({1, 3}, 21, c.low, c.high), leaf({1, 1}, 22, c.low, c.high)}},
    };
    for (const auto& [layout, inputs] : layouts) {
      cases.push_back({c.name + "_" + layout, fn, inputs, c.second_order});
    }
  }
  return cases;
}

}  // namespace nabla::testing
