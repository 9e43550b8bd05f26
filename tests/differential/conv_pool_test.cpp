// Differential sweep of conv2d (forward, input gradient, weight gradient, bias gradient) and of
// max/avg pooling with their adjoints, reached through the public ops and autograd::grad, against
// direct loops in long double. Geometries cover 1x1 pointwise, strides, dilations, asymmetric
// padding, batches around the weight-gradient chunking (8), windows that do not fit (must throw),
// tied maxima, every input layout, float32 and float64, at 1 and 2 threads.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/reference.h"

namespace nabla {
namespace {

using testing::diff::Checker;
using testing::diff::Layout;
using testing::diff::Rng;

int64_t window_count(int64_t extent, int64_t pad_before, int64_t pad_after, int64_t kernel,
                     int64_t stride, int64_t dilation) {
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t padded = extent + pad_before + pad_after;
  if (padded < span) return -1;
  return (padded - span) / stride + 1;
}

std::string geometry_text(const Shape& input, const std::array<int64_t, 2>& kernel,
                          const std::array<int64_t, 2>& stride,
                          const std::array<int64_t, 4>& padding,
                          const std::array<int64_t, 2>& dilation) {
  return "input " + testing::diff::shape_string(input) + " kernel " + std::to_string(kernel[0]) +
         "x" + std::to_string(kernel[1]) + " stride " + std::to_string(stride[0]) + "," +
         std::to_string(stride[1]) + " padding " + std::to_string(padding[0]) + "," +
         std::to_string(padding[1]) + "," + std::to_string(padding[2]) + "," +
         std::to_string(padding[3]) + " dilation " + std::to_string(dilation[0]) + "," +
         std::to_string(dilation[1]);
}

Tensor requiring_grad(Tensor t) {
  t.requires_grad_();
  return t;
}

// A conv2d case: input [n, c, h, w], weight [oc, c, kernel], output [n, oc, oh, ow].
struct ConvCase {
  int64_t n, c, h, w, oc, oh, ow;
  std::array<int64_t, 2> kernel;
  Conv2dOptions o;
};

// Calls body(yo, xi, wi) with the flat output, input and weight indices of every product that
// conv2d sums (taps in the padding skipped), in the order (n, oc, oh, ow, c, kh, kw).
template <typename Body>
void for_each_tap(const ConvCase& g, Body&& body) {
  for (int64_t b = 0; b < g.n; ++b) {
    for (int64_t k = 0; k < g.oc; ++k) {
      for (int64_t r = 0; r < g.oh; ++r) {
        for (int64_t q = 0; q < g.ow; ++q) {
          const auto yo = static_cast<size_t>(((b * g.oc + k) * g.oh + r) * g.ow + q);
          for (int64_t ch = 0; ch < g.c; ++ch) {
            for (int64_t kh = 0; kh < g.kernel[0]; ++kh) {
              const int64_t ih = r * g.o.stride[0] + kh * g.o.dilation[0] - g.o.padding[0];
              if (ih < 0 || ih >= g.h) continue;
              for (int64_t kw = 0; kw < g.kernel[1]; ++kw) {
                const int64_t iw = q * g.o.stride[1] + kw * g.o.dilation[1] - g.o.padding[2];
                if (iw < 0 || iw >= g.w) continue;
                body(yo, static_cast<size_t>(((b * g.c + ch) * g.h + ih) * g.w + iw),
                     static_cast<size_t>(((k * g.c + ch) * g.kernel[0] + kh) * g.kernel[1] + kw));
              }
            }
          }
        }
      }
    }
  }
}

// The tolerance of a sum of `terms` products whose magnitudes add up to `magnitude`.
double conv_tolerance(double eps, double terms, double magnitude) {
  return eps * (4 + 2 * std::sqrt(terms)) * magnitude;
}

// A conv case's four reference results in long double (forward, input, weight and bias
// gradients), each value with the sum of its terms' magnitudes.
struct ConvReference {
  std::vector<long double> y, gx, gw, gb;
  std::vector<double> my, mgx, mgw, mgb;

  // All zeros, sized for an output of out_n values, x of nx, weight of nw and oc channels.
  static ConvReference zeros(size_t out_n, size_t nx, size_t nw, int64_t oc) {
    const auto nb = static_cast<size_t>(oc);
    return {.y = std::vector<long double>(out_n, 0),
            .gx = std::vector<long double>(nx, 0),
            .gw = std::vector<long double>(nw, 0),
            .gb = std::vector<long double>(nb, 0),
            .my = std::vector<double>(out_n, 0),
            .mgx = std::vector<double>(nx, 0),
            .mgw = std::vector<double>(nw, 0),
            .mgb = std::vector<double>(nb, 0)};
  }
};

// Checks got = {forward, input gradient (unless !input_grad), weight gradient, bias gradient
// (with_bias only)} against the reference, each value within conv_tolerance of its terms: the
// forward sums c * kh * kw products, the input gradient oc * kh * kw, the weight and bias
// gradients n * oh * ow. Returns whether any check failed.
bool conv_results_fail(const std::vector<Tensor>& got, const ConvReference& ref, const ConvCase& g,
                       DType dtype, bool with_bias, bool input_grad, const std::string& context) {
  const double eps = testing::diff::eps_of(dtype);
  const auto check = [&](Checker& checker, const Tensor& actual, const Shape& shape,
                         const std::vector<long double>& values,
                         const std::vector<double>& magnitudes, int64_t terms) {
    std::vector<double> expected(values.size());
    std::vector<double> tolerance(values.size());
    for (size_t e = 0; e < values.size(); ++e) {
      expected[e] = static_cast<double>(values[e]);
      tolerance[e] = conv_tolerance(eps, static_cast<double>(terms), magnitudes[e]);
    }
    checker.all(actual, shape, expected, tolerance);
  };
  const int64_t taps = g.kernel[0] * g.kernel[1];
  Checker c_y(context + " forward");
  check(c_y, got[0], {g.n, g.oc, g.oh, g.ow}, ref.y, ref.my, g.c * taps);
  Checker c_gx(context + " input gradient");
  if (input_grad) check(c_gx, got[1], {g.n, g.c, g.h, g.w}, ref.gx, ref.mgx, g.oc * taps);
  Checker c_gw(context + " weight gradient");
  check(c_gw, got[2], {g.oc, g.c, g.kernel[0], g.kernel[1]}, ref.gw, ref.mgw, g.n * g.oh * g.ow);
  bool bad = c_y.failed() || c_gx.failed() || c_gw.failed();
  if (with_bias) {
    Checker c_gb(context + " bias gradient");
    check(c_gb, got[3], {g.oc}, ref.gb, ref.mgb, g.n * g.oh * g.ow);
    bad = bad || c_gb.failed();
  }
  return bad;
}

TEST(DifferentialConvPool, Conv2dAndItsAdjointsMatchDirectLoops) {
  const int64_t cases = testing::diff::case_count(600);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0xC0470000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const bool big = rng.chance(testing::diff::sanitized() ? 0.03 : 0.1);
    const int64_t n = big ? rng.pick(std::vector<int64_t>{7, 8, 9, 17})
                          : testing::diff::draw_size(rng, 0, 9, {8});
    const int64_t c = rng.range(1, big ? 8 : 5);
    // Up to 40 output channels: the gathered forward (24+ channels) with a partial tile; half
    // the big cases 30..70: around the float32 wide tile (33..64 channels, 64-column panels).
    const int64_t oc = big && rng.chance(0.5) ? rng.range(30, 70) : rng.range(1, big ? 40 : 6);
    const int64_t h = testing::diff::draw_size(rng, 1, big ? 24 : 14);
    const int64_t w = testing::diff::draw_size(rng, 1, big ? 24 : 14);
    Conv2dOptions o;
    std::array<int64_t, 2> kernel{rng.range(1, 5), rng.range(1, 5)};
    if (rng.chance(0.15)) {
      kernel = {1, 1};  // the pointwise path
    } else {
      o.stride = {rng.range(1, 3), rng.range(1, 3)};
      o.dilation = {rng.range(1, 2), rng.range(1, 2)};
      for (int64_t& p : o.padding) p = rng.chance(0.5) ? 0 : rng.range(1, 2);
    }
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Shape in_shape = {n, c, h, w};
    const Shape w_shape = {oc, c, kernel[0], kernel[1]};
    const bool with_bias = rng.chance(0.6);
    const Layout layout = testing::diff::draw_layout(rng);
    const auto values = testing::diff::uniform_values(-1, 1);
    const Tensor x =
        requiring_grad(testing::diff::make_input(rng, in_shape, dtype, layout, values));
    const Tensor wt = requiring_grad(testing::diff::make_input(
        rng, w_shape, dtype, rng.chance(0.3) ? Layout::Transposed : Layout::Contiguous, values));
    const Tensor bias = with_bias ? requiring_grad(testing::diff::make_input(
                                        rng, {oc}, dtype, Layout::Contiguous, values))
                                  : Tensor();
    const std::string context = "case seed " + std::to_string(seed) + " conv2d " +
                                geometry_text(in_shape, kernel, o.stride, o.padding, o.dilation) +
                                " out_channels " + std::to_string(oc) +
                                (with_bias ? " bias " : " ") + std::string(dtype_name(dtype)) +
                                " " + testing::diff::layout_name(layout);
    ++ran;
    const int64_t oh =
        window_count(h, o.padding[0], o.padding[1], kernel[0], o.stride[0], o.dilation[0]);
    const int64_t ow =
        window_count(w, o.padding[2], o.padding[3], kernel[1], o.stride[1], o.dilation[1]);
    if (oh < 0 || ow < 0) {
      EXPECT_THROW((void)nabla::conv2d(x, wt, bias, o), Error) << context;
      continue;
    }
    const Shape out_shape = {n, oc, oh, ow};
    Rng grad_rng(seed ^ 0x9999);
    const Tensor g =
        testing::diff::make_input(grad_rng, out_shape, dtype, Layout::Contiguous, values);
    const std::vector<double> vx = testing::diff::read(x);
    const std::vector<double> vw = testing::diff::read(wt);
    const std::vector<double> vg = testing::diff::read(g);
    const std::vector<double> vb = with_bias ? testing::diff::read(bias) : std::vector<double>();

    // Reference: the bias, then one pass over the products, feeds all four results.
    const ConvCase geometry{n, c, h, w, oc, oh, ow, kernel, o};
    const auto out_n = static_cast<size_t>(testing::diff::numel_of(out_shape));
    ConvReference ref = ConvReference::zeros(out_n, vx.size(), vw.size(), oc);
    for (size_t yo = 0; yo < out_n; ++yo) {
      const auto k =
          static_cast<size_t>((yo / static_cast<size_t>(oh * ow)) % static_cast<size_t>(oc));
      if (with_bias) {
        ref.y[yo] = vb[k];
        ref.my[yo] = std::abs(vb[k]);
      }
      ref.gb[k] += vg[yo];
      ref.mgb[k] += std::abs(vg[yo]);
    }
    for_each_tap(geometry, [&](size_t yo, size_t xi, size_t wi) {
      ref.y[yo] += static_cast<long double>(vx[xi]) * vw[wi];
      ref.my[yo] += std::abs(vx[xi] * vw[wi]);
      ref.gx[xi] += static_cast<long double>(vg[yo]) * vw[wi];
      ref.mgx[xi] += std::abs(vg[yo] * vw[wi]);
      ref.gw[wi] += static_cast<long double>(vg[yo]) * vx[xi];
      ref.mgw[wi] += std::abs(vg[yo] * vx[xi]);
    });

    const std::vector<Tensor> got = testing::diff::run_both_thread_counts_all(
        [&] {
          const Tensor out = nabla::conv2d(x, wt, bias, o);
          std::vector<Tensor> inputs = {x, wt};
          if (with_bias) inputs.push_back(bias);
          std::vector<Tensor> grads = autograd::grad({out}, inputs, {g});
          grads.insert(grads.begin(), out.detach());
          return grads;
        },
        context);
    failing += conv_results_fail(got, ref, geometry, dtype, with_bias, true, context);
  }
  testing::diff::report_cases("conv2d (forward + 3 adjoints)", ran);
}

// conv2d_relu (the fused op Conv2D(activation="relu") calls): forward = max(conv + bias, 0) and
// the three adjoints of the gradient masked where the pre-activation is positive, against direct
// loops. Output positions whose reference pre-activation is within its rounding tolerance of 0
// get a zero incoming gradient, so the kink cannot decide a case. The geometries include the
// small CNN's (26x26 and 13x13 planes, 32 and 64 output channels) and the paths of the forward
// (row-window, gathered with either tile, im2col, pointwise).
TEST(DifferentialConvPool, Conv2dReluAndItsAdjointsMatchDirectLoops) {
  const int64_t cases = testing::diff::case_count(300);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0xC0480000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const bool cnn = rng.chance(testing::diff::sanitized() ? 0.02 : 0.08);
    const int64_t n =
        cnn ? rng.pick(std::vector<int64_t>{1, 2, 3}) : testing::diff::draw_size(rng, 0, 9, {8});
    const int64_t c = cnn ? rng.pick(std::vector<int64_t>{1, 32}) : rng.range(1, 5);
    const int64_t oc = cnn ? rng.pick(std::vector<int64_t>{32, 64}) : rng.range(1, 70);
    const int64_t h =
        cnn ? rng.pick(std::vector<int64_t>{28, 13}) : testing::diff::draw_size(rng, 1, 17);
    const int64_t w = cnn ? h : testing::diff::draw_size(rng, 1, 40);
    Conv2dOptions o;
    std::array<int64_t, 2> kernel{3, 3};
    if (!cnn) {
      kernel = {rng.range(1, 4), rng.range(1, 4)};
      o.stride = {rng.range(1, 2), rng.range(1, 2)};
      o.dilation = {rng.range(1, 2), rng.range(1, 2)};
      for (int64_t& p : o.padding) p = rng.chance(0.5) ? 0 : rng.range(1, 2);
    }
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const Shape in_shape = {n, c, h, w};
    const Shape w_shape = {oc, c, kernel[0], kernel[1]};
    const bool with_bias = rng.chance(0.7);
    const Layout layout = testing::diff::draw_layout(rng);
    const auto values = testing::diff::uniform_values(-1, 1);
    // Without an input gradient (a first layer) the masked gradient is never stored.
    const bool input_grad = rng.chance(0.5);
    Tensor x = testing::diff::make_input(rng, in_shape, dtype, layout, values);
    if (input_grad) x = requiring_grad(x);
    const Tensor wt = requiring_grad(testing::diff::make_input(
        rng, w_shape, dtype, rng.chance(0.3) ? Layout::Transposed : Layout::Contiguous, values));
    const Tensor bias = with_bias ? requiring_grad(testing::diff::make_input(
                                        rng, {oc}, dtype, Layout::Contiguous, values))
                                  : Tensor();
    const std::string context =
        "case seed " + std::to_string(seed) + " conv2d_relu " +
        geometry_text(in_shape, kernel, o.stride, o.padding, o.dilation) + " out_channels " +
        std::to_string(oc) + (with_bias ? " bias " : " ") + std::string(dtype_name(dtype)) + " " +
        testing::diff::layout_name(layout) + (input_grad ? "" : " no input gradient");
    ++ran;
    const int64_t oh =
        window_count(h, o.padding[0], o.padding[1], kernel[0], o.stride[0], o.dilation[0]);
    const int64_t ow =
        window_count(w, o.padding[2], o.padding[3], kernel[1], o.stride[1], o.dilation[1]);
    if (oh < 0 || ow < 0) {
      EXPECT_THROW((void)nabla::conv2d_relu(x, wt, bias, o), Error) << context;
      continue;
    }
    const Shape out_shape = {n, oc, oh, ow};
    const std::vector<double> vx = testing::diff::read(x);
    const std::vector<double> vw = testing::diff::read(wt);
    const std::vector<double> vb = with_bias ? testing::diff::read(bias) : std::vector<double>();
    const auto out_n = static_cast<size_t>(testing::diff::numel_of(out_shape));
    const double eps = testing::diff::eps_of(dtype);
    const auto terms = static_cast<double>(c * kernel[0] * kernel[1]);
    const ConvCase geometry{n, c, h, w, oc, oh, ow, kernel, o};
    // Pass 1: the pre-activation and its magnitude.
    std::vector<long double> pre(out_n, 0);
    ConvReference ref = ConvReference::zeros(out_n, vx.size(), vw.size(), oc);
    for (size_t yo = 0; yo < out_n; ++yo) {
      const auto k =
          static_cast<size_t>((yo / static_cast<size_t>(oh * ow)) % static_cast<size_t>(oc));
      if (with_bias) {
        pre[yo] = vb[k];
        ref.my[yo] = std::abs(vb[k]);
      }
    }
    for_each_tap(geometry, [&](size_t yo, size_t xi, size_t wi) {
      pre[yo] += static_cast<long double>(vx[xi]) * vw[wi];
      ref.my[yo] += std::abs(vx[xi] * vw[wi]);
    });
    std::vector<double> vg(out_n);
    Rng grad_rng(seed ^ 0x9999);
    for (size_t yo = 0; yo < out_n; ++yo) {
      ref.y[yo] = pre[yo] > 0 ? pre[yo] : 0;
      const double gv = grad_rng.uniform(-1, 1);
      // Ambiguous sign: no gradient flows, whichever side of the kink the kernel lands on.
      const auto p = static_cast<double>(pre[yo]);
      vg[yo] = std::abs(p) <= conv_tolerance(eps, terms, ref.my[yo]) ? 0.0 : gv;
    }
    const Tensor g = nabla::tensor(vg, out_shape, dtype);
    vg = testing::diff::read(g);  // as rounded to dtype
    // Pass 2: the adjoints of the masked gradient.
    std::vector<double> gm(out_n);
    for (size_t yo = 0; yo < out_n; ++yo) {
      gm[yo] = pre[yo] > 0 ? vg[yo] : 0.0;
      const auto k =
          static_cast<size_t>((yo / static_cast<size_t>(oh * ow)) % static_cast<size_t>(oc));
      ref.gb[k] += gm[yo];
      ref.mgb[k] += std::abs(gm[yo]);
    }
    for_each_tap(geometry, [&](size_t yo, size_t xi, size_t wi) {
      ref.gx[xi] += static_cast<long double>(gm[yo]) * vw[wi];
      ref.mgx[xi] += std::abs(gm[yo] * vw[wi]);
      ref.gw[wi] += static_cast<long double>(gm[yo]) * vx[xi];
      ref.mgw[wi] += std::abs(gm[yo] * vx[xi]);
    });

    const std::vector<Tensor> got = testing::diff::run_both_thread_counts_all(
        [&] {
          const Tensor out = nabla::conv2d_relu(x, wt, bias, o);
          std::vector<Tensor> inputs = {wt};
          if (input_grad) inputs.insert(inputs.begin(), x);
          if (with_bias) inputs.push_back(bias);
          std::vector<Tensor> grads = autograd::grad({out}, inputs, {g});
          if (!input_grad) grads.insert(grads.begin(), zeros(in_shape, dtype));
          grads.insert(grads.begin(), out.detach());
          return grads;
        },
        context);
    failing += conv_results_fail(got, ref, geometry, dtype, with_bias, input_grad, context);
  }
  testing::diff::report_cases("conv2d_relu (forward + 3 adjoints)", ran);
}

// Values with ties (multiples of 0.5 in [-2, 2]) and about one NaN in eight.
testing::diff::ValueFn tie_values_with_nan() {
  return [](Rng& rng) {
    return rng.chance(0.125) ? std::numeric_limits<double>::quiet_NaN()
                             : 0.5 * static_cast<double>(rng.range(-4, 4));
  };
}

// Runs max/avg pooling and their adjoints on one input against direct loops (NaN wins a max
// window, the first NaN or the first of tied maxima in row-major window order being picked), at
// 1 and 2 threads (bit-identical); returns whether any check failed. `o` must give every extent
// at least one window.
bool pool_case_fails(const Tensor& x, const Pool2dOptions& o, uint64_t seed,
                     const std::string& context) {
  const Shape& in_shape = x.shape();
  const int64_t n = in_shape[0];
  const int64_t c = in_shape[1];
  const int64_t h = in_shape[2];
  const int64_t w = in_shape[3];
  const DType dtype = x.dtype();
  const int64_t oh = window_count(h, o.padding[0], o.padding[1], o.kernel[0], o.stride[0], 1);
  const int64_t ow = window_count(w, o.padding[2], o.padding[3], o.kernel[1], o.stride[1], 1);
  const Shape out_shape = {n, c, oh, ow};
  Rng grad_rng(seed ^ 0x7777);
  const Tensor g = testing::diff::make_input(grad_rng, out_shape, dtype, Layout::Contiguous,
                                             testing::diff::uniform_values(-1, 1));
  const std::vector<double> vx = testing::diff::read(x);
  const std::vector<double> vg = testing::diff::read(g);
  const auto out_n = static_cast<size_t>(testing::diff::numel_of(out_shape));
  std::vector<double> ymax(out_n);
  std::vector<double> yavg(out_n);
  std::vector<double> tavg(out_n);
  std::vector<double> gmax(vx.size(), 0.0);
  std::vector<double> gavg(vx.size(), 0.0);
  std::vector<double> tgavg(vx.size(), 0.0);
  std::vector<double> zero_out(out_n, 0.0);
  for (int64_t plane = 0; plane < n * c; ++plane) {
    for (int64_t r = 0; r < oh; ++r) {
      for (int64_t q = 0; q < ow; ++q) {
        const auto yo = static_cast<size_t>((plane * oh + r) * ow + q);
        int64_t best = -1;
        long double total = 0;
        double mag = 0;
        int64_t count = 0;
        for (int64_t kh = 0; kh < o.kernel[0]; ++kh) {
          const int64_t ih = r * o.stride[0] + kh - o.padding[0];
          if (ih < 0 || ih >= h) continue;
          for (int64_t kw = 0; kw < o.kernel[1]; ++kw) {
            const int64_t iw = q * o.stride[1] + kw - o.padding[2];
            if (iw < 0 || iw >= w) continue;
            const int64_t xi = (plane * h + ih) * w + iw;
            const double xv = vx[static_cast<size_t>(xi)];
            const double bv = best < 0 ? 0.0 : vx[static_cast<size_t>(best)];
            if (best < 0 || (!std::isnan(bv) && (xv > bv || std::isnan(xv)))) best = xi;
            total += xv;
            mag += std::abs(xv);
            ++count;
          }
        }
        // Every window holds an in-bounds element (padding < kernel, extents >= 1).
        ymax[yo] = vx[static_cast<size_t>(best)];
        gmax[static_cast<size_t>(best)] += vg[yo];
        yavg[yo] = static_cast<double>(total / static_cast<long double>(count));
        tavg[yo] = testing::diff::eps_of(dtype) * (4 + static_cast<double>(count)) * mag /
                   static_cast<double>(count);
        for (int64_t kh = 0; kh < o.kernel[0]; ++kh) {
          const int64_t ih = r * o.stride[0] + kh - o.padding[0];
          if (ih < 0 || ih >= h) continue;
          for (int64_t kw = 0; kw < o.kernel[1]; ++kw) {
            const int64_t iw = q * o.stride[1] + kw - o.padding[2];
            if (iw < 0 || iw >= w) continue;
            const auto xi = static_cast<size_t>((plane * h + ih) * w + iw);
            gavg[xi] += vg[yo] / static_cast<double>(count);
            tgavg[xi] += testing::diff::eps_of(dtype) * 4 * std::abs(vg[yo]);
          }
        }
      }
    }
  }
  // Max-pool gradients sum the grads of the windows that picked an element.
  std::vector<double> tgmax(vx.size(), 0.0);
  for (size_t e = 0; e < vx.size(); ++e) {
    tgmax[e] = testing::diff::eps_of(dtype) * 8 * std::abs(gmax[e]) +
               (gmax[e] != 0 ? testing::diff::eps_of(dtype) * 8 : 0);
  }

  const std::vector<Tensor> got = testing::diff::run_both_thread_counts_all(
      [&] {
        const Tensor ym = nabla::max_pool2d(x, o);
        const Tensor gm = autograd::grad({ym}, {x}, {g})[0];
        const Tensor ya = nabla::avg_pool2d(x, o);
        const Tensor ga = autograd::grad({ya}, {x}, {g})[0];
        return std::vector<Tensor>{ym.detach(), gm, ya.detach(), ga};
      },
      context);
  Checker c_ym(context + " max_pool2d");
  c_ym.all(got[0], out_shape, ymax, zero_out);
  Checker c_gm(context + " max_pool2d gradient");
  c_gm.all(got[1], in_shape, gmax, tgmax);
  Checker c_ya(context + " avg_pool2d");
  c_ya.all(got[2], out_shape, yavg, tavg);
  Checker c_ga(context + " avg_pool2d gradient");
  c_ga.all(got[3], in_shape, gavg, tgavg);
  return c_ym.failed() || c_gm.failed() || c_ya.failed() || c_ga.failed();
}

TEST(DifferentialConvPool, MaxAndAvgPoolingAndTheirAdjointsMatchDirectLoops) {
  const int64_t cases = testing::diff::case_count(800);
  int64_t ran = 0;
  int failing = 0;
  for (int64_t i = 0; i < cases && failing < testing::diff::kMaxFailingCases; ++i) {
    const uint64_t seed = 0x90010000 + static_cast<uint64_t>(i);
    if (!testing::diff::selected(seed)) continue;
    Rng rng(seed);
    const bool big = rng.chance(testing::diff::sanitized() ? 0.03 : 0.1);
    const int64_t n = testing::diff::draw_size(rng, 0, big ? 9 : 4);
    const int64_t c = testing::diff::draw_size(rng, 1, big ? 17 : 5);
    const int64_t h = testing::diff::draw_size(rng, 1, big ? 64 : 17);
    const int64_t w = testing::diff::draw_size(rng, 1, big ? 64 : 17);
    Pool2dOptions o;
    o.kernel = {rng.range(1, 4), rng.range(1, 4)};
    o.stride = {rng.range(1, 4), rng.range(1, 4)};
    for (size_t p = 0; p < 4; ++p) {
      const int64_t k = o.kernel[p < 2 ? 0 : 1];
      o.padding[p] = rng.chance(0.6) ? 0 : rng.range(0, k - 1);
    }
    const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
    const bool ties = rng.chance(0.4);
    const Layout layout = testing::diff::draw_layout(rng);
    const Shape in_shape = {n, c, h, w};
    const Tensor x = requiring_grad(testing::diff::make_input(
        rng, in_shape, dtype, layout,
        ties ? testing::diff::tie_values(-2, 2) : testing::diff::uniform_values(-3, 3)));
    const std::string context = "case seed " + std::to_string(seed) + " pool " +
                                geometry_text(in_shape, o.kernel, o.stride, o.padding, {1, 1}) +
                                " " + std::string(dtype_name(dtype)) + " " +
                                testing::diff::layout_name(layout) + (ties ? " ties" : "");
    ++ran;
    const int64_t oh = window_count(h, o.padding[0], o.padding[1], o.kernel[0], o.stride[0], 1);
    const int64_t ow = window_count(w, o.padding[2], o.padding[3], o.kernel[1], o.stride[1], 1);
    if (oh < 0 || ow < 0) {
      EXPECT_THROW((void)nabla::max_pool2d(x, o), Error) << context;
      EXPECT_THROW((void)nabla::avg_pool2d(x, o), Error) << context;
      continue;
    }
    failing += pool_case_fails(x, o, seed, context);
  }
  testing::diff::report_cases("max/avg pool2d (forward + adjoint)", ran);
}

// The pooling loops take a column-tiled path when kernel == stride (2 or 3) in width with no
// left padding and every window inside the row, and column-vectorized taps (stride 1, 2, other)
// otherwise: widths around the vector lengths (1, 2^k - 1, 2^k, 2^k + 1 for 4, 8, 16 lanes),
// with and without a remainder column, padding, ties and NaN, planes enough to reach the
// threads.
TEST(DifferentialConvPool, PoolingFastPathsMatchDirectLoopsWithTiesAndNaN) {
  const std::vector<int64_t> widths = {1,  2,  3,  4,  5,  6,  7,  8,  9,  11, 13,
                                       15, 16, 17, 26, 27, 31, 32, 33, 34, 35, 65};
  struct Geometry {
    std::array<int64_t, 2> kernel, stride;
    std::array<int64_t, 4> padding;
  };
  const std::vector<Geometry> geometries = {
      {{2, 2}, {2, 2}, {0, 0, 0, 0}},  // the CNN layer: tiled, 2 taps
      {{3, 3}, {3, 3}, {0, 0, 0, 0}},  // tiled, 3 taps
      {{2, 2}, {2, 2}, {1, 1, 0, 1}},  // tiled rows but a partial last column window
      {{2, 2}, {2, 2}, {0, 0, 1, 0}},  // left padding: tap path, stride 2
      {{1, 2}, {1, 2}, {0, 0, 0, 0}},  // tiled, one window row
      {{3, 3}, {1, 1}, {1, 1, 1, 1}},  // overlapping, stride 1, 'same'-like padding
      {{2, 3}, {2, 1}, {0, 1, 2, 0}},  // stride 1 columns with left padding
      {{3, 2}, {1, 2}, {2, 0, 0, 1}},  // kernel 2 stride 2 with right padding only
      {{2, 3}, {3, 2}, {1, 0, 1, 2}},  // stride 2, kernel 3 (overlap)
      {{3, 4}, {2, 3}, {0, 2, 3, 1}},  // run-time stride 3 with overlap
      {{2, 2}, {3, 4}, {0, 0, 0, 0}},  // gaps between windows
  };
  int64_t ran = 0;
  int failing = 0;
  uint64_t seed = 0x90020000;
  for (const Geometry& geo : geometries) {
    for (const int64_t w : widths) {
      for (int variant = 0; variant < 2 && failing < testing::diff::kMaxFailingCases; ++variant) {
        ++seed;
        if (!testing::diff::selected(seed)) continue;
        Rng rng(seed);
        Pool2dOptions o;
        o.kernel = geo.kernel;
        o.stride = geo.stride;
        o.padding = geo.padding;
        const int64_t h = rng.range(1, 9);
        if (window_count(h, o.padding[0], o.padding[1], o.kernel[0], o.stride[0], 1) < 0 ||
            window_count(w, o.padding[2], o.padding[3], o.kernel[1], o.stride[1], 1) < 0) {
          continue;
        }
        // Variant 1 has planes enough to cross the parallel threshold.
        const int64_t n = variant == 0 ? 1 : 3;
        const int64_t c = variant == 0 ? 2 : 150;
        const DType dtype = rng.chance(0.5) ? kFloat32 : kFloat64;
        const bool nan = rng.chance(0.5);
        const Layout layout =
            rng.chance(0.8) ? Layout::Contiguous : testing::diff::draw_layout(rng);
        const Shape in_shape = {n, c, h, w};
        const Tensor x = requiring_grad(testing::diff::make_input(
            rng, in_shape, dtype, layout,
            nan ? tie_values_with_nan() : testing::diff::tie_values(-2, 2)));
        const std::string context = "case seed " + std::to_string(seed) + " pool " +
                                    geometry_text(in_shape, o.kernel, o.stride, o.padding, {1, 1}) +
                                    " " + std::string(dtype_name(dtype)) + " " +
                                    testing::diff::layout_name(layout) +
                                    (nan ? " ties+NaN" : " ties");
        ++ran;
        failing += pool_case_fails(x, o, seed, context);
      }
    }
  }
  testing::diff::report_cases("max/avg pool2d fast paths (forward + adjoint)", ran);
}

}  // namespace
}  // namespace nabla
