// gradcheck (slow and fast mode, one or several outputs), gradgradcheck and numerical_gradient.
#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

std::vector<int64_t> multi_index(const Shape& shape, int64_t linear) {
  std::vector<int64_t> position(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    position[d] = linear % shape[d];
    linear /= shape[d];
  }
  return position;
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

// |a - b| <= tolerance, with NaN never within tolerance (and NaN == NaN for the reentrancy check).
bool same_within(double a, double b, double tolerance) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b || std::abs(a - b) <= tolerance;
}

// How many tolerances |a - n| is out; NaN counts as infinitely far.
double excess_of(double a, double n, double atol, double rtol) {
  const double diff = std::abs(a - n);
  if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
  return diff / (atol + rtol * std::abs(n));
}

// A vector uniform in [0, 1), normalized to unit length (PyTorch's fast-mode u and v).
std::vector<double> unit_random(int64_t n, Generator& generator) {
  std::vector<double> v(static_cast<size_t>(n));
  double norm = 0.0;
  for (double& x : v) {
    x = generator.uniform();
    norm += x * x;
  }
  norm = std::sqrt(norm);
  if (norm > 0.0) {
    for (double& x : v) x /= norm;
  }
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double total = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) total += a[i] * b[i];
  return total;
}

// Runs one check (slow or fast) of fn at inputs, filling a report.
class Checker {
 public:
  Checker(const GradcheckMultiFn& fn, const std::vector<Tensor>& inputs,
          const GradcheckOptions& options)
      : fn_(fn), inputs_(inputs), options_(options) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
      check_no_overlap(inputs[i], i);
      diff_index_.push_back(i);
      diff_inputs_.push_back(inputs[i]);
    }
    if (diff_inputs_.empty()) throw error("gradcheck: no input requires grad");
    outputs_ = fn_(inputs_);
    if (outputs_.empty()) throw error("gradcheck: the function returned no outputs");
    for (size_t j = 0; j < outputs_.size(); ++j) {
      if (!outputs_[j].defined()) {
        throw error("gradcheck: output {} of the function is an undefined tensor", j);
      }
      if (outputs_[j].is_floating_point()) checked_outputs_.push_back(j);
    }
  }

  GradcheckReport run() {
    GradcheckReport report;
    if (options_.fast_mode) {
      report = fast();
      if (report.fast_mode_passed) return finish(std::move(report));
      GradcheckReport slow_report = slow();
      slow_report.fast_mode = true;
      slow_report.fast_mode_passed = false;
      return finish(std::move(slow_report));
    }
    return finish(slow());
  }

 private:
  // fn at the current input values: each checked output's values, row-major.
  std::vector<std::vector<double>> evaluate() {
    const std::vector<Tensor> outputs = fn_(inputs_);
    if (outputs.size() != outputs_.size()) {
      throw error("gradcheck: the function returned {} outputs, then {} for perturbed inputs",
                  outputs_.size(), outputs.size());
    }
    std::vector<std::vector<double>> values;
    for (const size_t j : checked_outputs_) {
      if (!outputs[j].defined() || outputs[j].shape() != outputs_[j].shape()) {
        throw error("gradcheck: output {} has shape {}, then {} for perturbed inputs", j,
                    shape_str(outputs_[j].shape()),
                    outputs[j].defined() ? shape_str(outputs[j].shape()) : "undefined");
      }
      values.push_back(flat_values(outputs[j]));
    }
    return values;
  }

  // Gradients of output j seeded with `seed`, one per differentiable input (undefined: none).
  std::vector<Tensor> backward(size_t j, const Tensor& seed, const std::string& seed_what) {
    try {
      return autograd::grad({outputs_[j]}, diff_inputs_, {seed}, true, false);
    } catch (const Error& e) {
      throw error("gradcheck: backward of output {} seeded with {} failed: {}", j, seed_what,
                  e.what());
    }
  }

  // The gradient of input k must have its shape and dtype. Returns whether its values are usable
  // (same element count); records one failure per input.
  bool check_attributes(size_t k, const Tensor& grad) {
    if (!grad.defined()) return true;
    const Tensor& x = diff_inputs_[k];
    if (grad.shape() == x.shape() && grad.dtype() == x.dtype()) return true;
    if (!attribute_failed_[k]) {
      attribute_failed_[k] = true;
      failures_.push_back(fmt::format(
          "gradient shape/dtype: input {} has shape {} {} but its gradient has shape {} {}",
          diff_index_[k], shape_str(x.shape()), dtype_name(x.dtype()), shape_str(grad.shape()),
          dtype_name(grad.dtype())));
    }
    return grad.numel() == x.numel();
  }

  // Two backward passes with the same seed must agree within nondet_tol.
  void check_reentrant(size_t k, size_t j, const std::vector<double>& first,
                       const std::vector<double>& second, const std::string& seed_what) {
    if (nondet_failed_[k]) return;
    bool same = first.size() == second.size();
    double max_diff = 0.0;
    int64_t where = -1;
    for (size_t e = 0; same && e < first.size(); ++e) {
      if (!same_within(first[e], second[e], options_.nondet_tol)) {
        const double diff = std::abs(first[e] - second[e]);
        if (where < 0 || diff > max_diff || std::isnan(diff)) {
          max_diff = diff;
          where = static_cast<int64_t>(e);
        }
      }
    }
    if (same && where < 0) return;
    nondet_failed_[k] = true;
    failures_.push_back(fmt::format(
        "nondeterministic backward: two backward passes of output {} seeded with {} gave "
        "different gradients for input {} (element {} {}: {:.17g} vs {:.17g}; nondet_tol {:.3g})",
        j, seed_what, diff_index_[k], where,
        where >= 0 ? shape_str(multi_index(diff_inputs_[k].shape(), where)) : std::string(),
        where >= 0 ? first[static_cast<size_t>(where)] : 0.0,
        where >= 0 ? second[static_cast<size_t>(where)] : 0.0, options_.nondet_tol));
  }

  // An all-zero output gradient must give all-zero (or no) input gradients.
  void check_zero_grad() {
    std::vector<Tensor> roots;
    std::vector<Tensor> seeds;
    for (const size_t j : checked_outputs_) {
      if (!outputs_[j].requires_grad()) continue;
      roots.push_back(outputs_[j]);
      seeds.push_back(zeros(outputs_[j].shape(), outputs_[j].dtype()));
    }
    if (roots.empty()) return;
    std::vector<Tensor> grads;
    try {
      grads = autograd::grad(roots, diff_inputs_, seeds, true, false);
    } catch (const Error& e) {
      throw error("gradcheck: backward with an all-zero output gradient failed: {}", e.what());
    }
    for (size_t k = 0; k < grads.size(); ++k) {
      const std::vector<double> values = flat_values(grads[k]);
      for (size_t e = 0; e < values.size(); ++e) {
        if (values[e] != 0.0) {
          failures_.push_back(fmt::format(
              "zero output gradient: backward with all-zero output gradients gave input {} a "
              "nonzero gradient ({:.10g} at element {} {})",
              diff_index_[k], values[e], e,
              shape_str(multi_index(diff_inputs_[k].shape(), static_cast<int64_t>(e)))));
          break;
        }
      }
    }
  }

  void check_dtypes(GradcheckReport& report) {
    constexpr std::string_view kWhy =
        "central differences in float32 drown in rounding error (float32 resolves 6e-8 of a "
        "value, so a step of 1e-6 moves 1.0 by only 8 ulps and f(x + eps) - f(x - eps) is mostly "
        "rounding); gradcheck needs float64 inputs";
    for (size_t k = 0; k < diff_inputs_.size(); ++k) {
      if (diff_inputs_[k].dtype() == kFloat64) continue;
      std::string text = fmt::format("input {} is {}: {}", diff_index_[k],
                                     dtype_name(diff_inputs_[k].dtype()), kWhy);
      if (options_.require_float64) {
        failures_.push_back(std::move(text));
      } else {
        report.warnings.push_back(std::move(text));
      }
    }
    for (const size_t j : checked_outputs_) {
      if (outputs_[j].dtype() == kFloat64) continue;
      report.warnings.push_back(fmt::format(
          "output {} is {}: its rounding error limits the numerical Jacobian; compute in float64",
          j, dtype_name(outputs_[j].dtype())));
    }
  }

  void reset_checks() {
    failures_.clear();
    attribute_failed_.assign(diff_inputs_.size(), false);
    nondet_failed_.assign(diff_inputs_.size(), false);
  }

  GradcheckReport slow() {
    reset_checks();
    GradcheckReport report;
    check_dtypes(report);
    const size_t n_inputs = diff_inputs_.size();
    const size_t n_outputs = checked_outputs_.size();
    // numerical[k][c] and analytic[k][c]: row-major [numel(output), numel(input)].
    std::vector<std::vector<std::vector<double>>> numerical(n_inputs);
    std::vector<std::vector<std::vector<double>>> analytic(n_inputs);
    for (size_t k = 0; k < n_inputs; ++k) {
      numerical[k].resize(n_outputs);
      analytic[k].resize(n_outputs);
      const auto in_numel = static_cast<size_t>(diff_inputs_[k].numel());
      for (size_t c = 0; c < n_outputs; ++c) {
        const auto out_numel = static_cast<size_t>(outputs_[checked_outputs_[c]].numel());
        numerical[k][c].assign(out_numel * in_numel, 0.0);
        analytic[k][c].assign(out_numel * in_numel, 0.0);
      }
    }

    // Numerical Jacobian columns: one perturbed element at a time. Grad mode stays as it is:
    // gradgradcheck's function needs it to build its inner gradient.
    for (size_t k = 0; k < n_inputs; ++k) {
      const Tensor& x = diff_inputs_[k];
      const int64_t in_numel = x.numel();
      for (int64_t e = 0; e < in_numel; ++e) {
        const double original = read_element(x, e);
        write_element(x, e, original + options_.eps);
        const double plus_at = read_element(x, e);
        const auto plus = evaluate();
        write_element(x, e, original - options_.eps);
        const double minus_at = read_element(x, e);
        const auto minus = evaluate();
        write_element(x, e, original);
        // The step the storage really holds (in float32 it differs from 2 * eps).
        double step = plus_at - minus_at;
        if (step == 0.0) step = 2.0 * options_.eps;
        for (size_t c = 0; c < n_outputs; ++c) {
          for (size_t o = 0; o < plus[c].size(); ++o) {
            numerical[k][c][o * static_cast<size_t>(in_numel) + static_cast<size_t>(e)] =
                (plus[c][o] - minus[c][o]) / step;
          }
        }
      }
    }

    // Analytic Jacobian rows: one backward per output element, run twice for reentrancy.
    std::vector<bool> usable(n_inputs, true);
    for (size_t c = 0; c < n_outputs; ++c) {
      const size_t j = checked_outputs_[c];
      const Tensor& output = outputs_[j];
      if (!output.requires_grad()) continue;
      for (int64_t o = 0; o < output.numel(); ++o) {
        Tensor seed = zeros(output.shape(), output.dtype());
        write_element(seed, o, 1.0);
        const std::string seed_what =
            fmt::format("a one at element {} {}", o, shape_str(multi_index(output.shape(), o)));
        const std::vector<Tensor> first = backward(j, seed, seed_what);
        const std::vector<Tensor> second = backward(j, seed, seed_what);
        for (size_t k = 0; k < n_inputs; ++k) {
          usable[k] = check_attributes(k, first[k]) && usable[k];
          const std::vector<double> values = flat_values(first[k]);
          check_reentrant(k, j, values, flat_values(second[k]), seed_what);
          if (!usable[k] || values.empty()) continue;
          const auto in_numel = values.size();
          std::copy(values.begin(), values.end(),
                    analytic[k][c].begin() +
                        static_cast<std::ptrdiff_t>(static_cast<size_t>(o) * in_numel));
        }
      }
    }
    check_zero_grad();

    // Compare every entry.
    bool any_nonzero = false;
    double worst = -1.0;
    for (size_t k = 0; k < n_inputs; ++k) {
      const Tensor& x = diff_inputs_[k];
      const int64_t in_numel = x.numel();
      for (size_t c = 0; c < n_outputs; ++c) {
        const size_t j = checked_outputs_[c];
        const Tensor& output = outputs_[j];
        GradcheckJacobian jacobian;
        jacobian.input_index = static_cast<int64_t>(diff_index_[k]);
        jacobian.output_index = static_cast<int64_t>(j);
        jacobian.analytic = tensor(analytic[k][c], {output.numel(), in_numel}, kFloat64);
        jacobian.numerical = tensor(numerical[k][c], {output.numel(), in_numel}, kFloat64);
        report.jacobians.push_back(std::move(jacobian));
        if (!usable[k]) continue;
        for (int64_t o = 0; o < output.numel(); ++o) {
          for (int64_t e = 0; e < in_numel; ++e) {
            const auto at = static_cast<size_t>(o * in_numel + e);
            const double a = analytic[k][c][at];
            const double n = numerical[k][c][at];
            const double excess = excess_of(a, n, options_.atol, options_.rtol);
            any_nonzero = any_nonzero || a != 0.0 || n != 0.0;
            ++report.checked_entries;
            if (excess > worst) {
              worst = excess;
              report.input_index = static_cast<int64_t>(diff_index_[k]);
              report.input_element = e;
              report.output_index = static_cast<int64_t>(j);
              report.output_element = o;
              report.analytic = a;
              report.numerical = n;
              report.max_abs_error = std::abs(a - n);
            }
            if (excess > 1.0) {
              GradcheckMismatch m;
              m.input_index = static_cast<int64_t>(diff_index_[k]);
              m.input_element = e;
              m.input_position = multi_index(x.shape(), e);
              m.output_index = static_cast<int64_t>(j);
              m.output_element = o;
              m.output_position = multi_index(output.shape(), o);
              m.analytic = a;
              m.numerical = n;
              m.abs_error = std::abs(a - n);
              m.rel_error =
                  n == 0.0 ? std::numeric_limits<double>::infinity() : m.abs_error / std::abs(n);
              m.excess = excess;
              report.mismatches.push_back(std::move(m));
            }
          }
        }
      }
    }
    std::stable_sort(
        report.mismatches.begin(), report.mismatches.end(),
        [](const GradcheckMismatch& a, const GradcheckMismatch& b) { return a.excess > b.excess; });
    report.vacuous = !any_nonzero;
    report.failures = failures_;
    report.passed = report.mismatches.empty() && report.failures.empty() &&
                    (!report.vacuous || options_.allow_vacuous);
    return report;
  }

  GradcheckReport fast() {
    reset_checks();
    GradcheckReport report;
    report.fast_mode = true;
    check_dtypes(report);
    Generator generator(options_.seed);
    const size_t n_inputs = diff_inputs_.size();
    const size_t n_outputs = checked_outputs_.size();
    std::vector<std::vector<double>> u(n_inputs);
    std::vector<std::vector<double>> v(n_outputs);
    for (size_t k = 0; k < n_inputs; ++k) u[k] = unit_random(diff_inputs_[k].numel(), generator);
    for (size_t c = 0; c < n_outputs; ++c) {
      v[c] = unit_random(outputs_[checked_outputs_[c]].numel(), generator);
    }

    // Analytic v^T J u: one backward with v per output (twice, for reentrancy).
    std::vector<std::vector<double>> analytic(n_inputs, std::vector<double>(n_outputs, 0.0));
    for (size_t c = 0; c < n_outputs; ++c) {
      const size_t j = checked_outputs_[c];
      const Tensor& output = outputs_[j];
      if (!output.requires_grad()) continue;
      const Tensor seed = tensor(v[c], output.shape(), kFloat64).to(output.dtype());
      const std::string seed_what = "a random vector v";
      const std::vector<Tensor> first = backward(j, seed, seed_what);
      const std::vector<Tensor> second = backward(j, seed, seed_what);
      for (size_t k = 0; k < n_inputs; ++k) {
        const bool usable = check_attributes(k, first[k]);
        const std::vector<double> values = flat_values(first[k]);
        check_reentrant(k, j, values, flat_values(second[k]), seed_what);
        if (usable) analytic[k][c] = dot(values, u[k]);
      }
    }
    check_zero_grad();

    // Numerical v^T J u: one central difference along u per input.
    std::vector<std::vector<double>> numerical(n_inputs, std::vector<double>(n_outputs, 0.0));
    for (size_t k = 0; k < n_inputs; ++k) {
      const Tensor& x = diff_inputs_[k];
      std::vector<double> original(static_cast<size_t>(x.numel()));
      for (int64_t e = 0; e < x.numel(); ++e) original[static_cast<size_t>(e)] = read_element(x, e);
      const auto shift = [&](double sign) {
        for (int64_t e = 0; e < x.numel(); ++e) {
          const auto i = static_cast<size_t>(e);
          write_element(x, e, original[i] + sign * options_.eps * u[k][i]);
        }
      };
      shift(1.0);
      const auto plus = evaluate();
      shift(-1.0);
      const auto minus = evaluate();
      for (int64_t e = 0; e < x.numel(); ++e) write_element(x, e, original[static_cast<size_t>(e)]);
      for (size_t c = 0; c < n_outputs; ++c) {
        double total = 0.0;
        for (size_t o = 0; o < plus[c].size(); ++o) total += v[c][o] * (plus[c][o] - minus[c][o]);
        numerical[k][c] = total / (2.0 * options_.eps);
      }
    }

    // Compare: atol scaled by v^T (all ones) u = sum(u) sum(v), as in PyTorch.
    bool any_nonzero = false;
    bool agree = true;
    double worst = -1.0;
    for (size_t k = 0; k < n_inputs; ++k) {
      double sum_u = 0.0;
      for (const double x : u[k]) sum_u += x;
      for (size_t c = 0; c < n_outputs; ++c) {
        double sum_v = 0.0;
        for (const double x : v[c]) sum_v += x;
        const double a = analytic[k][c];
        const double n = numerical[k][c];
        const double excess = excess_of(a, n, options_.atol * sum_u * sum_v, options_.rtol);
        any_nonzero = any_nonzero || a != 0.0 || n != 0.0;
        ++report.checked_entries;
        if (excess > worst) {
          worst = excess;
          report.input_index = static_cast<int64_t>(diff_index_[k]);
          report.output_index = static_cast<int64_t>(checked_outputs_[c]);
          report.analytic = a;
          report.numerical = n;
          report.max_abs_error = std::abs(a - n);
        }
        if (excess > 1.0 && agree) {
          agree = false;
          fast_note_ = fmt::format(
              "fast mode: v^T J u of input {} and output {} disagreed (analytic {:.10g} vs "
              "numerical {:.10g}), so every entry was checked",
              diff_index_[k], checked_outputs_[c], a, n);
        }
      }
    }
    report.vacuous = !any_nonzero;
    report.failures = failures_;
    report.fast_mode_passed = agree;
    report.passed = agree && report.failures.empty() && (!report.vacuous || options_.allow_vacuous);
    return report;
  }

  // "output element" for a single-output function, "output 1 element" otherwise.
  [[nodiscard]] std::string output_label(int64_t output_index) const {
    return outputs_.size() > 1 ? fmt::format("output {} element", output_index)
                               : std::string("output element");
  }

  [[nodiscard]] std::string mismatch_line(const GradcheckMismatch& m) const {
    const std::string output = output_label(m.output_index);
    return fmt::format(
        "  input {} element {} {}, {} {} {}: analytic {:.10g} vs numerical {:.10g} (abs error "
        "{:.3g}, rel error {:.3g})",
        m.input_index, m.input_element, shape_str(m.input_position), output, m.output_element,
        shape_str(m.output_position), m.analytic, m.numerical, m.abs_error, m.rel_error);
  }

  GradcheckReport finish(GradcheckReport report) const {
    std::string message;
    const std::string tolerance =
        fmt::format("|analytic - numerical| <= atol {:.3g} + rtol {:.3g} * |numerical|",
                    options_.atol, options_.rtol);
    if (!report.mismatches.empty()) {
      message = fmt::format("gradcheck failed: {} of {} Jacobian entries outside {}, worst first:",
                            report.mismatches.size(), report.checked_entries, tolerance);
      const auto listed = std::min(report.mismatches.size(),
                                   static_cast<size_t>(std::max<int64_t>(options_.max_listed, 0)));
      for (size_t i = 0; i < listed; ++i) message += "\n" + mismatch_line(report.mismatches[i]);
      if (listed < report.mismatches.size()) {
        message += fmt::format("\n  ... and {} more", report.mismatches.size() - listed);
      }
    } else if (!report.failures.empty()) {
      message =
          fmt::format("gradcheck failed: {} {} within tolerance, but:", report.checked_entries,
                      report.fast_mode_passed ? "projections v^T J u" : "Jacobian entries");
    } else if (report.vacuous) {
      message = fmt::format(
          "gradcheck vacuous: analytic and numerical Jacobians are both all zero ({} entries)",
          report.checked_entries);
    } else if (report.fast_mode_passed) {
      message = fmt::format(
          "gradcheck passed (fast mode): {} projections v^T J u agree, worst at input {}, output "
          "{}: analytic {:.10g} vs numerical {:.10g}",
          report.checked_entries, report.input_index, report.output_index, report.analytic,
          report.numerical);
    } else {
      message = fmt::format(
          "gradcheck passed: {} entries, worst at input {} element {}, {} {}: analytic {:.10g} vs "
          "numerical {:.10g}",
          report.checked_entries, report.input_index, report.input_element,
          output_label(report.output_index), report.output_element, report.analytic,
          report.numerical);
    }
    if (report.fast_mode && !report.fast_mode_passed && !fast_note_.empty()) {
      message += "\n  " + fast_note_;
    }
    for (const std::string& failure : report.failures) message += "\n  " + failure;
    for (const std::string& warning : report.warnings) message += "\nwarning: " + warning;
    report.message = std::move(message);
    return report;
  }

  const GradcheckMultiFn& fn_;
  const std::vector<Tensor>& inputs_;
  const GradcheckOptions& options_;
  std::vector<size_t> diff_index_;
  std::vector<Tensor> diff_inputs_;
  std::vector<Tensor> outputs_;
  std::vector<size_t> checked_outputs_;  // the floating-point outputs
  std::vector<std::string> failures_;
  std::vector<bool> attribute_failed_;
  std::vector<bool> nondet_failed_;
  std::string fast_note_;
};

}  // namespace

const GradcheckJacobian* GradcheckReport::jacobian(int64_t input, int64_t output) const {
  for (const GradcheckJacobian& j : jacobians) {
    if (j.input_index == input && j.output_index == output) return &j;
  }
  return nullptr;
}

GradcheckReport gradcheck(const GradcheckMultiFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  Checker checker(fn, inputs, options);
  return checker.run();
}

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  const GradcheckMultiFn multi = [&fn](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{fn(in)};
  };
  return gradcheck(multi, inputs, options);
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
