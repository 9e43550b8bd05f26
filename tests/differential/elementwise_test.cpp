// Differential sweep of the elementwise ops (unary, activations, binary with broadcasting and
// type promotion, comparisons, where) against double loops written here, over random shapes
// around the vector widths (8, 16), the exp block and kParallelGrain (128Ki), in every layout,
// float32, float64 and int64, at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/reference.h"

namespace nabla {
namespace {

using testing::diff::Checker;
using testing::diff::Layout;
using testing::diff::Rng;

const std::vector<int64_t> kVectorBlocks = {8, 16, 32, 64};

// A shape for an elementwise case: mostly small, sometimes past kParallelGrain.
Shape draw_elementwise_shape(Rng& rng, bool& large) {
  large = rng.chance(testing::diff::sanitized() ? 0.01 : 0.04);
  if (large) {
    const int64_t n = rng.pick(std::vector<int64_t>{131071, 131072, 131073, 262145});
    return rng.chance(0.5) ? Shape{n} : Shape{rng.pick(std::vector<int64_t>{3, 17}), n / 16};
  }
  return testing::diff::draw_shape(rng, 0, 4, 70, 5000, true, kVectorBlocks);
}

struct UnaryRow {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;
  double rel, abs;  // tolerance: eps * (rel * |ref| + abs)
};

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double softplus_ref(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

std::vector<UnaryRow> unary_rows() {
  return {
      {"neg", [](const Tensor& a) { return -a; }, [](double x) { return -x; }, -5, 5, 0, 0},
      {"abs", [](const Tensor& a) { return nabla::abs(a); }, [](double x) { return std::abs(x); },
       -5, 5, 0, 0},
      {"sign", [](const Tensor& a) { return nabla::sign(a); },
       [](double x) { return static_cast<double>((x > 0) - (x < 0)); }, -2, 2, 0, 0},
      {"exp", [](const Tensor& a) { return nabla::exp(a); }, [](double x) { return std::exp(x); },
       -30, 30, 4, 0},
      {"log", [](const Tensor& a) { return nabla::log(a); }, [](double x) { return std::log(x); },
       0.01, 50, 4, 4},
      {"log1p", [](const Tensor& a) { return nabla::log1p(a); },
       [](double x) { return std::log1p(x); }, -0.9, 20, 4, 4},
      {"sqrt", [](const Tensor& a) { return nabla::sqrt(a); },
       [](double x) { return std::sqrt(x); }, 0, 50, 2, 0},
      {"square", [](const Tensor& a) { return nabla::square(a); }, [](double x) { return x * x; },
       -5, 5, 2, 0},
      {"sin", [](const Tensor& a) { return nabla::sin(a); }, [](double x) { return std::sin(x); },
       -10, 10, 4, 4},
      {"cos", [](const Tensor& a) { return nabla::cos(a); }, [](double x) { return std::cos(x); },
       -10, 10, 4, 4},
      {"erf", [](const Tensor& a) { return nabla::erf(a); }, [](double x) { return std::erf(x); },
       -4, 4, 4, 4},
      {"relu", [](const Tensor& a) { return nabla::relu(a); },
       [](double x) { return x > 0 ? x : 0.0; }, -3, 3, 0, 0},
      {"leaky_relu", [](const Tensor& a) { return nabla::leaky_relu(a, 0.1); },
       [](double x) { return x > 0 ? x : 0.1 * x; }, -3, 3, 2, 0},
      {"sigmoid", [](const Tensor& a) { return nabla::sigmoid(a); },
       [](double x) { return 1 / (1 + std::exp(-x)); }, -20, 20, 8, 1},
      {"tanh", [](const Tensor& a) { return nabla::tanh(a); },
       [](double x) { return std::tanh(x); }, -8, 8, 4, 4},
      {"gelu", [](const Tensor& a) { return nabla::gelu(a); }, gelu_ref, -6, 6, 8, 8},
      {"softplus", [](const Tensor& a) { return nabla::softplus(a); }, softplus_ref, -20, 20, 8, 4},
      {"elu", [](const Tensor& a) { return nabla::elu(a, 1.5); },
       [](double x) { return x > 0 ? x : 1.5 * std::expm1(x); }, -5, 5, 8, 8},
      {"clamp", [](const Tensor& a) { return nabla::clamp(a, -0.5, 0.75); },
       [](double x) { return std::min(0.75, std::max(-0.5, x)); }, -2, 2, 0, 0},
      {"clamp_min", [](const Tensor& a) { return nabla::clamp(a, 0.25, std::nullopt); },
       [](double x) { return std::max(0.25, x); }, -2, 2, 0, 0},
      {"pow 2.5", [](const Tensor& a) { return nabla::pow(a, 2.5); },
       [](double x) { return std::pow(x, 2.5); }, 0, 4, 8, 0},
      {"pow -1", [](const Tensor& a) { return nabla::pow(a, -1.0); },
       [](double x) { return 1 / x; }, 0.1, 4, 4, 0},
      {"a * 3", [](const Tensor& a) { return a * 3.0; }, [](double x) { return x * 3; }, -4, 4, 2,
       0},
      {"2 - a", [](const Tensor& a) { return 2.0 - a; }, [](double x) { return 2 - x; }, -4, 4, 2,
       2},
      {"1 / a", [](const Tensor& a) { return 1.0 / a; }, [](double x) { return 1 / x; }, 0.2, 4, 2,
       0},
  };
}

TEST(DifferentialElementwise, UnaryOpsMatchDoubleReferenceInEveryLayout) {
  const std::vector<UnaryRow> rows = unary_rows();
  const int64_t cases = testing::diff::case_count(1200);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0xE1E00000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const UnaryRow& row = rows[static_cast<size_t>(i) % rows.size()];
    bool large = false;
    const Shape shape = draw_elementwise_shape(rng, large);
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Layout layout = testing::diff::draw_layout(rng);
    const Tensor x = testing::diff::make_input(rng, shape, dtype, layout,
                                               testing::diff::uniform_values(row.lo, row.hi));
    const std::vector<double> v = testing::diff::read(x);
    const std::string context = "case seed " + std::to_string(seed) + " " + row.name + " " +
                                testing::diff::shape_string(shape) + " " +
                                std::string(dtype_name(dtype)) + " " +
                                testing::diff::layout_name(layout);
    ++ran;
    std::vector<double> expected(v.size());
    std::vector<double> tol(v.size());
    const double eps = testing::diff::eps_of(dtype);
    for (size_t e = 0; e < v.size(); ++e) {
      expected[e] = row.ref(v[e]);
      tol[e] = eps * (row.rel * std::abs(expected[e]) + row.abs);
    }
    const Tensor out =
        large ? testing::diff::run_both_thread_counts([&] { return row.op(x); }, context)
              : row.op(x);
    Checker check(context);
    check.dtype(out.dtype(), dtype);
    check.all(out, shape, expected, tol);
    failing += check.failed();
  }
  testing::diff::report_cases("elementwise unary", ran);
}

struct BinaryRow {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
  testing::diff::ValueFn a_values, b_values;
  bool comparison = false;  // int64 0/1 result
  bool ints = true;         // also run on int64 operands
  double rel = 1;
};

// Nonzero divisors in [-4, -0.25] U [0.25, 4].
double divisor(Rng& rng) { return (rng.chance(0.5) ? 1 : -1) * rng.uniform(0.25, 4); }

std::vector<BinaryRow> binary_rows() {
  const auto any = testing::diff::uniform_values(-4, 4);
  const auto ties = testing::diff::tie_values(-2, 2);
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; },
       [](double x, double y) { return x + y; }, any, any},
      {"sub", [](const Tensor& a, const Tensor& b) { return nabla::sub(a, b); },
       [](double x, double y) { return x - y; }, any, any},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; },
       [](double x, double y) { return x * y; }, any, any},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; },
       [](double x, double y) { return x / y; }, any, divisor, false, false},
      {"pow", [](const Tensor& a, const Tensor& b) { return nabla::pow(a, b); },
       [](double x, double y) { return std::pow(x, y); }, testing::diff::uniform_values(0.1, 3),
       testing::diff::uniform_values(-2, 2), false, false, 8},
      {"maximum", [](const Tensor& a, const Tensor& b) { return nabla::maximum(a, b); },
       [](double x, double y) { return std::max(x, y); }, ties, ties},
      {"minimum", [](const Tensor& a, const Tensor& b) { return nabla::minimum(a, b); },
       [](double x, double y) { return std::min(x, y); }, ties, ties},
      {"eq", [](const Tensor& a, const Tensor& b) { return nabla::eq(a, b); },
       [](double x, double y) { return static_cast<double>(x == y); }, ties, ties, true},
      {"ne", [](const Tensor& a, const Tensor& b) { return nabla::ne(a, b); },
       [](double x, double y) { return static_cast<double>(x != y); }, ties, ties, true},
      {"lt", [](const Tensor& a, const Tensor& b) { return a < b; },
       [](double x, double y) { return static_cast<double>(x < y); }, ties, ties, true},
      {"le", [](const Tensor& a, const Tensor& b) { return a <= b; },
       [](double x, double y) { return static_cast<double>(x <= y); }, ties, ties, true},
      {"gt", [](const Tensor& a, const Tensor& b) { return a > b; },
       [](double x, double y) { return static_cast<double>(x > y); }, ties, ties, true},
      {"ge", [](const Tensor& a, const Tensor& b) { return a >= b; },
       [](double x, double y) { return static_cast<double>(x >= y); }, ties, ties, true},
  };
}

// An operand shape that broadcasts to `out`: some leading dims dropped, some extents set to 1.
Shape broadcast_operand(Rng& rng, const Shape& out) {
  Shape s = out;
  const int64_t drop = rng.chance(0.3) ? rng.range(0, static_cast<int64_t>(s.size())) : 0;
  s.erase(s.begin(), s.begin() + drop);
  for (int64_t& e : s) {
    if (rng.chance(0.3)) e = 1;
  }
  return s;
}

// Row-major index into `shape` (broadcast to `out`) of the output element `flat`.
int64_t source_index(const Shape& shape, const Shape& out, int64_t flat) {
  int64_t index = 0;
  int64_t scale = 1;
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t coordinate = flat % out[d];
    flat /= out[d];
    const size_t from_end = out.size() - d;
    if (from_end > shape.size()) continue;
    const int64_t extent = shape[shape.size() - from_end];
    if (extent != 1) index += coordinate * scale;
    scale *= extent;
  }
  return index;
}

double round_to(DType dtype, double x) {
  return dtype == kFloat32 ? static_cast<double>(static_cast<float>(x)) : x;
}

TEST(DifferentialElementwise, BinaryOpsBroadcastAndPromoteLikeTheReference) {
  const std::vector<BinaryRow> rows = binary_rows();
  const int64_t cases = testing::diff::case_count(1200);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0xB1B00000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const BinaryRow& row = rows[static_cast<size_t>(i) % rows.size()];
    bool large = false;
    const Shape out_shape = draw_elementwise_shape(rng, large);
    Shape sa = broadcast_operand(rng, out_shape);
    Shape sb = broadcast_operand(rng, out_shape);
    if (rng.chance(0.5)) sa = out_shape;
    // The broadcast of the two operand shapes (dims where both became 1 stay 1).
    Shape expected_shape(std::max(sa.size(), sb.size()), 1);
    for (size_t d = 0; d < expected_shape.size(); ++d) {
      const size_t from_end = expected_shape.size() - d;
      const int64_t ea = from_end <= sa.size() ? sa[sa.size() - from_end] : 1;
      const int64_t eb = from_end <= sb.size() ? sb[sb.size() - from_end] : 1;
      expected_shape[d] = ea == 1 ? eb : ea;
    }
    static const std::vector<DType> kTypes = {kFloat32, kFloat64, kInt64};
    DType da = kTypes[static_cast<size_t>(rng.below(row.ints ? 3 : 2))];
    DType db = rng.chance(0.6) ? da : kTypes[static_cast<size_t>(rng.below(row.ints ? 3 : 2))];
    if (!row.ints && da == kInt64) da = kFloat32;
    if (!row.ints && db == kInt64) db = kFloat64;
    const Layout la = testing::diff::draw_layout(rng);
    const Layout lb = testing::diff::draw_layout(rng);
    auto values_for = [](DType dtype, const testing::diff::ValueFn& f) -> testing::diff::ValueFn {
      if (dtype != kInt64) return f;
      return [f](Rng& r) { return std::round(2 * f(r)); };
    };
    const Tensor a = testing::diff::make_input(rng, sa, da, la, values_for(da, row.a_values));
    const Tensor b = testing::diff::make_input(rng, sb, db, lb, values_for(db, row.b_values));
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vb = testing::diff::read(b);
    const std::string context = "case seed " + std::to_string(seed) + " " + row.name + " " +
                                testing::diff::shape_string(sa) + " " +
                                std::string(dtype_name(da)) + " " + testing::diff::layout_name(la) +
                                " with " + testing::diff::shape_string(sb) + " " +
                                std::string(dtype_name(db)) + " " + testing::diff::layout_name(lb);
    ++ran;
    const DType promoted = promote_types(da, db);
    const DType out_dtype = row.comparison ? kInt64 : promoted;
    const int64_t n = testing::diff::numel_of(expected_shape);
    std::vector<double> expected(static_cast<size_t>(n));
    std::vector<double> tol(static_cast<size_t>(n), 0.0);
    for (int64_t e = 0; e < n; ++e) {
      // Operands are first converted to the promoted type (exact here: float32 -> float64).
      const double x = va[static_cast<size_t>(source_index(sa, expected_shape, e))];
      const double y = vb[static_cast<size_t>(source_index(sb, expected_shape, e))];
      const double r = row.ref(round_to(promoted, x), round_to(promoted, y));
      expected[static_cast<size_t>(e)] = r;
      if (out_dtype != kInt64) {
        tol[static_cast<size_t>(e)] = testing::diff::eps_of(out_dtype) * row.rel * std::abs(r);
      }
    }
    const auto op = [&] { return row.op(a, b); };
    const Tensor out = large ? testing::diff::run_both_thread_counts(op, context) : op();
    Checker check(context);
    check.dtype(out.dtype(), out_dtype);
    check.all(out, expected_shape, expected, tol);
    failing += check.failed();
  }
  testing::diff::report_cases("elementwise binary + comparisons", ran);
}

TEST(DifferentialElementwise, WhereBroadcastsAllThreeOperands) {
  const int64_t cases = testing::diff::case_count(400);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x3E3E0000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Shape out_shape = draw_elementwise_shape(rng, large);
    const Shape sc = broadcast_operand(rng, out_shape);
    const Shape sa = broadcast_operand(rng, out_shape);
    const Shape sb = rng.chance(0.5) ? out_shape : broadcast_operand(rng, out_shape);
    Shape shape(std::max({sc.size(), sa.size(), sb.size()}), 1);
    for (size_t d = 0; d < shape.size(); ++d) {
      const size_t from_end = shape.size() - d;
      for (const Shape* s : {&sc, &sa, &sb}) {
        if (from_end <= s->size() && (*s)[s->size() - from_end] != 1) {
          shape[d] = (*s)[s->size() - from_end];
        }
      }
    }
    const DType cond_dtype = rng.chance(0.5) ? kInt64 : kFloat32;
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Tensor cond =
        testing::diff::make_input(rng, sc, cond_dtype, testing::diff::draw_layout(rng),
                                  [](Rng& r) { return static_cast<double>(r.range(0, 1)); });
    const Tensor a = testing::diff::make_input(rng, sa, dtype, testing::diff::draw_layout(rng),
                                               testing::diff::uniform_values(-3, 3));
    const Tensor b = testing::diff::make_input(rng, sb, dtype, testing::diff::draw_layout(rng),
                                               testing::diff::uniform_values(-3, 3));
    const std::vector<double> vc = testing::diff::read(cond);
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vb = testing::diff::read(b);
    const std::string context =
        "case seed " + std::to_string(seed) + " where " + testing::diff::shape_string(sc) + " " +
        testing::diff::shape_string(sa) + " " + testing::diff::shape_string(sb) + " " +
        std::string(dtype_name(dtype));
    ++ran;
    const int64_t n = testing::diff::numel_of(shape);
    std::vector<double> expected(static_cast<size_t>(n));
    std::vector<double> tol(static_cast<size_t>(n), 0.0);
    for (int64_t e = 0; e < n; ++e) {
      expected[static_cast<size_t>(e)] = vc[static_cast<size_t>(source_index(sc, shape, e))] != 0
                                             ? va[static_cast<size_t>(source_index(sa, shape, e))]
                                             : vb[static_cast<size_t>(source_index(sb, shape, e))];
    }
    const auto op = [&] { return nabla::where(cond, a, b); };
    const Tensor out = large ? testing::diff::run_both_thread_counts(op, context) : op();
    Checker check(context);
    check.all(out, shape, expected, tol);
    failing += check.failed();
  }
  testing::diff::report_cases("where", ran);
}

}  // namespace
}  // namespace nabla
