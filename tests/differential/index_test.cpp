// Differential sweep of the index ops (gather, scatter_add, index_select and its adjoint through
// autograd) and of cat/stack, against loops written here, over random shapes including empty
// ones, every layout, float32/float64/int64 and mixed dtypes; index shapes that do not fit must
// throw nabla::Error.
#include <gtest/gtest.h>

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

// Row-major coordinates of `flat` in `shape`.
std::vector<int64_t> coordinates(const Shape& shape, int64_t flat) {
  std::vector<int64_t> c(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    c[d] = flat % shape[d];
    flat /= shape[d];
  }
  return c;
}

int64_t flat_of(const Shape& shape, const std::vector<int64_t>& c) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + c[d];
  return flat;
}

DType draw_dtype(Rng& rng) {
  const double p = rng.uniform();
  return p < 0.4 ? kFloat32 : p < 0.8 ? kFloat64 : kInt64;
}

testing::diff::ValueFn values_for(DType dtype) {
  if (dtype == kInt64) return [](Rng& r) { return static_cast<double>(r.range(-50, 50)); };
  return testing::diff::uniform_values(-2, 2);
}

TEST(DifferentialIndex, GatherAndScatterAddMatchLoops) {
  const int64_t cases = testing::diff::case_count(800);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x6A770000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const Shape shape = testing::diff::draw_shape(rng, 1, 4, 40, 4000, true, {8, 16});
    const auto rank = static_cast<int64_t>(shape.size());
    const int64_t dim = rng.below(rank);
    const int64_t extent = shape[static_cast<size_t>(dim)];
    // An index no larger than the input off `dim`, any length along it; sometimes too large.
    Shape index_shape = shape;
    for (int64_t d = 0; d < rank; ++d) {
      auto& e = index_shape[static_cast<size_t>(d)];
      e = d == dim ? testing::diff::draw_size(rng, 0, 20) : rng.range(0, e);
    }
    const bool misfit = rng.chance(0.1) && rank > 1;
    if (misfit) {
      const auto other = static_cast<size_t>((dim + 1) % rank);
      index_shape[other] = shape[other] + rng.range(1, 3);
    }
    const bool empty_target = extent == 0 && testing::diff::numel_of(index_shape) > 0;
    const DType dtype = draw_dtype(rng);
    const Layout layout = testing::diff::draw_layout(rng, false);
    const Tensor a = testing::diff::make_input(rng, shape, dtype, layout, values_for(dtype));
    const Tensor index = testing::diff::make_input(
        rng, index_shape, kInt64, testing::diff::draw_layout(rng, false),
        [extent](Rng& r) { return static_cast<double>(extent > 0 ? r.below(extent) : 0); });
    const Tensor source = testing::diff::make_input(
        rng, index_shape, dtype, testing::diff::draw_layout(rng), values_for(dtype));
    const std::string context =
        "case seed " + std::to_string(seed) + " " + testing::diff::shape_string(shape) + " dim " +
        std::to_string(dim) + " index " + testing::diff::shape_string(index_shape) + " " +
        std::string(dtype_name(dtype)) + " " + testing::diff::layout_name(layout);
    ++ran;
    if (misfit || empty_target) {
      EXPECT_THROW((void)nabla::gather(a, dim, index), Error) << context << " gather";
      EXPECT_THROW((void)nabla::scatter_add(shape, dim, index, source), Error)
          << context << " scatter_add";
      continue;
    }
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vi = testing::diff::read(index);
    const std::vector<double> vs = testing::diff::read(source);
    const int64_t n = testing::diff::numel_of(index_shape);
    std::vector<double> gathered(static_cast<size_t>(n));
    std::vector<double> zero_g(static_cast<size_t>(n), 0.0);
    std::vector<long double> scattered(va.size(), 0);
    std::vector<double> mag(va.size(), 0.0);
    for (int64_t e = 0; e < n; ++e) {
      std::vector<int64_t> c = coordinates(index_shape, e);
      c[static_cast<size_t>(dim)] = static_cast<int64_t>(vi[static_cast<size_t>(e)]);
      const auto at = static_cast<size_t>(flat_of(shape, c));
      gathered[static_cast<size_t>(e)] = va[at];
      scattered[at] += vs[static_cast<size_t>(e)];
      mag[at] += std::abs(vs[static_cast<size_t>(e)]);
    }
    std::vector<double> expected_scatter(va.size());
    std::vector<double> tol(va.size());
    for (size_t e = 0; e < va.size(); ++e) {
      expected_scatter[e] = static_cast<double>(scattered[e]);
      tol[e] = dtype == kInt64 ? 0 : testing::diff::eps_of(dtype) * 24 * mag[e];
    }
    Checker c_g(context + " gather");
    c_g.all(nabla::gather(a, dim, index), index_shape, gathered, zero_g);
    Checker c_s(context + " scatter_add");
    const Tensor scattered_out = nabla::scatter_add(shape, dim, index, source);
    c_s.dtype(scattered_out.dtype(), dtype);
    c_s.all(scattered_out, shape, expected_scatter, tol);
    failing += c_g.failed() || c_s.failed();
  }
  testing::diff::report_cases("gather + scatter_add", ran);
}

TEST(DifferentialIndex, IndexSelectAndItsAdjointMatchLoops) {
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x15E10000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const Shape shape = testing::diff::draw_shape(rng, 1, 4, 40, 4000, true, {8, 16});
    const auto rank = static_cast<int64_t>(shape.size());
    const int64_t dim = rng.below(rank);
    const int64_t extent = shape[static_cast<size_t>(dim)];
    const int64_t count = extent == 0 ? 0 : testing::diff::draw_size(rng, 0, 20);
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Layout layout = testing::diff::draw_layout(rng, false);
    Tensor a = testing::diff::make_input(rng, shape, dtype, layout, values_for(dtype));
    a.requires_grad_();
    // Negative indices count from the end (the kernel accepts [-extent, extent)).
    const Tensor index = testing::diff::make_input(
        rng, {count}, kInt64, Layout::Contiguous,
        [extent](Rng& r) { return static_cast<double>(r.range(-extent, extent - 1)); });
    const std::string context = "case seed " + std::to_string(seed) + " index_select " +
                                testing::diff::shape_string(shape) + " dim " + std::to_string(dim) +
                                " count " + std::to_string(count) + " " +
                                std::string(dtype_name(dtype)) + " " +
                                testing::diff::layout_name(layout);
    ++ran;
    Shape out_shape = shape;
    out_shape[static_cast<size_t>(dim)] = count;
    const std::vector<double> va = testing::diff::read(a);
    const std::vector<double> vi = testing::diff::read(index);
    Rng grad_rng(seed ^ 0x5555);
    const Tensor g = testing::diff::make_input(grad_rng, out_shape, dtype, Layout::Contiguous,
                                               testing::diff::uniform_values(-1, 1));
    const std::vector<double> vg = testing::diff::read(g);
    const int64_t n = testing::diff::numel_of(out_shape);
    std::vector<double> selected(static_cast<size_t>(n));
    std::vector<double> zero(static_cast<size_t>(n), 0.0);
    std::vector<double> grad(va.size(), 0.0);
    std::vector<double> tol(va.size(), 0.0);
    for (int64_t e = 0; e < n; ++e) {
      std::vector<int64_t> c = coordinates(out_shape, e);
      auto row = static_cast<int64_t>(vi[static_cast<size_t>(c[static_cast<size_t>(dim)])]);
      c[static_cast<size_t>(dim)] = row < 0 ? row + extent : row;
      const auto at = static_cast<size_t>(flat_of(shape, c));
      selected[static_cast<size_t>(e)] = va[at];
      grad[at] += vg[static_cast<size_t>(e)];
      tol[at] += 4 * testing::diff::eps_of(dtype) * std::abs(vg[static_cast<size_t>(e)]);
    }
    const Tensor out = nabla::index_select(a, dim, index);
    Checker c_sel(context);
    c_sel.all(out, out_shape, selected, zero);
    bool bad = c_sel.failed();
    if (!bad && n > 0) {
      Checker c_grad(context + " gradient");
      c_grad.all(autograd::grad({out}, {a}, {g})[0], shape, grad, tol);
      bad = c_grad.failed();
    }
    failing += bad;
  }
  testing::diff::report_cases("index_select + adjoint", ran);
}

TEST(DifferentialIndex, CatAndStackMatchLoops) {
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0xCA700000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const bool stack = rng.chance(0.4);
    const Shape base = testing::diff::draw_shape(rng, stack ? 0 : 1, 4, 30, 3000, true, {8, 16});
    const auto rank = static_cast<int64_t>(base.size());
    const int64_t dim = stack ? rng.range(0, rank) : rng.below(rank);
    const int64_t parts = rng.range(1, 5);
    std::vector<Tensor> inputs;
    std::vector<std::vector<double>> values;
    std::vector<Shape> shapes;
    DType promoted = kInt64;
    std::string context = "case seed " + std::to_string(seed) + (stack ? " stack" : " cat") +
                          " dim " + std::to_string(dim) + " parts";
    for (int64_t p = 0; p < parts; ++p) {
      Shape s = base;
      if (!stack) s[static_cast<size_t>(dim)] = testing::diff::draw_size(rng, 0, 9);
      const DType dtype = rng.chance(0.7) && p > 0 ? inputs[0].dtype() : draw_dtype(rng);
      promoted = promote_types(promoted, dtype);
      const Layout layout = testing::diff::draw_layout(rng);
      inputs.push_back(testing::diff::make_input(rng, s, dtype, layout, values_for(dtype)));
      values.push_back(testing::diff::read(inputs.back()));
      shapes.push_back(s);
      context += " " + testing::diff::shape_string(s) + " " + std::string(dtype_name(dtype)) + " " +
                 testing::diff::layout_name(layout);
    }
    ++ran;
    // Output shape and the part/position each output element comes from.
    Shape out_shape = base;
    if (stack) {
      out_shape.insert(out_shape.begin() + dim, parts);
    } else {
      out_shape[static_cast<size_t>(dim)] = 0;
      for (const Shape& s : shapes) {
        out_shape[static_cast<size_t>(dim)] += s[static_cast<size_t>(dim)];
      }
    }
    const int64_t n = testing::diff::numel_of(out_shape);
    std::vector<double> expected(static_cast<size_t>(n));
    std::vector<double> zero(static_cast<size_t>(n), 0.0);
    for (int64_t e = 0; e < n; ++e) {
      std::vector<int64_t> c = coordinates(out_shape, e);
      size_t part = 0;
      if (stack) {
        part = static_cast<size_t>(c[static_cast<size_t>(dim)]);
        c.erase(c.begin() + dim);
      } else {
        int64_t& along = c[static_cast<size_t>(dim)];
        while (along >= shapes[part][static_cast<size_t>(dim)]) {
          along -= shapes[part][static_cast<size_t>(dim)];
          ++part;
        }
      }
      const double v = values[part][static_cast<size_t>(flat_of(shapes[part], c))];
      // Converting to the promoted dtype is exact here (float32 values into float64, small ints).
      expected[static_cast<size_t>(e)] = v;
    }
    const Tensor out = stack ? nabla::stack(inputs, dim) : nabla::cat(inputs, dim);
    Checker check(context);
    check.dtype(out.dtype(), promoted);
    check.all(out, out_shape, expected, zero);
    failing += check.failed();
  }
  testing::diff::report_cases("cat + stack", ran);
}

}  // namespace
}  // namespace nabla
