// Gradient-level sweep: gradcheck (float64 central differences) of every differentiable public op
// on seeded random small shapes (numel <= ~60) with broadcast, non-contiguous (transposed,
// step-sliced, offset), 0-d and size-1 inputs. Each failure names the op, shapes, layouts and seed.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/gradcheck_support.h"
#include "tests/support/reference.h"

namespace nabla {
namespace {

using testing::diff::Layout;
using testing::diff::Rng;

struct Sweep {
  int64_t checks = 0;
  int64_t entries = 0;
  int64_t vacuous = 0;
  int failing = 0;
};

// A float64 leaf of `shape` in a random non-expanded layout with values in [lo, hi) whose
// magnitude is at least `gap` (keeps kinks such as |x| and relu away from the samples).
Tensor leaf(Rng& rng, const Shape& shape, double lo, double hi, std::string& context,
            double gap = 0) {
  static const std::vector<Layout> kLayouts = {Layout::Contiguous, Layout::Transposed,
                                               Layout::Sliced, Layout::Offset,
                                               Layout::TransposedSliced};
  const Layout layout = rng.pick(kLayouts);
  Tensor t = testing::diff::make_input(rng, shape, kFloat64, layout, [lo, hi, gap](Rng& r) {
    for (;;) {
      const double v = r.uniform(lo, hi);
      if (std::abs(v) >= gap) return v;
    }
  });
  t.requires_grad_();
  context += " " + testing::diff::shape_string(shape) + " " + testing::diff::layout_name(layout);
  return t;
}

// A small shape (rank 0..max_rank, extents 1..5, numel <= 60).
Shape small_shape(Rng& rng, int64_t min_rank = 0, int64_t max_rank = 3) {
  return testing::diff::draw_shape(rng, min_rank, max_rank, 5, 60, false);
}

Shape broadcast_operand(Rng& rng, const Shape& out) {
  Shape s = out;
  const int64_t drop = rng.chance(0.3) ? rng.range(0, static_cast<int64_t>(s.size())) : 0;
  s.erase(s.begin(), s.begin() + drop);
  for (int64_t& e : s) {
    if (rng.chance(0.3)) e = 1;
  }
  return s;
}

void check(Sweep& sweep, const GradcheckFn& fn, const std::vector<Tensor>& inputs,
           const std::string& context) {
  GradcheckOptions options = testing::tight_options();
  options.allow_vacuous = true;  // e.g. var over one element; counted below
  const GradcheckReport report = gradcheck(fn, inputs, options);
  ++sweep.checks;
  sweep.vacuous += report.vacuous;
  sweep.entries += report.checked_entries;
  if (!report.passed) {
    ++sweep.failing;
    ADD_FAILURE() << context << ": " << report.message;
  }
}

std::vector<int64_t> random_dims(Rng& rng, int64_t rank) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < rank; ++d) {
    if (rng.chance(0.5)) dims.push_back(rng.chance(0.5) ? d - rank : d);
  }
  return dims;
}

struct UnaryOp {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  double lo, hi, gap;
};

std::vector<UnaryOp> unary_ops() {
  return {
      {"neg", [](const Tensor& a) { return -a; }, -2, 2, 0},
      {"abs", [](const Tensor& a) { return nabla::abs(a); }, -2, 2, 0.05},
      {"exp", [](const Tensor& a) { return nabla::exp(a); }, -2, 2, 0},
      {"log", [](const Tensor& a) { return nabla::log(a); }, 0.2, 3, 0},
      {"log1p", [](const Tensor& a) { return nabla::log1p(a); }, -0.5, 2, 0},
      {"sqrt", [](const Tensor& a) { return nabla::sqrt(a); }, 0.2, 3, 0},
      {"square", [](const Tensor& a) { return nabla::square(a); }, -2, 2, 0},
      {"sin", [](const Tensor& a) { return nabla::sin(a); }, -3, 3, 0},
      {"cos", [](const Tensor& a) { return nabla::cos(a); }, -3, 3, 0},
      {"erf", [](const Tensor& a) { return nabla::erf(a); }, -2, 2, 0},
      {"relu", [](const Tensor& a) { return nabla::relu(a); }, -2, 2, 0.05},
      {"leaky_relu", [](const Tensor& a) { return nabla::leaky_relu(a, 0.2); }, -2, 2, 0.05},
      {"sigmoid", [](const Tensor& a) { return nabla::sigmoid(a); }, -4, 4, 0},
      {"tanh", [](const Tensor& a) { return nabla::tanh(a); }, -3, 3, 0},
      {"gelu", [](const Tensor& a) { return nabla::gelu(a); }, -3, 3, 0},
      {"softplus", [](const Tensor& a) { return nabla::softplus(a); }, -4, 4, 0},
      {"elu", [](const Tensor& a) { return nabla::elu(a, 0.7); }, -2, 2, 0.05},
      {"clamp", [](const Tensor& a) { return nabla::clamp(a, -0.5, 0.5); }, -1, 1, 0},
      {"pow 3", [](const Tensor& a) { return nabla::pow(a, 3.0); }, -2, 2, 0},
      {"pow -0.5", [](const Tensor& a) { return nabla::pow(a, -0.5); }, 0.3, 3, 0},
      {"scalar ops", [](const Tensor& a) { return (2.0 - a) * 3.0 / 1.5 + 1.0; }, -2, 2, 0},
      {"1 / a", [](const Tensor& a) { return 1.0 / a; }, 0.3, 3, 0},
      {"contiguous", [](const Tensor& a) { return nabla::contiguous(a) * a; }, -2, 2, 0},
      {"clone", [](const Tensor& a) { return nabla::clone(a); }, -2, 2, 0},
  };
}

TEST(GradSweep, UnaryOpsOnRandomShapesAndLayouts) {
  const std::vector<UnaryOp> ops = unary_ops();
  const int64_t per_op = testing::diff::case_count(8);
  Sweep sweep;
  for (size_t k = 0; k < ops.size(); ++k) {
    for (int64_t i = 0; i < per_op && sweep.failing < testing::diff::kMaxFailingCases; ++i) {
      const uint64_t seed = 0x6A000000 + k * 1000 + static_cast<uint64_t>(i);
      if (!testing::diff::selected(seed)) continue;
      Rng rng(seed);
      const UnaryOp& op = ops[k];
      // clamp: keep samples off the bounds.
      const double gap = op.gap;
      std::string context = "seed " + std::to_string(seed) + " " + op.name;
      Tensor a = leaf(rng, small_shape(rng), op.lo, op.hi, context, gap);
      if (op.name == "clamp") {
        // Nudge values away from the kinks at +-0.5.
        std::vector<double> v = testing::diff::read(a);
        for (double& x : v) {
          if (std::abs(std::abs(x) - 0.5) < 0.05) x *= 0.8;
        }
        testing::diff::write(a, v);
      }
      check(
          sweep, [&op](const std::vector<Tensor>& in) { return op.op(in[0]); }, {a}, context);
    }
  }
  testing::diff::report_cases("gradcheck unary", sweep.checks);
  std::cout << "[diff]   Jacobian entries checked: " << sweep.entries
            << ", vacuous checks: " << sweep.vacuous << "\n";
}

struct BinaryOp {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  double lo_a, hi_a, lo_b, hi_b;
};

TEST(GradSweep, BinaryOpsOnBroadcastShapes) {
  const std::vector<BinaryOp> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }, -2, 2, -2, 2},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, -2, 2, -2, 2},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, -2, 2, -2, 2},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, -2, 2, 0.5, 2},
      {"pow", [](const Tensor& a, const Tensor& b) { return nabla::pow(a, b); }, 0.3, 2, -2, 2},
      // Disjoint ranges: no ties, so max/min are smooth at the samples.
      {"maximum", [](const Tensor& a, const Tensor& b) { return nabla::maximum(a, b); }, -2, -0.1,
       0.1, 2},
      {"minimum", [](const Tensor& a, const Tensor& b) { return nabla::minimum(a * 3.0, b); }, -2,
       2, -9, 9},
      {"where", [](const Tensor& a, const Tensor& b) { return nabla::where(a > b, a * a, b); }, -2,
       2, -2, 2},
  };
  const int64_t per_op = testing::diff::case_count(10);
  Sweep sweep;
  for (size_t k = 0; k < ops.size(); ++k) {
    for (int64_t i = 0; i < per_op && sweep.failing < testing::diff::kMaxFailingCases; ++i) {
      const uint64_t seed = 0x6B000000 + k * 1000 + static_cast<uint64_t>(i);
      if (!testing::diff::selected(seed)) continue;
      Rng rng(seed);
      const BinaryOp& op = ops[k];
      const Shape out = small_shape(rng);
      std::string context = "seed " + std::to_string(seed) + " " + op.name;
      Tensor a =
          leaf(rng, rng.chance(0.5) ? out : broadcast_operand(rng, out), op.lo_a, op.hi_a, context);
      Tensor b = leaf(rng, broadcast_operand(rng, out), op.lo_b, op.hi_b, context);
      if (op.name == "minimum" || op.name == "where") {
        // Separate near-ties (|3a - b| or |a - b| tiny) by nudging b.
        std::vector<double> vb = testing::diff::read(b);
        for (double& x : vb) x += 0.013;
        testing::diff::write(b, vb);
      }
      check(
          sweep, [&op](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); }, {a, b},
          context);
    }
  }
  testing::diff::report_cases("gradcheck binary (broadcast)", sweep.checks);
  std::cout << "[diff]   Jacobian entries checked: " << sweep.entries
            << ", vacuous checks: " << sweep.vacuous << "\n";
}

TEST(GradSweep, ReductionsAndSoftmaxOverRandomDims) {
  const int64_t cases = testing::diff::case_count(120);
  Sweep sweep;
  for (int64_t i = 0; i < cases && sweep.failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x6C000000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    std::string context = "seed " + std::to_string(seed);
    Tensor a = leaf(rng, small_shape(rng), -2, 2, context);
    const std::vector<int64_t> dims = random_dims(rng, a.dim());
    const bool keepdim = rng.chance(0.5);
    const int64_t dim = a.dim() == 0 ? 0 : rng.range(-a.dim(), a.dim() - 1);
    std::string dims_text = " dims {";
    for (const int64_t d : dims) dims_text += std::to_string(d) + ",";
    dims_text += keepdim ? "} keepdim" : "}";
    const std::vector<std::pair<std::string, GradcheckFn>> fns = {
        {"sum",
         [&](const std::vector<Tensor>& in) { return nabla::sum(in[0] * in[0], dims, keepdim); }},
        {"mean", [&](const std::vector<Tensor>& in) { return nabla::mean(in[0], dims, keepdim); }},
        {"amax", [&](const std::vector<Tensor>& in) { return nabla::amax(in[0], dims, keepdim); }},
        {"amin", [&](const std::vector<Tensor>& in) { return nabla::amin(in[0], dims, keepdim); }},
        {"var", [&](const std::vector<Tensor>& in) { return nabla::var(in[0], dims, 0, keepdim); }},
        {"std", [&](const std::vector<Tensor>& in) { return nabla::std(in[0], dims, 1, keepdim); }},
        {"logsumexp",
         [&](const std::vector<Tensor>& in) { return nabla::logsumexp(in[0], dims, keepdim); }},
        {"softmax",
         [&](const std::vector<Tensor>& in) { return nabla::softmax(in[0], dim) * in[0]; }},
        {"log_softmax",
         [&](const std::vector<Tensor>& in) { return nabla::log_softmax(in[0], dim); }},
    };
    for (const auto& [name, fn] : fns) {
      // std over one element is sqrt(0): not differentiable.
      if (name == "std") {
        int64_t count = 1;
        for (int64_t d = 0; d < a.dim(); ++d) {
          const bool reduced = dims.empty() ||
                               std::find(dims.begin(), dims.end(), d) != dims.end() ||
                               std::find(dims.begin(), dims.end(), d - a.dim()) != dims.end();
          if (reduced) count *= a.size(d);
        }
        if (count < 2) continue;
      }
      std::string what = context;
      what += dims_text;
      what += " dim " + std::to_string(dim) + " " + name;
      check(sweep, fn, {a}, what);
    }
  }
  testing::diff::report_cases("gradcheck reductions + softmax", sweep.checks);
  std::cout << "[diff]   Jacobian entries checked: " << sweep.entries
            << ", vacuous checks: " << sweep.vacuous << "\n";
}

TEST(GradSweep, ShapeAndIndexOps) {
  const int64_t cases = testing::diff::case_count(60);
  Sweep sweep;
  for (int64_t i = 0; i < cases && sweep.failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x6D000000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    std::string context = "seed " + std::to_string(seed);
    Tensor a = leaf(rng, small_shape(rng, 1, 3), -2, 2, context);
    const int64_t rank = a.dim();
    const int64_t dim = rng.below(rank);
    const int64_t extent = a.size(dim);
    const std::string where = context + " dim " + std::to_string(dim);
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) perm[static_cast<size_t>(d)] = rank - 1 - d;
    const int64_t start = rng.below(extent);
    const int64_t step = rng.range(1, 3);
    Shape expanded = a.shape();
    expanded.insert(expanded.begin(), 2);
    // An int64 index along `dim` with the other extents no larger than a's.
    Shape index_shape = a.shape();
    index_shape[static_cast<size_t>(dim)] = rng.range(1, 4);
    const Tensor index = testing::diff::make_input(
        rng, index_shape, kInt64, Layout::Contiguous,
        [extent](Rng& r) { return static_cast<double>(r.below(extent)); });
    const Tensor vector_index = testing::diff::make_input(
        rng, {rng.range(1, 4)}, kInt64, Layout::Contiguous,
        [extent](Rng& r) { return static_cast<double>(r.below(extent)); });
    std::string other_context;
    Tensor b = leaf(rng, a.shape(), -2, 2, other_context);
    Tensor source = leaf(rng, index_shape, -2, 2, other_context);
    const std::vector<std::pair<std::string, GradcheckFn>> fns = {
        {"reshape", [&](const std::vector<Tensor>& in) { return nabla::reshape(in[0], {-1}); }},
        {"flatten", [&](const std::vector<Tensor>& in) { return nabla::flatten(in[0]); }},
        {"transpose",
         [&](const std::vector<Tensor>& in) { return nabla::transpose(in[0], 0, -1); }},
        {"permute", [&](const std::vector<Tensor>& in) { return nabla::permute(in[0], perm); }},
        {"unsqueeze+squeeze",
         [&](const std::vector<Tensor>& in) {
           return nabla::squeeze(nabla::unsqueeze(in[0], dim), dim);
         }},
        {"expand",
         [&](const std::vector<Tensor>& in) { return nabla::expand(in[0], expanded) * 1.5; }},
        {"slice",
         [&](const std::vector<Tensor>& in) {
           return nabla::slice(in[0], dim, start, std::nullopt, step);
         }},
        {"select", [&](const std::vector<Tensor>& in) { return nabla::select(in[0], dim, start); }},
        {"narrow",
         [&](const std::vector<Tensor>& in) {
           return nabla::narrow(in[0], dim, start, extent - start);
         }},
        {"cat",
         [&](const std::vector<Tensor>& in) {
           return nabla::cat({in[0], in[1] * in[0], in[1]}, dim);
         }},
        {"stack",
         [&](const std::vector<Tensor>& in) {
           return nabla::stack({in[0], in[1]}, dim);
         }},
        {"gather", [&](const std::vector<Tensor>& in) { return nabla::gather(in[0], dim, index); }},
        {"index_select",
         [&](const std::vector<Tensor>& in) {
           return nabla::index_select(in[0], dim, vector_index);
         }},
        {"scatter_add",
         [&](const std::vector<Tensor>& in) {
           return nabla::scatter_add(a.shape(), dim, index, in[2]) * in[0];
         }},
        {"sum_to",
         [&](const std::vector<Tensor>& in) {
           Shape target = in[0].shape();
           target[static_cast<size_t>(dim)] = 1;
           return nabla::sum_to(in[0] * in[1], target);
         }},
    };
    for (const auto& [name, fn] : fns) {
      std::string what = where;
      what += " " + name;
      what += other_context;
      check(sweep, fn, {a, b, source}, what);
    }
  }
  testing::diff::report_cases("gradcheck shape + index ops", sweep.checks);
  std::cout << "[diff]   Jacobian entries checked: " << sweep.entries
            << ", vacuous checks: " << sweep.vacuous << "\n";
}

TEST(GradSweep, MatmulConvAndPooling) {
  const int64_t cases = testing::diff::case_count(60);
  Sweep sweep;
  for (int64_t i = 0; i < cases && sweep.failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x6E000000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    // matmul: 1-D, 2-D or batched with a broadcast batch dim.
    {
      std::string context = "seed " + std::to_string(seed) + " matmul";
      const int64_t m = rng.range(1, 4);
      const int64_t k = rng.range(1, 4);
      const int64_t n = rng.range(1, 4);
      const int64_t kind = rng.below(4);
      Shape sa = {m, k};
      Shape sb = {k, n};
      if (kind == 1) sa = {k};
      if (kind == 2) sb = {k};
      if (kind == 3) {
        sa.insert(sa.begin(), rng.range(1, 3));
        sb.insert(sb.begin(), 1);
      }
      Tensor a = leaf(rng, sa, -1, 1, context);
      Tensor b = leaf(rng, sb, -1, 1, context);
      check(
          sweep, [](const std::vector<Tensor>& in) { return nabla::matmul(in[0], in[1]); }, {a, b},
          context);
    }
    // conv2d with bias, strides, padding and dilation.
    {
      std::string context = "seed " + std::to_string(seed) + " conv2d";
      Conv2dOptions o;
      o.stride = {rng.range(1, 2), rng.range(1, 2)};
      o.dilation = {rng.range(1, 2), rng.range(1, 2)};
      for (int64_t& p : o.padding) p = rng.range(0, 1);
      const int64_t kh = rng.range(1, 2);
      const int64_t kw = rng.range(1, 2);
      const int64_t c = rng.range(1, 2);
      const int64_t oc = rng.range(1, 2);
      const int64_t h = rng.range(kh * o.dilation[0], 4);
      const int64_t w = rng.range(kw * o.dilation[1], 4);
      Tensor x = leaf(rng, {rng.range(1, 2), c, h, w}, -1, 1, context);
      Tensor wt = leaf(rng, {oc, c, kh, kw}, -1, 1, context);
      Tensor bias = leaf(rng, {oc}, -1, 1, context);
      check(
          sweep,
          [o](const std::vector<Tensor>& in) { return nabla::conv2d(in[0], in[1], in[2], o); },
          {x, wt, bias}, context);
      check(
          sweep,
          [o](const std::vector<Tensor>& in) { return nabla::conv2d_relu(in[0], in[1], in[2], o); },
          {x, wt, bias}, context + "_relu");
    }
    // max/avg pooling (distinct random values, so the max is smooth).
    {
      std::string context = "seed " + std::to_string(seed) + " pool";
      Pool2dOptions o;
      o.kernel = {rng.range(1, 3), rng.range(1, 3)};
      o.stride = {rng.range(1, 2), rng.range(1, 2)};
      o.padding = {rng.range(0, o.kernel[0] - 1), 0, rng.range(0, o.kernel[1] - 1), 0};
      Tensor x = leaf(
          rng,
          {rng.range(1, 2), rng.range(1, 2), rng.range(o.kernel[0], 5), rng.range(o.kernel[1], 5)},
          -1, 1, context);
      check(
          sweep, [o](const std::vector<Tensor>& in) { return nabla::max_pool2d(in[0], o); }, {x},
          context + " max_pool2d");
      check(
          sweep, [o](const std::vector<Tensor>& in) { return nabla::avg_pool2d(in[0], o); }, {x},
          context + " avg_pool2d");
    }
  }
  testing::diff::report_cases("gradcheck matmul + conv2d + pooling", sweep.checks);
  std::cout << "[diff]   Jacobian entries checked: " << sweep.entries
            << ", vacuous checks: " << sweep.vacuous << "\n";
}

}  // namespace
}  // namespace nabla
