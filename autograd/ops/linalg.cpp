// matmul and its derivative; the transposes in the derivative are views the GEMM reads directly.
#include "autograd/ops.h"
#include "tensor/kernels/kernels.h"

namespace nabla {

using autograd::Grads;
using autograd::record;

// d(a@b) = (g @ b^T, a^T @ g), with 1-D operands promoted to matrices and back; broadcast batch
// dims are summed by the engine.
Tensor matmul(const Tensor& a, const Tensor& b) {
  return record("matmul", kernels::matmul(a, b), {a, b},
                [a, b](const Tensor& g, const autograd::NeedsGrad& needs) -> Grads {
                  const Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
                  const Tensor b2 = b.dim() == 1 ? unsqueeze(b, -1) : b;
                  Tensor g2 = g;
                  if (a.dim() == 1) g2 = unsqueeze(g2, b.dim() == 1 ? 0 : -2);
                  if (b.dim() == 1) g2 = unsqueeze(g2, -1);
                  // Each product is a full GEMM: skip the one nobody asked for (a Dense layer's
                  // input).
                  Tensor grad_a;
                  Tensor grad_b;
                  if (needs[0]) {
                    grad_a = matmul(g2, transpose(b2, -1, -2));
                    if (a.dim() == 1) grad_a = squeeze(grad_a, -2);
                  }
                  if (needs[1]) {
                    grad_b = matmul(transpose(a2, -1, -2), g2);
                    if (b.dim() == 1) grad_b = squeeze(grad_b, -1);
                  }
                  return {grad_a, grad_b};
                },
                {a, b});
}

}  // namespace nabla
