// A tour of the core API: tensors, views, autograd backward, gradcheck and NoGradGuard.
// README.md's "API tour" quotes this file; `./scripts/nabla main` builds and runs it.
#include <cstdio>
#include <vector>

#include "nabla.h"

int main() {
  using nabla::Tensor;

  // Tensors: float32 by default, shapes broadcast like NumPy, fmt prints them like PyTorch.
  Tensor x = nabla::tensor({{1.0, -2.0, 3.0}, {-4.0, 5.0, -6.0}});                     // [2, 3]
  Tensor w = nabla::tensor({{0.5, -1.0}, {0.25, 2.0}, {-0.5, 1.0}}).requires_grad_();  // [3, 2]
  Tensor b = nabla::tensor({0.1, -0.1}).requires_grad_();                              // [2]

  // Views share storage with their base: no copy for select, transpose, slice, reshape...
  Tensor second_row = x[1];          // [3]
  Tensor x_t = x.transpose(0, 1);    // [3, 2], strided
  Tensor firsts = x.slice(1, 0, 2);  // [2, 2]
  fmt::print("x =\n{}\nx[1] = {}\nx.T is contiguous: {}\nx[:, 0:2] =\n{}\n", x, second_row,
             x_t.is_contiguous(), firsts);

  // Autograd: a small graph, then backward from the scalar loss.
  Tensor hidden = nabla::relu(nabla::matmul(x, w) + b);  // [2, 2], b broadcasts over rows
  Tensor loss = (hidden * hidden).mean();
  loss.backward();
  fmt::print("loss = {:.6f}\ndloss/dw =\n{}\ndloss/db = {}\n", loss.item(), w.grad(), b.grad());

  // gradcheck: the engine's Jacobian against central differences, in float64.
  Tensor a = nabla::tensor({{0.3, -0.7, 1.1}, {0.9, -1.3, 0.2}}, nabla::kFloat64).requires_grad_();
  Tensor c = nabla::tensor({{0.5, -1.5, 2.0}, {1.0, 0.4, -0.8}}, nabla::kFloat64).requires_grad_();
  const nabla::GradcheckReport report = nabla::gradcheck(
      [](const std::vector<Tensor>& in) {
        return nabla::log_softmax(nabla::tanh(nabla::matmul(in[0], in[1].transpose(0, 1))), 1);
      },
      {a, c});
  fmt::print("log_softmax(tanh(a @ c^T)): {}\n", report.message);

  // NoGradGuard: an SGD step and an evaluation that the graph does not record.
  double loss_after = 0.0;
  {
    const nabla::NoGradGuard no_grad;
    w.sub_(w.grad() * 0.01);
    b.sub_(b.grad() * 0.01);
    const Tensor after = nabla::relu(nabla::matmul(x, w) + b).pow(2.0).mean();
    loss_after = after.item();
    fmt::print("loss after one SGD step = {:.6f} (recorded a graph: {})\n", loss_after,
               after.requires_grad());
  }
  return report.passed && loss_after < loss.item() ? 0 : 1;
}
