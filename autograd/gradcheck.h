// Gradient checking: analytic Jacobians from the engine against central differences.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace nabla {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-5;  // an entry passes when |analytic - numerical| <= atol + rtol * |numerical|
  double rtol = 1e-3;
  // Both Jacobians all zero proves nothing; such a check fails unless this is set.
  bool allow_vacuous = false;
};

struct GradcheckReport {
  bool passed = true;
  bool vacuous = false;
  int64_t checked_entries = 0;
  // The worst entry (largest error relative to its tolerance).
  int64_t input_index = -1;
  int64_t input_element = -1;   // row-major index within the input
  int64_t output_element = -1;  // row-major index within the output
  double analytic = 0.0;
  double numerical = 0.0;
  double max_abs_error = 0.0;
  std::string message;

  explicit operator bool() const { return passed; }
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d fn / d inputs[i] for every input that requires grad (float64 recommended; inputs must
// not have overlapping memory such as expanded views).
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// Checks the second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v) built
// with create_graph.
GradcheckReport gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

// "Deep Learning from Scratch"'s numerical_gradient: central differences of a scalar function
// f(x) with step h, element by element, restoring x afterwards.
Tensor numerical_gradient(const std::function<double(const Tensor&)>& f, const Tensor& x,
                          double h = 1e-4);

}  // namespace nabla
