// Differential sweep of the elementwise ops (unary, activations, binary with broadcasting and
// type promotion, comparisons, where, relu's backward) against double loops written here, over
// random shapes around the vector widths (8, 16, 32, 64), the exp block and kParallelGrain
// (128Ki), in every layout, float32, float64 and int64, at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "nabla.h"
#include "tensor/kernels/loops.h"
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
      // float32's whole normal range of results (the vectorized exp's clamps and 2^n halves).
      {"exp wide", [](const Tensor& a) { return nabla::exp(a); },
       [](double x) { return std::exp(x); }, -87, 88, 4, 0},
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

// ---- the wide (AVX2 / AVX-512) rows: bit for bit the IEEE result ----

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Values in [-4, 4] with exact ties, zeros and (when nan) a few NaNs.
testing::diff::ValueFn wide_values(bool nan) {
  return [nan](Rng& rng) {
    if (nan && rng.chance(0.03)) return kNaN;
    if (rng.chance(0.1)) return 0.0;
    if (rng.chance(0.2)) return 0.5 * static_cast<double>(rng.range(-4, 4));
    return rng.uniform(-4, 4);
  };
}

// A row length around the vector widths, or (rarely) around the parallel grain.
int64_t wide_row_length(Rng& rng) {
  if (rng.chance(testing::diff::sanitized() ? 0.01 : 0.05)) {
    const int64_t g = kernels::detail::kParallelGrain;
    return rng.pick(std::vector<int64_t>{g - 1, g, g + 1, 2 * g + 1});
  }
  return testing::diff::draw_size(rng, 0, 300, kVectorBlocks);
}

struct WideBinaryRow {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;  // in double, then rounded to the dtype
  bool comparison = false;
  std::function<void(Tensor&, const Tensor&)> in_place;  // empty: no in-place form
};

double nan_max(double x, double y) {
  return std::isnan(x) || std::isnan(y) ? kNaN : std::max(x, y);
}
double nan_min(double x, double y) {
  return std::isnan(x) || std::isnan(y) ? kNaN : std::min(x, y);
}

std::vector<WideBinaryRow> wide_binary_rows() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; },
       [](double x, double y) { return x + y; }, false,
       [](Tensor& s, const Tensor& o) { s.add_(o); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return nabla::sub(a, b); },
       [](double x, double y) { return x - y; }, false,
       [](Tensor& s, const Tensor& o) { s.sub_(o); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; },
       [](double x, double y) { return x * y; }, false,
       [](Tensor& s, const Tensor& o) { s.mul_(o); }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; },
       [](double x, double y) { return x / y; }, false,
       [](Tensor& s, const Tensor& o) { s.div_(o); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return nabla::maximum(a, b); }, nan_max},
      {"minimum", [](const Tensor& a, const Tensor& b) { return nabla::minimum(a, b); }, nan_min},
      {"eq", [](const Tensor& a, const Tensor& b) { return nabla::eq(a, b); },
       [](double x, double y) { return static_cast<double>(x == y); }, true},
      {"ne", [](const Tensor& a, const Tensor& b) { return nabla::ne(a, b); },
       [](double x, double y) { return static_cast<double>(x != y); }, true},
      {"lt", [](const Tensor& a, const Tensor& b) { return a < b; },
       [](double x, double y) { return static_cast<double>(x < y); }, true},
      {"le", [](const Tensor& a, const Tensor& b) { return a <= b; },
       [](double x, double y) { return static_cast<double>(x <= y); }, true},
      {"gt", [](const Tensor& a, const Tensor& b) { return a > b; },
       [](double x, double y) { return static_cast<double>(x > y); }, true},
      {"ge", [](const Tensor& a, const Tensor& b) { return a >= b; },
       [](double x, double y) { return static_cast<double>(x >= y); }, true},
  };
}

// The operand forms of a [rows, n] result: both full, one a per-row scalar ([rows, 1], the
// broadcast row with inner stride 0), one a broadcast row ([n]), or a 0-d scalar.
enum class Form { Full, RowScalarB, RowScalarA, BroadcastRowB, ScalarB };

// Binary ops on float operands of one dtype, in each row form the wide rows take (and strided
// ones that take the scalar loops), in-place too: the result must be the IEEE result bit for bit
// (a double op rounded to float is the float op), and the same at 1 and 2 threads.
TEST(DifferentialElementwise, WideBinaryRowsGiveTheIeeeBitsInEveryForm) {
  const std::vector<WideBinaryRow> rows = wide_binary_rows();
  const int64_t cases = testing::diff::case_count(1500);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x71DE0000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const WideBinaryRow& row = rows[static_cast<size_t>(i) % rows.size()];
    const int64_t n = wide_row_length(rng);
    const int64_t lines = n > 100000 ? rng.range(1, 2) : testing::diff::draw_size(rng, 1, 9);
    const Shape out_shape{lines, n};
    const auto form = static_cast<Form>(rng.below(5));
    Shape sa = out_shape;
    Shape sb = out_shape;
    if (form == Form::RowScalarB) sb = {lines, 1};
    if (form == Form::RowScalarA) sa = {lines, 1};
    if (form == Form::BroadcastRowB) sb = {n};
    if (form == Form::ScalarB) sb = {};
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const bool in_place = row.in_place && sa == out_shape && rng.chance(0.3);
    const Layout la = testing::diff::draw_layout(rng, !in_place);
    const Layout lb = testing::diff::draw_layout(rng);
    const Tensor a = testing::diff::make_input(rng, sa, dtype, la, wide_values(true));
    const Tensor b = testing::diff::make_input(rng, sb, dtype, lb, wide_values(true));
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vb = testing::diff::read(b);
    const std::string context =
        "case seed " + std::to_string(seed) + " " + row.name + (in_place ? "_" : "") + " " +
        testing::diff::shape_string(sa) + " " + testing::diff::layout_name(la) + " with " +
        testing::diff::shape_string(sb) + " " + testing::diff::layout_name(lb) + " " +
        std::string(dtype_name(dtype));
    ++ran;
    const int64_t count = lines * n;
    std::vector<double> expected(static_cast<size_t>(count));
    const std::vector<double> tol(static_cast<size_t>(count), 0.0);
    for (int64_t e = 0; e < count; ++e) {
      const double x = va[static_cast<size_t>(source_index(sa, out_shape, e))];
      const double y = vb[static_cast<size_t>(source_index(sb, out_shape, e))];
      const double r = row.ref(x, y);
      expected[static_cast<size_t>(e)] = row.comparison ? r : round_to(dtype, r);
    }
    const std::function<Tensor()> op = [&] {
      if (!in_place) return row.op(a, b);
      testing::diff::write(a, va);  // each run starts from the same values
      Tensor self = a;
      row.in_place(self, b);
      return self;
    };
    const Tensor out = testing::diff::run_both_thread_counts(op, context);
    Checker check(context);
    check.dtype(out.dtype(), row.comparison ? kInt64 : dtype);
    check.all(out, out_shape, expected, tol);
    failing += check.failed();
  }
  testing::diff::report_cases("elementwise wide binary rows", ran);
}

// The unary ops with wide rows (one IEEE op or a compare and select each), bit for bit.
TEST(DifferentialElementwise, WideUnaryRowsGiveTheIeeeBits) {
  struct Row {
    std::string name;
    std::function<Tensor(const Tensor&)> op;
    std::function<double(double)> ref;
    bool nan;  // NaN inputs allowed
  };
  const std::vector<Row> rows = {
      {"neg", [](const Tensor& a) { return -a; }, [](double x) { return -x; }, true},
      {"abs", [](const Tensor& a) { return nabla::abs(a); }, [](double x) { return std::abs(x); },
       true},
      {"sign", [](const Tensor& a) { return nabla::sign(a); },
       [](double x) { return static_cast<double>((x > 0) - (x < 0)); }, false},
      {"relu", [](const Tensor& a) { return nabla::relu(a); },
       [](double x) { return std::isnan(x) ? x : (x > 0 ? x : 0.0); }, true},
      {"sqrt", [](const Tensor& a) { return nabla::sqrt(nabla::abs(a)); },
       [](double x) { return std::sqrt(std::abs(x)); }, true},
  };
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x71DF0000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const Row& row = rows[static_cast<size_t>(i) % rows.size()];
    const int64_t n = wide_row_length(rng);
    const Shape shape{n > 100000 ? 1 : testing::diff::draw_size(rng, 1, 5), n};
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Layout layout = testing::diff::draw_layout(rng);
    const Tensor x = testing::diff::make_input(rng, shape, dtype, layout, wide_values(row.nan));
    const std::vector<double> v = testing::diff::read(x);
    const std::string context = "case seed " + std::to_string(seed) + " " + row.name + " " +
                                testing::diff::shape_string(shape) + " " +
                                std::string(dtype_name(dtype)) + " " +
                                testing::diff::layout_name(layout);
    ++ran;
    std::vector<double> expected(v.size());
    for (size_t e = 0; e < v.size(); ++e) expected[e] = round_to(dtype, row.ref(v[e]));
    const Tensor out = testing::diff::run_both_thread_counts([&] { return row.op(x); }, context);
    Checker check(context);
    check.dtype(out.dtype(), dtype);
    check.all(out, shape, expected, std::vector<double>(v.size(), 0.0));
    failing += check.failed();
  }
  testing::diff::report_cases("elementwise wide unary rows", ran);
}

// relu's and leaky_relu's backward: the fused kernel, and the gradient a plain backward gives,
// equal g where x > 0, else g * slope (exactly 0 for slope 0, also where g is NaN or x is NaN).
TEST(DifferentialElementwise, ReluBackwardIsGradWhereInputPositive) {
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x4E1B0000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Shape shape = draw_elementwise_shape(rng, large);
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const double slope = rng.pick(std::vector<double>{0.0, 0.0, 0.01, 0.2});
    const Layout lg = testing::diff::draw_layout(rng);
    const Layout lx = testing::diff::draw_layout(rng);
    const Tensor g = testing::diff::make_input(rng, shape, dtype, lg, wide_values(true));
    const Tensor x = testing::diff::make_input(rng, shape, dtype, lx, wide_values(true));
    const std::vector<double> vg = testing::diff::read(g);
    const std::vector<double> vx = testing::diff::read(x);
    const std::string context =
        "case seed " + std::to_string(seed) + " slope " + std::to_string(slope) + " " +
        testing::diff::shape_string(shape) + " " + std::string(dtype_name(dtype)) + " grad " +
        testing::diff::layout_name(lg) + " input " + testing::diff::layout_name(lx);
    ++ran;
    const double s = round_to(dtype, slope);
    std::vector<double> expected(vg.size());
    for (size_t e = 0; e < vg.size(); ++e) {
      expected[e] = vx[e] > 0 ? vg[e] : (slope == 0 ? 0.0 : round_to(dtype, vg[e] * s));
    }
    const std::vector<double> tol(vg.size(), 0.0);
    const Tensor fused = testing::diff::run_both_thread_counts(
        [&] { return kernels::relu_backward(g, x, slope); }, context);
    Checker check(context + " (kernel)");
    check.dtype(fused.dtype(), dtype);
    check.all(fused, shape, expected, tol);
    // The same through autograd, on a leaf laid out like x.
    const Tensor leaf = x.detach().requires_grad_();
    const Tensor y = slope == 0 ? nabla::relu(leaf) : nabla::leaky_relu(leaf, slope);
    y.backward(g);
    Checker through_autograd(context + " (backward)");
    through_autograd.all(leaf.grad(), shape, expected, tol);
    failing += check.failed() || through_autograd.failed();
  }
  testing::diff::report_cases("relu backward", ran);
}

// sigmoid's and tanh's backward from the saved output y: the fused kernel gives the bits of
// g * y * (1 - y) and g * (1 - y * y) rounded per operation (exact in double before the one
// rounding to float32), and so do a plain backward (fused) and a recorded one (composed ops).
TEST(DifferentialElementwise, SigmoidAndTanhBackwardsRoundLikeTheComposedExpressions) {
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x516D0000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Shape shape = draw_elementwise_shape(rng, large);
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const bool is_sigmoid = rng.chance(0.5);
    const kernels::UnaryOp op = is_sigmoid ? kernels::UnaryOp::Sigmoid : kernels::UnaryOp::Tanh;
    const Layout lg = testing::diff::draw_layout(rng);
    const Layout lx = testing::diff::draw_layout(rng, false);
    const Tensor g = testing::diff::make_input(rng, shape, dtype, lg, wide_values(true));
    const Tensor x = testing::diff::make_input(rng, shape, dtype, lx, wide_values(true));
    const std::string context =
        "case seed " + std::to_string(seed) + (is_sigmoid ? " sigmoid " : " tanh ") +
        testing::diff::shape_string(shape) + " " + std::string(dtype_name(dtype)) + " grad " +
        testing::diff::layout_name(lg) + " input " + testing::diff::layout_name(lx);
    ++ran;
    const auto expected_for = [&](const std::vector<double>& vg, const std::vector<double>& vy) {
      std::vector<double> expected(vg.size());
      for (size_t e = 0; e < vg.size(); ++e) {
        const double y = vy[e];
        expected[e] = is_sigmoid
                          ? round_to(dtype, round_to(dtype, vg[e] * y) * round_to(dtype, 1.0 - y))
                          : round_to(dtype, vg[e] * round_to(dtype, 1.0 - round_to(dtype, y * y)));
      }
      return expected;
    };
    const std::vector<double> vg = testing::diff::read(g);
    const std::vector<double> tol(vg.size(), 0.0);
    // The kernel on arbitrary y (here the x values, NaNs and all).
    const Tensor fused = testing::diff::run_both_thread_counts(
        [&] { return kernels::activation_backward(op, g, x); }, context);
    Checker check(context + " (kernel)");
    check.dtype(fused.dtype(), dtype);
    check.all(fused, shape, expected_for(vg, testing::diff::read(x)), tol);
    // Through autograd, on a leaf laid out like x, y = op(leaf): plain and recorded backwards.
    const Tensor leaf = x.detach().requires_grad_();
    const Tensor y = is_sigmoid ? nabla::sigmoid(leaf) : nabla::tanh(leaf);
    const std::vector<double> expected = expected_for(vg, testing::diff::read(y));
    const Tensor plain = autograd::grad({y}, {leaf}, {g}, true)[0];
    const Tensor recorded = autograd::grad({y}, {leaf}, {g}, true, true)[0];
    Checker through_plain(context + " (backward)");
    through_plain.all(plain, shape, expected, tol);
    Checker through_recorded(context + " (create_graph backward)");
    through_recorded.all(recorded, shape, expected, tol);
    failing += check.failed() || through_plain.failed() || through_recorded.failed();
  }
  testing::diff::report_cases("sigmoid/tanh backward", ran);
}

}  // namespace
}  // namespace nabla
