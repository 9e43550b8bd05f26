// gradcheck, gradgradcheck and numerical_gradient.
#include "autograd/gradcheck.h"

#include <cmath>

#include "autograd/grad.h"
#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"
#include "tensor/random.h"

namespace nabla {
namespace {

// Storage offset of the row-major element `linear` of `t`.
int64_t element_offset(const Tensor& t, int64_t linear) {
  int64_t offset = t.storage_offset();
  for (size_t d = t.shape().size(); d-- > 0;) {
    offset += (linear % t.shape()[d]) * t.strides()[d];
    linear /= t.shape()[d];
  }
  return offset;
}

double read_element(const Tensor& t, int64_t linear) {
  return visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(
        static_cast<const T*>(t.storage()->data())[element_offset(t, linear)]);
  });
}

void write_element(const Tensor& t, int64_t linear, double value) {
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    static_cast<T*>(t.storage()->data())[element_offset(t, linear)] = static_cast<T>(value);
  });
}

void check_no_overlap(const Tensor& t, size_t index) {
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.strides()[static_cast<size_t>(d)] == 0 && t.shape()[static_cast<size_t>(d)] > 1) {
      throw error(
          "gradcheck: input {} of shape {} has overlapping memory (stride 0 in dim {}); "
          "pass a contiguous copy",
          index, shape_str(t.shape()), d);
    }
  }
}

std::vector<double> flat_values(const Tensor& t) {
  return t.defined() ? t.to_vector<double>() : std::vector<double>();
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<size_t> diff_index;
  std::vector<Tensor> diff_inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    check_no_overlap(inputs[i], i);
    diff_index.push_back(i);
    diff_inputs.push_back(inputs[i]);
  }
  if (diff_inputs.empty()) throw error("gradcheck: no input requires grad");

  const Tensor output = fn(inputs);
  const int64_t out_numel = output.numel();

  // Numerical Jacobian columns: one perturbed element at a time.
  std::vector<std::vector<std::vector<double>>> numerical(diff_inputs.size());
  {
    // Grad mode stays as it is: gradgradcheck's function needs it to build its inner gradient.
    for (size_t k = 0; k < diff_inputs.size(); ++k) {
      const Tensor& x = diff_inputs[k];
      numerical[k].resize(static_cast<size_t>(x.numel()));
      for (int64_t e = 0; e < x.numel(); ++e) {
        const double original = read_element(x, e);
        write_element(x, e, original + options.eps);
        const std::vector<double> plus = flat_values(fn(inputs));
        write_element(x, e, original - options.eps);
        const std::vector<double> minus = flat_values(fn(inputs));
        write_element(x, e, original);
        auto& column = numerical[k][static_cast<size_t>(e)];
        column.resize(static_cast<size_t>(out_numel));
        for (size_t o = 0; o < column.size(); ++o) {
          column[o] = (plus[o] - minus[o]) / (2.0 * options.eps);
        }
      }
    }
  }

  GradcheckReport report;
  bool any_nonzero = false;
  double worst_ratio = -1.0;
  for (int64_t o = 0; o < out_numel; ++o) {
    std::vector<Tensor> row(diff_inputs.size());
    if (output.requires_grad()) {
      Tensor seed = zeros(output.shape(), output.dtype());
      write_element(seed, o, 1.0);
      row = autograd::grad({output}, diff_inputs, {seed}, true, false);
    }
    for (size_t k = 0; k < diff_inputs.size(); ++k) {
      const std::vector<double> analytic = flat_values(row[k]);
      for (int64_t e = 0; e < diff_inputs[k].numel(); ++e) {
        const double a = analytic.empty() ? 0.0 : analytic[static_cast<size_t>(e)];
        const double n = numerical[k][static_cast<size_t>(e)][static_cast<size_t>(o)];
        const double diff = std::abs(a - n);
        const double tolerance = options.atol + options.rtol * std::abs(n);
        const double ratio =
            std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff / tolerance;
        any_nonzero = any_nonzero || a != 0.0 || n != 0.0;
        ++report.checked_entries;
        if (ratio > worst_ratio) {
          worst_ratio = ratio;
          report.input_index = static_cast<int64_t>(diff_index[k]);
          report.input_element = e;
          report.output_element = o;
          report.analytic = a;
          report.numerical = n;
          report.max_abs_error = diff;
        }
      }
    }
  }
  report.passed = worst_ratio <= 1.0;
  report.vacuous = !any_nonzero;
  if (!report.passed) {
    report.message = fmt::format(
        "gradcheck failed: input {} element {}, output element {}: analytic {:.10g} vs numerical "
        "{:.10g} (|difference| {:.3g} > atol {:.3g} + rtol {:.3g} * |numerical|)",
        report.input_index, report.input_element, report.output_element, report.analytic,
        report.numerical, report.max_abs_error, options.atol, options.rtol);
  } else if (report.vacuous) {
    report.passed = options.allow_vacuous;
    report.message = fmt::format(
        "gradcheck vacuous: analytic and numerical Jacobians are both all zero ({} entries)",
        report.checked_entries);
  } else {
    report.message = fmt::format(
        "gradcheck passed: {} entries, worst at input {} element {}, output element {}: analytic "
        "{:.10g} vs numerical {:.10g}",
        report.checked_entries, report.input_index, report.input_element, report.output_element,
        report.analytic, report.numerical);
  }
  return report;
}

GradcheckReport gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options) {
  std::vector<size_t> diff_index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].defined() && inputs[i].requires_grad()) diff_index.push_back(i);
  }
  const Tensor probe = [&] {
    const NoGradGuard no_grad;
    return fn(inputs);
  }();
  // A fixed, non-trivial direction for the first-order gradient.
  Generator generator(0x6A3D);
  Tensor direction = randn(probe.shape(), kFloat64, &generator).to(probe.dtype());
  direction.requires_grad_();
  std::vector<Tensor> extended = inputs;
  extended.push_back(direction);

  const GradcheckFn first_order = [fn, diff_index](const std::vector<Tensor>& args) {
    std::vector<Tensor> originals(args.begin(), args.end() - 1);
    std::vector<Tensor> wrt;
    wrt.reserve(diff_index.size());
    for (const size_t i : diff_index) wrt.push_back(originals[i]);
    const Tensor out = fn(originals);
    std::vector<Tensor> grads;
    if (out.requires_grad()) {
      grads = autograd::grad({out}, wrt, {args.back()}, true, true);
    } else {
      grads.resize(wrt.size());
    }
    std::vector<Tensor> flat;
    for (size_t k = 0; k < wrt.size(); ++k) {
      const Tensor g = grads[k].defined() ? grads[k] : zeros_like(wrt[k]);
      flat.push_back(reshape(g, {-1}));
    }
    return cat(flat, 0);
  };
  GradcheckReport report = gradcheck(first_order, extended, options);
  report.message = "gradgrad" + report.message.substr(4);
  return report;
}

Tensor numerical_gradient(const std::function<double(const Tensor&)>& f, const Tensor& x,
                          double h) {
  Tensor grad = zeros(x.shape(), x.dtype() == kInt64 ? kFloat64 : x.dtype());
  const NoGradGuard no_grad;
  for (int64_t e = 0; e < x.numel(); ++e) {
    const double original = read_element(x, e);
    write_element(x, e, original + h);
    const double plus = f(x);
    write_element(x, e, original - h);
    const double minus = f(x);
    write_element(x, e, original);
    write_element(grad, e, (plus - minus) / (2.0 * h));
  }
  return grad;
}

}  // namespace nabla
