// Built against an installed nabla (find_package(nabla) + nabla::nabla): a tiny graph, backward,
// and a check of the gradient it prints. Exits non-zero when anything is off.
#include <cmath>
#include <cstdio>
#include <vector>

#include "nabla.h"
#include "tensor/tensor.h"  // layer headers resolve against the installed include dir too

int main() {
  // y = sum((x * w + 1)^2), dy/dw = 2 * (x * w + 1) * x
  nabla::Tensor x = nabla::tensor({1.0, 2.0, 3.0});
  nabla::Tensor w = nabla::tensor({0.5, -1.0, 2.0}).requires_grad_();
  nabla::Tensor y = nabla::square(x * w + 1.0).sum();
  y.backward();
  const std::vector<float> grad = w.grad().to_vector<float>();
  fmt::print("y = {}\ndy/dw = {}\n", y.item(), w.grad());
  const float expected[] = {3.0F, -4.0F, 42.0F};
  for (size_t i = 0; i < 3; ++i) {
    if (std::fabs(grad[i] - expected[i]) > 1e-5F) {
      fmt::print(stderr, "consumer: dy/dw[{}] = {}, expected {}\n", i, grad[i], expected[i]);
      return 1;
    }
  }
  fmt::print("consumer: ok\n");
  return 0;
}
