// Differential sweep of matmul (dot, matrix-vector, matrix-matrix, batched with broadcast batch
// dims; transposed, step-sliced, offset and expanded operands; float32, float64, int64 and mixed)
// against a triple loop in long double. Sizes sit around the GEMM's register tiles (MR 4/6/12,
// NR 4/8/16/32), cache blocks (MC 96/128/144/264, KC 256/384, NC 1024/2048/4096) and its parallel
// threshold (192^3 multiply-adds), at 1 and 2 threads. A second sweep aims at the skinny kernels
// (at most 16 columns, or at most 16 rows with B transposed; k up to tens of thousands): sizes
// around their vector widths (4/8/16), column tiles (6/12), row tiles and groups (2/4/8/16/32/64)
// and k blocks (16 KiB of B^T once it passes 256 KiB).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/reference.h"

namespace nabla {
namespace {

using testing::diff::Checker;
using testing::diff::Layout;
using testing::diff::Rng;

const std::vector<int64_t> kRowBlocks = {4, 6, 12, 24, 96, 128, 144, 264};
const std::vector<int64_t> kColBlocks = {4, 8, 16, 32, 64, 1024, 2048, 4096};
const std::vector<int64_t> kDepthBlocks = {8, 16, 256, 384, 512, 768};

// Row-major index of `index` (broadcast: extents of 1 read index 0) in `shape`.
int64_t broadcast_flat(const Shape& shape, const std::vector<int64_t>& index) {
  int64_t flat = 0;
  const size_t lead = index.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    flat = flat * shape[d] + (shape[d] == 1 ? 0 : index[lead + d]);
  }
  return flat;
}

struct Case {
  Shape a, b;
  int64_t m = 0, n = 0, k = 0;
};

Case draw_case(Rng& rng, bool& large) {
  Case c;
  large = rng.chance(testing::diff::sanitized() ? 0.01 : 0.04);
  if (large) {
    // Past the parallel threshold (7.1M multiply-adds): square-ish or one long side.
    if (rng.chance(0.5)) {
      c.m = rng.range(190, 215);
      c.n = rng.range(190, 215);
      c.k = rng.range(190, 260);
    } else {
      c.m = rng.pick(std::vector<int64_t>{25, 97, 265});
      c.n = rng.pick(std::vector<int64_t>{2047, 2049, 4097});
      c.k = rng.pick(std::vector<int64_t>{255, 257});
      if (c.m * c.n * c.k > 40000000) c.m = 13;
    }
  } else {
    c.m = testing::diff::draw_size(rng, 0, 300, kRowBlocks);
    c.n = testing::diff::draw_size(rng, 0, 300, kColBlocks);
    c.k = testing::diff::draw_size(rng, 0, 600, kDepthBlocks);
    if (rng.chance(0.08)) c.n = rng.pick(std::vector<int64_t>{1023, 1025, 2047, 2048, 2049, 4097});
    // Keep the reference cheap: shrink the biggest extent until m*n*k <= 250k.
    while (std::max<int64_t>(c.m, 1) * std::max<int64_t>(c.n, 1) * std::max<int64_t>(c.k, 1) >
           250000) {
      int64_t* biggest = &c.m;
      if (c.n > *biggest) biggest = &c.n;
      if (c.k > *biggest) biggest = &c.k;
      *biggest = *biggest / 2 + 1;
    }
  }
  const int64_t kind = rng.below(6);
  if (kind == 0 && !large) {  // 1-D . 1-D
    c.a = {c.k};
    c.b = {c.k};
    c.m = c.n = 1;
  } else if (kind == 1 && !large) {  // 1-D . 2-D or batched
    c.a = {c.k};
    c.b = {c.k, c.n};
    if (rng.chance(0.3)) c.b.insert(c.b.begin(), rng.range(1, 3));
    c.m = 1;
  } else if (kind == 2 && !large) {  // 2-D or batched . 1-D
    c.a = {c.m, c.k};
    if (rng.chance(0.3)) c.a.insert(c.a.begin(), rng.range(1, 3));
    c.b = {c.k};
    c.n = 1;
  } else if (kind == 3 && !large) {  // batched, broadcast batch dims
    Shape batch_a;
    Shape batch_b;
    const int64_t rank = rng.range(1, 2);
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t e = rng.range(0, 3);
      batch_a.push_back(rng.chance(0.3) ? 1 : e);
      batch_b.push_back(rng.chance(0.3) ? 1 : e);
    }
    if (rng.chance(0.3)) batch_b.erase(batch_b.begin());
    while (testing::diff::numel_of(batch_a) * c.m * c.n * c.k > 250000 && c.k > 1) c.k /= 2;
    c.a = batch_a;
    c.a.insert(c.a.end(), {c.m, c.k});
    c.b = batch_b;
    c.b.insert(c.b.end(), {c.k, c.n});
  } else {
    c.a = {c.m, c.k};
    c.b = {c.k, c.n};
  }
  return c;
}

TEST(DifferentialLinalg, MatmulMatchesLongDoubleLoopsInEveryLayout) {
  const int64_t cases = testing::diff::case_count(1000);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x6E770000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    bool large = false;
    const Case c = draw_case(rng, large);
    const double pick = rng.uniform();
    const DType da = pick < 0.4    ? kFloat32
                     : pick < 0.85 ? kFloat64
                     : pick < 0.93 ? kInt64
                                   : kFloat32;
    const DType db = pick < 0.4    ? kFloat32
                     : pick < 0.85 ? kFloat64
                     : pick < 0.93 ? kInt64
                                   : kFloat64;
    const Layout la = large ? Layout::Transposed : testing::diff::draw_layout(rng);
    const Layout lb = large ? Layout::Contiguous : testing::diff::draw_layout(rng);
    const auto values =
        da == kInt64 ? testing::diff::tie_values(-4, 4) : testing::diff::uniform_values(-1, 1);
    auto ints = [](Rng& r) { return static_cast<double>(r.range(-5, 5)); };
    const Tensor a = testing::diff::make_input(rng, c.a, da, la, da == kInt64 ? ints : values);
    const Tensor b = testing::diff::make_input(rng, c.b, db, lb, db == kInt64 ? ints : values);
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vb = testing::diff::read(b);
    const std::string context = "case seed " + std::to_string(seed) + " matmul " +
                                testing::diff::shape_string(c.a) + " " +
                                std::string(dtype_name(da)) + " " + testing::diff::layout_name(la) +
                                " x " + testing::diff::shape_string(c.b) + " " +
                                std::string(dtype_name(db)) + " " + testing::diff::layout_name(lb);
    ++ran;

    // The reference: promote 1-D operands, broadcast the batch dims, loop.
    Shape sa = c.a;
    Shape sb = c.b;
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    const Shape batch_a(sa.begin(), sa.end() - 2);
    const Shape batch_b(sb.begin(), sb.end() - 2);
    Shape batch(std::max(batch_a.size(), batch_b.size()), 1);
    for (size_t d = 0; d < batch.size(); ++d) {
      const size_t from_end = batch.size() - d;
      const int64_t ea = from_end <= batch_a.size() ? batch_a[batch_a.size() - from_end] : 1;
      const int64_t eb = from_end <= batch_b.size() ? batch_b[batch_b.size() - from_end] : 1;
      batch[d] = ea == 1 ? eb : ea;
    }
    const int64_t m = sa[sa.size() - 2];
    const int64_t k = sa.back();
    const int64_t n = sb.back();
    const int64_t batches = testing::diff::numel_of(batch);
    std::vector<double> expected(static_cast<size_t>(batches * m * n));
    std::vector<double> tol(expected.size());
    const DType out_dtype = promote_types(da, db);
    const double eps = out_dtype == kInt64 ? 0 : testing::diff::eps_of(out_dtype);
    std::vector<int64_t> index(batch.size(), 0);
    for (int64_t bi = 0; bi < batches; ++bi) {
      // Matrix offsets of this batch entry in a and b (their batch dims broadcast).
      const int64_t oa = broadcast_flat(batch_a, index) * m * k;
      const int64_t ob = broadcast_flat(batch_b, index) * k * n;
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t col = 0; col < n; ++col) {
          long double s = 0;
          double mag = 0;
          for (int64_t q = 0; q < k; ++q) {
            const double x = va[static_cast<size_t>(oa + r * k + q)];
            const double y = vb[static_cast<size_t>(ob + q * n + col)];
            s += static_cast<long double>(x) * y;
            mag += std::abs(x * y);
          }
          const auto o = static_cast<size_t>((bi * m + r) * n + col);
          expected[o] = static_cast<double>(s);
          tol[o] = eps * (4 + 2 * std::sqrt(static_cast<double>(k))) * mag;
        }
      }
      for (size_t d = index.size(); d-- > 0;) {
        if (++index[d] < batch[d]) break;
        index[d] = 0;
      }
    }
    Shape out_shape = batch;
    if (c.a.size() > 1) out_shape.push_back(m);
    if (c.b.size() > 1) out_shape.push_back(n);
    Checker check(context);
    const Tensor out =
        testing::diff::run_both_thread_counts([&] { return nabla::matmul(a, b); }, context);
    check.dtype(out.dtype(), out_dtype);
    check.all(out, out_shape, expected, tol);
    failing += check.failed();
  }
  testing::diff::report_cases("matmul", ran);
}

// Shapes for the skinny GEMM kernels: one narrow side, the other two drawn around their blocks.
struct SkinnyCase {
  int64_t m = 0, n = 0, k = 0;
};

SkinnyCase draw_skinny(Rng& rng) {
  const std::vector<int64_t> narrow_blocks = {2, 4, 6, 8, 12, 16};
  const std::vector<int64_t> row_blocks = {2, 4, 8, 16, 32, 64, 128};
  SkinnyCase c;
  c.n = testing::diff::draw_size(rng, 0, 17, narrow_blocks);
  c.m = testing::diff::draw_size(rng, 0, 200, row_blocks);
  c.k = testing::diff::draw_size(rng, 0, 3000, {16, 32, 64});
  int64_t cap = 400000;
  const double pick = rng.uniform();
  if (pick < (testing::diff::sanitized() ? 0.01 : 0.05)) {
    // Past the parallel threshold (7.1M multiply-adds) and past k blocking (256 KiB of B^T).
    cap = 18000000;
    c.m = rng.range(90, 120);
    c.n = rng.range(12, 16);
    c.k = rng.range(7000, 9000);
  } else if (pick < 0.25) {
    // A long k with few rows: k blocks of 16 KiB of B^T (4096 / n floats, 2048 / n doubles,
    // whole vectors) once B^T passes 256 KiB; k drawn around a block multiple.
    const int64_t n = std::max<int64_t>(c.n, 1);
    const int64_t block = rng.chance(0.5) ? 4096 / n / 16 * 16 : 2048 / n / 8 * 8;
    c.k = std::max<int64_t>(block, 1) * rng.range(1, 60) + rng.range(-1, 1);
    c.k = std::clamp<int64_t>(c.k, 1, 70000);
    c.m = std::max<int64_t>(1, std::min<int64_t>(c.m, cap / (n * std::max<int64_t>(c.k, 1))));
  }
  if (rng.chance(0.3)) std::swap(c.m, c.n);  // the narrow side as rows (dot kernel with B^T)
  // Keep the reference cheap: shrink the longest of m and k.
  while (std::max<int64_t>(c.m, 1) * std::max<int64_t>(c.n, 1) * std::max<int64_t>(c.k, 1) > cap) {
    int64_t* biggest = c.m > 17 && c.m * 4 > c.k ? &c.m : &c.k;
    *biggest = *biggest * 3 / 4;
  }
  return c;
}

TEST(DifferentialLinalg, SkinnyMatmulMatchesLongDoubleLoops) {
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x5C1A0000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const SkinnyCase c = draw_skinny(rng);
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Layout la = testing::diff::draw_layout(rng, false);
    const Layout lb = testing::diff::draw_layout(rng, false);
    const auto values = testing::diff::uniform_values(-1, 1);
    const Tensor a = testing::diff::make_input(rng, {c.m, c.k}, dtype, la, values);
    const Tensor b = testing::diff::make_input(rng, {c.k, c.n}, dtype, lb, values);
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vb = testing::diff::read(b);
    const std::string context = "case seed " + std::to_string(seed) + " skinny matmul [" +
                                std::to_string(c.m) + ", " + std::to_string(c.k) + "] " +
                                testing::diff::layout_name(la) + " x [" + std::to_string(c.k) +
                                ", " + std::to_string(c.n) + "] " + testing::diff::layout_name(lb) +
                                " " + std::string(dtype_name(dtype));
    ++ran;
    std::vector<double> expected(static_cast<size_t>(c.m * c.n));
    std::vector<double> tol(expected.size());
    const double eps = testing::diff::eps_of(dtype);
    for (int64_t r = 0; r < c.m; ++r) {
      for (int64_t col = 0; col < c.n; ++col) {
        long double s = 0;
        double mag = 0;
        for (int64_t q = 0; q < c.k; ++q) {
          const double x = va[static_cast<size_t>(r * c.k + q)];
          const double y = vb[static_cast<size_t>(q * c.n + col)];
          s += static_cast<long double>(x) * y;
          mag += std::abs(x * y);
        }
        const auto o = static_cast<size_t>(r * c.n + col);
        expected[o] = static_cast<double>(s);
        tol[o] = eps * (4 + 2 * std::sqrt(static_cast<double>(c.k))) * mag;
      }
    }
    Checker check(context);
    const Tensor out =
        testing::diff::run_both_thread_counts([&] { return nabla::matmul(a, b); }, context);
    check.dtype(out.dtype(), dtype);
    check.all(out, {c.m, c.n}, expected, tol);
    failing += check.failed();
  }
  testing::diff::report_cases("skinny matmul", ran);
}

}  // namespace
}  // namespace nabla
