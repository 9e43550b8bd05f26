// Differential sweep of the reductions (sum, mean, amax/amin with ties, var, logsumexp,
// argmax/argmin) over every subset of dims with and without keepdim, and of softmax/log_softmax
// over every dim, against double loops written here; random shapes hit the kernels' blocks
// (kColumnLeaf 8, kColumnBand 16 and its strips, the pairwise sum's vector 16/8 and block 64/32
// lanes and leaf 1024/512 (float/double), softmax's short rows below 64, kColumnWidth 2048, softmax
// block 16Ki, kSumChunk 64Ki, kParallelGrain 128Ki) and every layout, at 1 and 2 threads. A second
// sweep aims sum and mean over non-adjacent dims of contiguous tensors (the in-place strided path),
// float32, float64 and int64; a third aims rows of softmax, log_softmax and sum at those widths,
// with logits far from 0, -inf entries and exponentials down to the subnormals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/reference.h"

namespace nabla {
namespace {

using testing::diff::Checker;
using testing::diff::Layout;
using testing::diff::Rng;

const std::vector<int64_t> kReduceBlocks = {8, 16, 32, 64, 512, 1024, 2048, 16384};

// The input positions (row-major, in order) that feed each output of a reduction over `reduced`.
struct Groups {
  Shape out_shape;
  std::vector<std::vector<int64_t>> members;
};

Groups group(const Shape& shape, const std::vector<bool>& reduced, bool keepdim) {
  Groups g;
  int64_t outputs = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) {
      if (keepdim) g.out_shape.push_back(1);
    } else {
      g.out_shape.push_back(shape[d]);
      outputs *= shape[d];
    }
  }
  g.members.resize(static_cast<size_t>(outputs));
  const int64_t n = testing::diff::numel_of(shape);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t out = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!reduced[d]) out = out * shape[d] + index[d];
    }
    g.members[static_cast<size_t>(out)].push_back(i);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return g;
}

double log2_of(int64_t n) { return std::log2(static_cast<double>(n) + 1.0); }

// sum and mean of each group in long double, with tolerances from the pairwise-summation bound:
// `eps` for the sum (0 for exact int64), `mean_eps` for the mean (a floating result).
struct SumMeanReference {
  std::vector<double> sum, mean, tol_sum, tol_mean;
};
SumMeanReference sum_mean_reference(const Groups& g, const std::vector<double>& v, double eps,
                                    double mean_eps) {
  const size_t outs = g.members.size();
  SumMeanReference r{std::vector<double>(outs), std::vector<double>(outs),
                     std::vector<double>(outs), std::vector<double>(outs)};
  for (size_t o = 0; o < outs; ++o) {
    long double s = 0;
    double mag = 0;
    for (const int64_t i : g.members[o]) {
      s += v[static_cast<size_t>(i)];
      mag += std::abs(v[static_cast<size_t>(i)]);
    }
    const auto n = static_cast<int64_t>(g.members[o].size());
    r.sum[o] = static_cast<double>(s);
    r.tol_sum[o] = eps * (4 + 2 * log2_of(n)) * mag + 1e-300;
    r.mean[o] = static_cast<double>(s / static_cast<long double>(n));
    r.tol_mean[o] = n == 0 ? 0
                           : mean_eps * (4 + 2 * log2_of(n)) * mag / static_cast<double>(n) +
                                 2 * mean_eps * std::abs(r.mean[o]) + 1e-300;
  }
  return r;
}

struct Totals {
  int64_t cases = 0;
  int64_t checks = 0;
  int failing = 0;
};

// Compares one reduction result (or the error it must throw) with the reference.
void check_reductions(const Tensor& x, const std::vector<double>& v,
                      const std::vector<int64_t>& dims, bool keepdim, const std::string& context,
                      Totals& totals, bool threads) {
  const Shape& shape = x.shape();
  std::vector<bool> reduced(shape.size(), dims.empty());
  for (const int64_t d : dims) reduced[static_cast<size_t>(d < 0 ? d + x.dim() : d)] = true;
  const Groups g = group(shape, reduced, keepdim);
  const double eps = testing::diff::eps_of(x.dtype());
  const size_t outs = g.members.size();
  std::string dims_text = "{";
  for (const int64_t d : dims) dims_text += std::to_string(d) + ",";
  dims_text += keepdim ? "} keepdim" : "}";

  auto run = [&](const std::string& op, const std::function<Tensor()>& fn) {
    const std::string where = context + " " + op + " dims " + dims_text;
    return threads ? testing::diff::run_both_thread_counts(fn, where) : fn();
  };

  // sum and mean
  {
    const SumMeanReference ref = sum_mean_reference(g, v, eps, eps);
    Checker c_sum(context + " sum dims " + dims_text);
    c_sum.all(run("sum", [&] { return nabla::sum(x, dims, keepdim); }), g.out_shape, ref.sum,
              ref.tol_sum);
    Checker c_mean(context + " mean dims " + dims_text);
    c_mean.all(run("mean", [&] { return nabla::mean(x, dims, keepdim); }), g.out_shape, ref.mean,
               ref.tol_mean);
    totals.failing += c_sum.failed() + c_mean.failed();
    totals.checks += 2;
  }
  // amax / amin (exact); an empty reduced extent must throw.
  {
    bool empty = false;
    std::vector<double> hi(outs);
    std::vector<double> lo(outs);
    std::vector<double> zero(outs, 0.0);
    for (size_t o = 0; o < outs; ++o) {
      if (g.members[o].empty()) {
        empty = true;
        continue;
      }
      hi[o] = lo[o] = v[static_cast<size_t>(g.members[o][0])];
      for (const int64_t i : g.members[o]) {
        hi[o] = std::max(hi[o], v[static_cast<size_t>(i)]);
        lo[o] = std::min(lo[o], v[static_cast<size_t>(i)]);
      }
    }
    int64_t reduced_count = 1;
    for (size_t d = 0; d < shape.size(); ++d) reduced_count *= reduced[d] ? shape[d] : 1;
    if (reduced_count == 0) empty = true;
    Checker c_max(context + " amax dims " + dims_text);
    Checker c_min(context + " amin dims " + dims_text);
    if (empty) {
      EXPECT_THROW((void)nabla::amax(x, dims, keepdim), Error) << c_max.context();
      EXPECT_THROW((void)nabla::amin(x, dims, keepdim), Error) << c_min.context();
    } else {
      c_max.all(run("amax", [&] { return nabla::amax(x, dims, keepdim); }), g.out_shape, hi, zero);
      c_min.all(run("amin", [&] { return nabla::amin(x, dims, keepdim); }), g.out_shape, lo, zero);
    }
    totals.failing += c_max.failed() + c_min.failed();
    totals.checks += 2;
  }
  // var with correction 0 and 1 (two-pass in double).
  for (const int64_t correction : {int64_t{0}, int64_t{1}}) {
    std::vector<double> var(outs);
    std::vector<double> tol(outs);
    for (size_t o = 0; o < outs; ++o) {
      const auto n = static_cast<int64_t>(g.members[o].size());
      long double s = 0;
      for (const int64_t i : g.members[o]) s += v[static_cast<size_t>(i)];
      const long double m = s / static_cast<long double>(n);
      long double ss = 0;
      double mag = 0;
      double top = 0;
      for (const int64_t i : g.members[o]) {
        const long double xi = v[static_cast<size_t>(i)];
        ss += (xi - m) * (xi - m);
        mag += static_cast<double>(std::abs(xi - m) * (std::abs(xi) + std::abs(m)) +
                                   (xi - m) * (xi - m));
        top = std::max(top, static_cast<double>(std::abs(xi)));
      }
      const auto den = static_cast<double>(std::max<int64_t>(n - correction, 0));
      var[o] = static_cast<double>(ss / static_cast<long double>(den));
      // The rounded mean is off by about eps * log(n) * max|x|; its square enters every term.
      const double mean_error = eps * (4 + 2 * log2_of(n)) * top;
      tol[o] =
          (eps * (8 + 4 * log2_of(n)) * mag + static_cast<double>(n) * mean_error * mean_error) /
              den +
          1e-300;
    }
    std::string what = context;
    what += " var(correction " + std::to_string(correction) + ") dims ";
    what += dims_text;
    Checker c(what);
    c.all(run("var", [&] { return nabla::var(x, dims, correction, keepdim); }), g.out_shape, var,
          tol);
    totals.failing += c.failed();
    ++totals.checks;
  }
  // logsumexp (its dims may not be empty-as-all in the reference, so pass them through).
  {
    std::vector<double> lse(outs);
    std::vector<double> tol(outs);
    for (size_t o = 0; o < outs; ++o) {
      const auto n = static_cast<int64_t>(g.members[o].size());
      if (n == 0) {
        lse[o] = -std::numeric_limits<double>::infinity();
        continue;
      }
      double top = -std::numeric_limits<double>::infinity();
      for (const int64_t i : g.members[o]) top = std::max(top, v[static_cast<size_t>(i)]);
      long double acc = 0;
      for (const int64_t i : g.members[o]) acc += std::exp(v[static_cast<size_t>(i)] - top);
      lse[o] = top + static_cast<double>(std::log(acc));
      tol[o] = eps * (8 + 2 * log2_of(n)) * (std::abs(lse[o]) + std::abs(top) + 1);
    }
    Checker c(context + " logsumexp dims " + dims_text);
    c.all(run("logsumexp", [&] { return nabla::logsumexp(x, dims, keepdim); }), g.out_shape, lse,
          tol);
    totals.failing += c.failed();
    ++totals.checks;
  }
}

// argmax/argmin along one dim or over everything (first index among ties).
void check_arg(const Tensor& x, const std::vector<double>& v, std::optional<int64_t> dim,
               bool keepdim, const std::string& context, Totals& totals) {
  const Shape& shape = x.shape();
  Groups g;
  if (dim) {
    std::vector<bool> reduced(shape.size(), false);
    reduced[static_cast<size_t>(*dim < 0 ? *dim + x.dim() : *dim)] = true;
    g = group(shape, reduced, keepdim);
  } else {
    g = group({x.numel()}, {true}, false);
    // NOTE: torch.argmax(x, keepdim=True) without a dim keeps every dim as size 1.
    g.out_shape = keepdim ? Shape(shape.size(), 1) : Shape{};
  }
  const std::string where =
      context + " dim " + (dim ? std::to_string(*dim) : "none") + (keepdim ? " keepdim" : "");
  bool empty = false;
  std::vector<double> hi(g.members.size());
  std::vector<double> lo(g.members.size());
  std::vector<double> zero(g.members.size(), 0.0);
  for (size_t o = 0; o < g.members.size(); ++o) {
    const auto& m = g.members[o];
    if (m.empty()) {
      empty = true;
      continue;
    }
    int64_t best_hi = 0;
    int64_t best_lo = 0;
    for (int64_t k = 1; k < static_cast<int64_t>(m.size()); ++k) {
      const double xk = v[static_cast<size_t>(m[static_cast<size_t>(k)])];
      if (xk > v[static_cast<size_t>(m[static_cast<size_t>(best_hi)])]) best_hi = k;
      if (xk < v[static_cast<size_t>(m[static_cast<size_t>(best_lo)])]) best_lo = k;
    }
    hi[o] = static_cast<double>(best_hi);
    lo[o] = static_cast<double>(best_lo);
  }
  int64_t reduced_count =
      dim ? shape[static_cast<size_t>(*dim < 0 ? *dim + x.dim() : *dim)] : x.numel();
  if (reduced_count == 0) empty = true;
  Checker c_max(where + " argmax");
  Checker c_min(where + " argmin");
  if (empty) {
    EXPECT_THROW((void)nabla::argmax(x, dim, keepdim), Error) << where;
  } else {
    const Tensor a = nabla::argmax(x, dim, keepdim);
    c_max.dtype(a.dtype(), kInt64);
    c_max.all(a, g.out_shape, hi, zero);
    c_min.all(nabla::argmin(x, dim, keepdim), g.out_shape, lo, zero);
  }
  totals.failing += c_max.failed() + c_min.failed();
  totals.checks += 2;
}

// softmax and log_softmax along `dim`.
void check_softmax(const Tensor& x, const std::vector<double>& v, int64_t dim,
                   const std::string& context, Totals& totals, bool threads) {
  const Shape& shape = x.shape();
  const double eps = testing::diff::eps_of(x.dtype());
  const double subnormal_step =
      4 * (x.dtype() == kFloat32 ? std::numeric_limits<float>::denorm_min() : 1e-300);
  std::vector<double> sm(v.size());
  std::vector<double> lsm(v.size());
  std::vector<double> tol_sm(v.size());
  std::vector<double> tol_lsm(v.size());
  if (x.dim() == 0) {
    sm = {1.0};
    lsm = {0.0};
    tol_sm = tol_lsm = {0.0};
  } else {
    std::vector<bool> reduced(shape.size(), false);
    reduced[static_cast<size_t>(dim < 0 ? dim + x.dim() : dim)] = true;
    const Groups g = group(shape, reduced, true);
    for (const auto& m : g.members) {
      double top = -std::numeric_limits<double>::infinity();
      for (const int64_t i : m) top = std::max(top, v[static_cast<size_t>(i)]);
      long double total = 0;
      for (const int64_t i : m) total += std::exp(v[static_cast<size_t>(i)] - top);
      const long double log_total = std::log(total);
      const double depth = log2_of(static_cast<int64_t>(m.size()));
      for (const int64_t i : m) {
        const auto k = static_cast<size_t>(i);
        const double shifted = v[k] - top;
        sm[k] = static_cast<double>(std::exp(static_cast<long double>(shifted)) / total);
        lsm[k] = static_cast<double>(shifted - log_total);
        // Exponentials below the normal range keep only an absolute accuracy (a few steps).
        // NOTE: a -inf logit gives exactly 0, whose tolerance must not be inf * 0.
        const double spread = std::isinf(shifted) ? 0.0 : std::abs(shifted);
        tol_sm[k] = eps * (16 + 2 * spread + 2 * depth) * sm[k] + subnormal_step;
        tol_lsm[k] = eps * (16 + 2 * depth) * (std::abs(lsm[k]) + 1);
      }
    }
  }
  const std::string where = context + " dim " + std::to_string(dim);
  auto run = [&](const std::function<Tensor()>& fn) {
    return threads ? testing::diff::run_both_thread_counts(fn, where) : fn();
  };
  Checker c_sm(where + " softmax");
  c_sm.all(run([&] { return nabla::softmax(x, dim); }), shape, sm, tol_sm);
  Checker c_lsm(where + " log_softmax");
  c_lsm.all(run([&] { return nabla::log_softmax(x, dim); }), shape, lsm, tol_lsm);
  totals.failing += c_sm.failed() + c_lsm.failed();
  totals.checks += 2;
}

// A shape aimed at the block boundaries: mostly small random ranks, sometimes a [before, rows,
// after] column-sum shape, a long 1-D run past 2 * kSumChunk, or a tensor past kParallelGrain.
Shape draw_reduce_shape(Rng& rng, bool& large) {
  large = false;
  const double p = rng.uniform();
  const int64_t big = testing::diff::sanitized() ? 2 : 1;
  if (p < 0.12) {
    // Column sums: rows around the leaf (8), the band (16) and their powers, after around the
    // strips (4/8/16/32 floats, 4/8/16 doubles) and kColumnWidth.
    const int64_t rows = testing::diff::draw_size(rng, 1, 140, {8, 16, 32, 64, 128});
    const int64_t after = rng.chance(0.3)
                              ? rng.pick(std::vector<int64_t>{2047, 2048, 2049, 4097})
                              : testing::diff::draw_size(rng, 1, 70, {4, 8, 16, 32, 48, 64});
    const int64_t before = rng.range(1, 3);
    large = before * rows * after > 65536;
    if (before * rows * after > 400000 / big) return {rows, after};
    return {before, rows, after};
  }
  if (p < 0.12 + 0.03 / static_cast<double>(big)) {
    large = true;
    const int64_t n =
        rng.pick(std::vector<int64_t>{131071, 131072, 131073, 196607, 196609, 262145});
    return rng.chance(0.5) ? Shape{n} : Shape{1, n};
  }
  if (p < 0.17) {
    large = true;
    // Past kParallelGrain with several output rows (parallel reduce_rows, softmax blocks).
    const int64_t inner = rng.pick(std::vector<int64_t>{1, 7, 16, 255, 257, 16383, 16385});
    const int64_t outer = (131072 + inner) / inner + rng.range(0, 3);
    return rng.chance(0.5) ? Shape{outer, inner} : Shape{inner, outer};
  }
  return testing::diff::draw_shape(rng, 0, 4, 300, 6000, true, kReduceBlocks);
}

TEST(DifferentialReduce, MatchesDoubleReferenceOverEverySubsetOfDims) {
  const int64_t cases = testing::diff::case_count(400);
  Totals totals;
  for (int64_t c = 0; c < cases && totals.failing < testing::diff::kMaxFailingCases; ++c) {
    const uint64_t seed = 0xD1FF0000 + static_cast<uint64_t>(c);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Shape shape = draw_reduce_shape(rng, large);
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Layout layout = large ? (rng.chance(0.7) ? Layout::Contiguous : Layout::Transposed)
                                : testing::diff::draw_layout(rng);
    const bool ties = rng.chance(0.3);
    const Tensor x = testing::diff::make_input(
        rng, shape, dtype, layout,
        ties ? testing::diff::tie_values(-3, 3) : testing::diff::uniform_values(-4, 4));
    const std::vector<double> v = testing::diff::read(x);
    const std::string context = "case seed " + std::to_string(seed) + " shape " +
                                testing::diff::shape_string(shape) + " " +
                                std::string(dtype_name(dtype)) + " " +
                                testing::diff::layout_name(layout) + (ties ? " ties" : "");
    ++totals.cases;
    const auto rank = static_cast<int64_t>(shape.size());
    // Every subset of dims ({} means all), both keepdims; large cases take a few at random.
    std::vector<std::vector<int64_t>> subsets;
    for (int64_t mask = 0; mask < (int64_t{1} << rank); ++mask) {
      std::vector<int64_t> dims;
      for (int64_t d = 0; d < rank; ++d) {
        // Negative dims half of the time.
        if (mask & (int64_t{1} << d)) dims.push_back(rng.chance(0.5) ? d - rank : d);
      }
      subsets.push_back(dims);
    }
    // Big tensors take a few subsets at random (every subset is covered by the small ones).
    const int64_t keep = large ? 2 : testing::diff::numel_of(shape) > 1500 ? 4 : 0;
    if (keep > 0) {
      std::vector<std::vector<int64_t>> few;
      for (int64_t k = 0; k < keep; ++k) few.push_back(rng.pick(subsets));
      subsets = few;
    }
    for (const auto& dims : subsets) {
      for (const bool keepdim : {false, true}) {
        check_reductions(x, v, dims, keepdim, context, totals, large);
      }
    }
    std::vector<std::optional<int64_t>> arg_dims = {std::nullopt};
    for (int64_t d = 0; d < rank; ++d) arg_dims.emplace_back(d);
    if (rank > 0) arg_dims.emplace_back(-1);
    for (const auto& dim : arg_dims) {
      if (large && dim && rng.chance(0.6)) continue;
      for (const bool keepdim : {false, true}) check_arg(x, v, dim, keepdim, context, totals);
    }
    for (int64_t d = rank == 0 ? 0 : -1; d < std::max<int64_t>(rank, 1); ++d) {
      if (large && rng.chance(0.5)) continue;
      check_softmax(x, v, d, context, totals, large);
    }
  }
  testing::diff::report_cases("reduce (shapes)", totals.cases);
  testing::diff::report_cases("reduce (op calls checked)", totals.checks);
}

// A contiguous 3-D or 4-D shape for sums over non-adjacent dims (sum_strided): extents around
// the column leaf (8), the pairwise base (256), kColumnWidth (2048), 0 and 1 (size-1 dims merge
// their neighbours); sometimes a run past kSumChunk or a tensor past kParallelGrain.
Shape draw_strided_shape(Rng& rng, bool& large) {
  large = false;
  const int64_t big = testing::diff::sanitized() ? 2 : 1;
  const std::vector<int64_t> small = {1, 2, 3, 7, 8, 9, 13, 15, 16, 17};
  const double p = rng.uniform();
  if (p < 0.08 / static_cast<double>(big)) {
    // A trailing run past kSumChunk: [outer, kept, run].
    large = true;
    const int64_t run = rng.pick(std::vector<int64_t>{65535, 65536, 65537, 131073});
    return {rng.range(1, 2), rng.range(2, 3), run};
  }
  if (p < 0.2 / static_cast<double>(big)) {
    // Past kParallelGrain (131072): [N, C, H, W] with the bias gradient's proportions.
    large = true;
    const int64_t hw = rng.pick(std::vector<int64_t>{1, 7, 11, 26, 255, 256, 257, 2049});
    const int64_t c = rng.pick(std::vector<int64_t>{2, 3, 16, 17, 32});
    const int64_t n = std::max<int64_t>(1, (131072 + c * hw) / (c * hw) + rng.range(-1, 2));
    return rng.chance(0.5) ? Shape{n, c, hw} : Shape{n, c, hw, rng.range(1, 3)};
  }
  const int64_t rank = rng.range(3, 4);
  Shape shape;
  for (int64_t d = 0; d < rank; ++d) {
    const double q = rng.uniform();
    int64_t e = q < 0.6    ? rng.pick(small)
                : q < 0.75 ? rng.pick(std::vector<int64_t>{31, 37, 61, 63, 64, 65, 97, 127})
                : q < 0.9  ? rng.pick(std::vector<int64_t>{255, 256, 257})
                : q < 0.95 ? rng.pick(std::vector<int64_t>{2047, 2048, 2049})
                           : 0;
    shape.push_back(e);
  }
  while (testing::diff::numel_of(shape) > 60000) {
    size_t biggest = 0;
    for (size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] > shape[biggest]) biggest = d;
    }
    shape[biggest] = std::max<int64_t>(1, shape[biggest] / 2 + (rng.chance(0.5) ? 1 : 0));
  }
  return shape;
}

TEST(DifferentialReduce, SumsOverNonAdjacentDimsOfContiguousTensorsMatchDoubleReference) {
  const int64_t cases = testing::diff::case_count(300);
  int64_t checked = 0;
  int failing = 0;
  for (int64_t c = 0; c < cases && failing < testing::diff::kMaxFailingCases; ++c) {
    const uint64_t seed = 0x5D1D0000 + static_cast<uint64_t>(c);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Shape shape = draw_strided_shape(rng, large);
    const double d = rng.uniform();
    const DType dtype = d < 0.4 ? kFloat32 : d < 0.8 ? kFloat64 : kInt64;
    const Layout layout = rng.chance(0.8) ? Layout::Contiguous : Layout::Offset;
    const Tensor x =
        testing::diff::make_input(rng, shape, dtype, layout,
                                  dtype == kInt64 ? testing::diff::tie_values(-1000, 1000)
                                                  : testing::diff::uniform_values(-4, 4));
    const std::vector<double> v = testing::diff::read(x);
    const auto rank = static_cast<int64_t>(shape.size());
    // Reduced dims with a kept dim between them: {0, 2}, {1, 3}, {0, 2, 3}, {0, 1, 3}, {0, 3}.
    std::vector<std::vector<int64_t>> subsets = {{0, 2}};
    if (rank == 4) subsets = {{0, 2}, {1, 3}, {0, 2, 3}, {0, 1, 3}, {0, 3}};
    const std::vector<int64_t> dims = rng.pick(subsets);
    const bool keepdim = rng.chance(0.3);
    std::vector<bool> reduced(shape.size(), false);
    for (const int64_t r : dims) reduced[static_cast<size_t>(r)] = true;
    const Groups g = group(shape, reduced, keepdim);
    const double eps = dtype == kInt64 ? 0.0 : testing::diff::eps_of(dtype);
    const double mean_eps = testing::diff::eps_of(dtype == kFloat64 ? kFloat64 : kFloat32);
    const SumMeanReference ref = sum_mean_reference(g, v, eps, mean_eps);
    std::string dims_text;
    for (const int64_t r : dims) dims_text += std::to_string(r) + ",";
    const std::string context =
        "case seed " + std::to_string(seed) + " shape " + testing::diff::shape_string(shape) + " " +
        std::string(dtype_name(dtype)) + " " + testing::diff::layout_name(layout) + " dims {" +
        dims_text + "}" + (keepdim ? " keepdim" : "");
    Checker c_sum(context + " sum");
    c_sum.all(testing::diff::run_both_thread_counts([&] { return nabla::sum(x, dims, keepdim); },
                                                    context + " sum"),
              g.out_shape, ref.sum, ref.tol_sum);
    Checker c_mean(context + " mean");
    c_mean.all(testing::diff::run_both_thread_counts([&] { return nabla::mean(x, dims, keepdim); },
                                                     context + " mean"),
               g.out_shape, ref.mean, ref.tol_mean);
    failing += c_sum.failed() + c_mean.failed();
    ++checked;
  }
  testing::diff::report_cases("reduce (non-adjacent dims, contiguous)", checked);
}

// A [rows, inner] matrix (or a long vector) whose rows straddle the widths of the vectorized row
// kernels: the 16-float vector, the 64-float block, the short-row limit 64, the pairwise leaves
// (1024 floats, 512 doubles) and their splits.
Shape draw_row_shape(Rng& rng, bool& large) {
  large = rng.chance(testing::diff::sanitized() ? 0.02 : 0.08);
  if (large) {
    return {rng.pick(std::vector<int64_t>{1, 2}),
            rng.pick(std::vector<int64_t>{65535, 65537, 131071, 131073, 262145})};
  }
  const int64_t inner = testing::diff::draw_size(rng, 1, 5000, {16, 32, 64, 512, 1024, 2048});
  const int64_t rows = rng.pick(std::vector<int64_t>{1, 2, 3, 7, 17, 100, 257});
  Shape shape = {std::max<int64_t>(1, std::min(rows, 200000 / inner)), inner};
  if (rng.chance(0.2)) shape = {inner};
  return shape;
}

TEST(DifferentialReduce, SoftmaxAndSumRowsAroundVectorAndLeafWidthsMatchDoubleReference) {
  const int64_t cases = testing::diff::case_count(300);
  Totals totals;
  for (int64_t c = 0; c < cases && totals.failing < testing::diff::kMaxFailingCases; ++c) {
    const uint64_t seed = 0x50F70000 + static_cast<uint64_t>(c);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Shape shape = draw_row_shape(rng, large);
    const DType dtype = rng.chance(0.6) ? kFloat32 : kFloat64;
    const Layout layout = rng.chance(0.6) ? Layout::Contiguous : testing::diff::draw_layout(rng);
    // Logits near 0, far from it (exponentials down to the subnormals), or all large.
    const double q = rng.uniform();
    const testing::diff::ValueFn values = q < 0.5   ? testing::diff::uniform_values(-4, 4)
                                          : q < 0.8 ? testing::diff::uniform_values(-60, 60)
                                                    : testing::diff::uniform_values(80, 100);
    const Tensor x = testing::diff::make_input(rng, shape, dtype, layout, values);
    std::vector<double> v = testing::diff::read(x);
    const std::string context =
        "case seed " + std::to_string(seed) + " shape " + testing::diff::shape_string(shape) + " " +
        std::string(dtype_name(dtype)) + " " + testing::diff::layout_name(layout);
    ++totals.cases;
    const auto last = static_cast<int64_t>(shape.size()) - 1;
    check_reductions(x, v, {last}, false, context, totals, true);
    check_reductions(x, v, {}, false, context, totals, large);
    // -inf logits (masked positions) in some rows, never a row's first element.
    if (rng.chance(0.3)) {
      const int64_t inner = shape.back();
      for (size_t i = 0; i < v.size(); ++i) {
        if (static_cast<int64_t>(i) % inner != 0 && rng.chance(0.1)) {
          v[i] = -std::numeric_limits<double>::infinity();
        }
      }
      testing::diff::write(x, v);
      v = testing::diff::read(x);
    }
    check_softmax(x, v, last, context, totals, true);
  }
  testing::diff::report_cases("reduce (rows around the vector and leaf widths)", totals.cases);
}

}  // namespace
}  // namespace nabla
