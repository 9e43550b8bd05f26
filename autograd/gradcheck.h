// Gradient checking: analytic Jacobians from the engine against central differences, plus
// PyTorch's extra checks (reentrant backward, zero output gradient, gradient shape and dtype).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace nabla {

// The defaults equal torch.autograd.gradcheck's (PyTorch: eps=1e-6, atol=1e-5, rtol=1e-3,
// nondet_tol=0.0, fast_mode=False) and assume float64 inputs. nabla's own tests use tighter
// tolerances (atol 1e-6, rtol 1e-5: tests/support/gradcheck_support.h).
struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step (PyTorch: 1e-6)
  double atol = 1e-5;  // an entry passes when |analytic - numerical| <= atol + rtol * |numerical|
  double rtol = 1e-3;  // (PyTorch: atol 1e-5, rtol 1e-3)
  // Both Jacobians all zero proves nothing; such a check fails unless this is set.
  bool allow_vacuous = false;
  // Two backward passes with the same output gradient must agree within this (0: bit-identical;
  // PyTorch: 0.0).
  double nondet_tol = 0.0;
  // Compare random projections v^T J u instead of every entry: one backward with v and one
  // central difference along u per (input, output) pair. u and v are uniform in [0, 1) and
  // normalized, as in PyTorch, and atol is scaled by sum(u) * sum(v). On a failure the full
  // (slow) check reruns to name the wrong entries. (PyTorch: False.)
  bool fast_mode = false;
  uint64_t seed = 0x6A3D;  // of fast mode's u and v
  // Central differences in float32 drown in rounding error (a step of 1e-6 is ~8 float32 ulps of
  // 1.0), so a non-float64 differentiable input draws a warning, as in PyTorch; with this set it
  // fails the check instead. The numerical Jacobian divides by the step the storage really holds.
  bool require_float64 = false;
  int64_t max_listed = 10;  // mismatching entries listed in the message (all are in the report)
};

// One Jacobian entry outside tolerance.
struct GradcheckMismatch {
  int64_t input_index = -1;             // position in the `inputs` argument
  int64_t input_element = -1;           // row-major index within that input
  std::vector<int64_t> input_position;  // the same element as a multi-index
  int64_t output_index = 0;             // which output (0 for a single-output function)
  int64_t output_element = -1;          // row-major index within that output
  std::vector<int64_t> output_position;
  double analytic = 0.0;
  double numerical = 0.0;
  double abs_error = 0.0;  // |analytic - numerical|
  double rel_error = 0.0;  // abs_error / |numerical| (infinite when numerical is 0)
  // abs_error / (atol + rtol * |numerical|): how many tolerances out; the sort key, worst first.
  double excess = 0.0;
};

// d output / d input for one (differentiable input, floating-point output) pair, float64, shape
// [numel(output), numel(input)]: row o is output element o (row-major), column e input element e.
struct GradcheckJacobian {
  int64_t input_index = -1;
  int64_t output_index = 0;
  Tensor analytic;   // from the engine, one backward per output element
  Tensor numerical;  // central differences, one pair of forward calls per input element
};

struct GradcheckReport {
  bool passed = true;
  bool vacuous = false;
  int64_t checked_entries = 0;  // Jacobian entries compared (projections in fast mode)
  // The worst entry (largest error relative to its tolerance), mismatching or not.
  int64_t input_index = -1;
  int64_t input_element = -1;   // row-major index within the input
  int64_t output_index = 0;     // which output
  int64_t output_element = -1;  // row-major index within the output
  double analytic = 0.0;
  double numerical = 0.0;
  double max_abs_error = 0.0;
  // Every entry outside tolerance, worst first.
  std::vector<GradcheckMismatch> mismatches;
  // One per (differentiable input, floating-point output) pair, inputs outer. Empty when fast
  // mode passed (it never forms the Jacobians).
  std::vector<GradcheckJacobian> jacobians;
  // Failed extra checks (nondeterministic backward, nonzero gradient from a zero output
  // gradient, gradient shape or dtype unlike its input's, non-float64 input when required),
  // one sentence each.
  std::vector<std::string> failures;
  std::vector<std::string> warnings;  // e.g. a float32 input
  // Fast mode: whether it ran and whether its projections agreed (false also when it fell back).
  bool fast_mode = false;
  bool fast_mode_passed = false;
  std::string message;  // the verdict, the capped list of mismatches, failures and warnings

  explicit operator bool() const { return passed; }
  // The pair's Jacobians, or nullptr when the pair was not checked (or fast mode passed).
  [[nodiscard]] const GradcheckJacobian* jacobian(int64_t input, int64_t output = 0) const;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;
using GradcheckMultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Checks d fn / d inputs[i] for every input that requires grad; inputs that do not (int64 indices,
// constants) are passed through untouched. Inputs should be float64 and must not have overlapping
// memory (such as expanded views): each element is perturbed in place and restored. Integer
// outputs are not differentiable and are skipped; a floating output that does not require grad
// has an all-zero analytic Jacobian.
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
// The same for a function with several outputs (declare the lambda's return type).
GradcheckReport gradcheck(const GradcheckMultiFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// Checks the second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v) built
// with create_graph; v is the last input of the report's indices.
GradcheckReport gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

// "Deep Learning from Scratch"'s numerical_gradient: central differences of a scalar function
// f(x) with step h, element by element, restoring x afterwards.
Tensor numerical_gradient(const std::function<double(const Tensor&)>& f, const Tensor& x,
                          double h = 1e-4);

}  // namespace nabla
