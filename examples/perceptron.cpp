// Perceptrons and activation functions, after "Deep Learning from Scratch" chapters 2 and 3: logic
// gates with fixed weights, XOR as two layers, activation curves, and learning the gates.
#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "examples/common.h"
#include "nabla.h"

namespace {

using nabla::Tensor;
namespace plot = nabla::train::plot;

// The four inputs in the book's order: (0,0), (1,0), (0,1), (1,1).
Tensor gate_inputs() { return nabla::tensor({{0.0, 0.0}, {1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}); }

// A perceptron: 1 if x @ w + b > 0 else 0, for every row of x [N, 2] at once; w is [2, 1].
Tensor perceptron(const Tensor& x, const Tensor& w, double b) {
  return (nabla::matmul(x, w) + b > 0.0).to(nabla::kFloat32).reshape({x.size(0)});
}
Tensor perceptron(const Tensor& x, double w1, double w2, double b) {
  return perceptron(x, nabla::tensor(std::vector<double>{w1, w2}, {2, 1}), b);
}

// The book's hand-picked weights; any (w1, w2, b) on the right side of the separating line works.
Tensor and_gate(const Tensor& x) { return perceptron(x, 0.5, 0.5, -0.7); }
Tensor nand_gate(const Tensor& x) { return perceptron(x, -0.5, -0.5, 0.7); }
Tensor or_gate(const Tensor& x) { return perceptron(x, 0.5, 0.5, -0.2); }
// XOR is not linearly separable, so no single perceptron computes it; two layers do:
// XOR(x) = AND(NAND(x), OR(x)).
Tensor xor_gate(const Tensor& x) { return and_gate(nabla::stack({nand_gate(x), or_gate(x)}, 1)); }

void print_truth_tables() {
  const Tensor x = gate_inputs();
  const std::vector<std::pair<std::string, Tensor>> gates = {
      {"AND", and_gate(x)}, {"NAND", nand_gate(x)}, {"OR", or_gate(x)}, {"XOR", xor_gate(x)}};
  fmt::print(
      "== Perceptron gates (AND w=(0.5,0.5) b=-0.7, NAND w=(-0.5,-0.5) b=0.7, "
      "OR w=(0.5,0.5) b=-0.2; XOR = AND(NAND, OR)) ==\n x1 x2 |");
  for (const auto& [name, out] : gates) fmt::print(" {:>4}", name);
  fmt::print("\n-------+---------------------\n");
  const std::vector<float> inputs = x.to_vector<float>();
  for (int64_t i = 0; i < 4; ++i) {
    fmt::print("  {:.0f}  {:.0f} |", inputs[static_cast<size_t>(2 * i)],
               inputs[static_cast<size_t>(2 * i + 1)]);
    for (const auto& [name, out] : gates) fmt::print(" {:>4.0f}", out[i].item());
    fmt::print("\n");
  }
}

// The step function of the perceptron, as a float 0/1 tensor.
Tensor step_function(const Tensor& x) { return (x > 0.0).to(nabla::kFloat32); }

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void activations(const std::filesystem::path& out) {
  const Tensor x = nabla::arange(-5.0, 5.0, 0.1, nabla::kFloat32);  // 100 points, as in the book
  const Tensor step = step_function(x);
  const Tensor sigmoid = nabla::sigmoid(x);
  const Tensor relu = nabla::relu(x);
  const Tensor tanh = nabla::tanh(x);

  fmt::print("\n== Activation functions ==\n");
  const Tensor probe = nabla::tensor({-2.0, -1.0, 0.0, 1.0, 2.0});
  const std::vector<std::pair<std::string, Tensor>> rows = {{"x", probe},
                                                            {"step", step_function(probe)},
                                                            {"sigmoid", nabla::sigmoid(probe)},
                                                            {"relu", nabla::relu(probe)},
                                                            {"tanh", nabla::tanh(probe)}};
  for (const auto& [name, t] : rows) {
    fmt::print("{:>8}:", name);
    for (const double v : values(t)) fmt::print(" {:>8.4f}", v);
    fmt::print("\n");
  }
  fmt::print("arange(-5, 5, 0.1): {} points; sigmoid from {:.4f} to {:.4f}\n", x.size(0),
             values(sigmoid).front(), values(sigmoid).back());
  // Softmax: the book's example, and its stability at large inputs (naive exp overflows there).
  const Tensor a = nabla::tensor({0.3, 2.9, 4.0});
  const Tensor big = nabla::tensor({1010.0, 1000.0, 990.0});
  fmt::print("softmax([0.3, 2.9, 4.0]) = {}  (sums to {:.4f})\n", nabla::softmax(a, 0),
             nabla::softmax(a, 0).sum().item());
  fmt::print("softmax([1010, 1000, 990]) = {}  (no overflow: max is subtracted first)\n",
             nabla::softmax(big, 0));

  const std::vector<double> xs = values(x);
  // d f / dx at every x by autograd: the backward of sum(f(x)) is f'(x) elementwise.
  const auto gradient = [&](Tensor (*f)(const Tensor&)) {
    Tensor leaf = x.detach().clone().requires_grad_();
    f(leaf).sum().backward();
    return values(leaf.grad());
  };
  plot::Figure figure(3, 420.0, 320.0, "Activation functions on arange(-5, 5, 0.1)");
  plot::LineChart squashing{
      "step, sigmoid, tanh",
      "x",
      "f(x)",
      {plot::Series{"step", xs, values(step)}, plot::Series{"sigmoid", xs, values(sigmoid)},
       plot::Series{"tanh", xs, values(tanh)}}};
  squashing.y_min = -1.1;
  squashing.y_max = 1.1;
  figure.add(squashing);
  figure.add(
      plot::LineChart{"relu", "x", "f(x)", {plot::Series{"relu", xs, values(relu), "#d62728"}}});
  figure.add(plot::LineChart{"derivatives (autograd)",
                             "x",
                             "f'(x)",
                             {plot::Series{"sigmoid'", xs, gradient(nabla::sigmoid), "#ff7f0e"},
                              plot::Series{"tanh'", xs, gradient(nabla::tanh), "#2ca02c"},
                              plot::Series{"relu'", xs, gradient(nabla::relu), "#d62728"}}});
  const std::filesystem::path svg = out / "activations.svg";
  figure.save(svg.string());
  fmt::print("wrote {}\n", svg.string());
}

// Rosenblatt's rule, one sample at a time: w += eta * (t - y) * x, b += eta * (t - y). It
// converges on linearly separable data (AND, OR) and never settles on XOR.
std::vector<double> learn_gate(const std::string& name, const Tensor& targets, int64_t max_epochs) {
  constexpr double kEta = 0.1;
  const Tensor x = gate_inputs();
  Tensor w = nabla::zeros({2, 1});
  double b = 0.0;
  std::vector<double> errors_per_epoch;
  for (int64_t epoch = 1; epoch <= max_epochs; ++epoch) {
    int64_t errors = 0;
    for (int64_t i = 0; i < x.size(0); ++i) {
      // The same perceptron() as the final check, so that a weight vector that lands exactly on
      // the decision boundary is judged the same way during and after learning.
      const Tensor xi = x.slice(0, i, i + 1);  // [1, 2]
      const double y = perceptron(xi, w, b).item();
      const double t = targets[i].item();
      if (y != t) {
        w.add_(xi.reshape({2, 1}), kEta * (t - y));
        b += kEta * (t - y);
        ++errors;
      }
    }
    errors_per_epoch.push_back(static_cast<double>(errors));
    if (errors == 0) break;
  }
  const std::vector<float> wv = w.to_vector<float>();
  const Tensor learned = perceptron(x, w, b);
  const bool converged = errors_per_epoch.back() == 0.0;
  fmt::print("{:>4}: {} after {} epoch(s): w = ({:.2f}, {:.2f}), b = {:.2f}, outputs {}\n", name,
             converged ? "converged" : "NOT converged", errors_per_epoch.size(), wv[0], wv[1], b,
             learned);
  return errors_per_epoch;
}

// A sigmoid neuron p = sigmoid(x @ w + b) trained by full-batch gradient descent on the binary
// cross-entropy, with the gradients from autograd. Returns the loss at every step.
std::vector<double> train_sigmoid_neuron(const std::string& name, const Tensor& targets) {
  constexpr double kLearningRate = 1.0;
  constexpr int64_t kSteps = 1000;
  const Tensor x = gate_inputs();
  const Tensor t = targets.reshape({4, 1});
  Tensor w = nabla::zeros({2, 1}).requires_grad_();
  Tensor b = nabla::zeros({1}).requires_grad_();
  std::vector<double> losses;
  for (int64_t step = 0; step < kSteps; ++step) {
    const Tensor logits = nabla::matmul(x, w) + b;
    // On logits: the cross-entropy stays finite as the outputs approach 0 and 1.
    const Tensor loss = nabla::nn::binary_crossentropy(logits, t, /*from_logits=*/true);
    loss.backward();
    losses.push_back(loss.item());
    {
      // The update itself must not be recorded in the graph.
      const nabla::NoGradGuard no_grad;
      w.sub_(w.grad() * kLearningRate);
      b.sub_(b.grad() * kLearningRate);
    }
    w.set_grad(Tensor());
    b.set_grad(Tensor());
  }
  const nabla::NoGradGuard no_grad;
  const Tensor p = nabla::sigmoid(nabla::matmul(x, w) + b).reshape({4});
  const std::vector<float> wv = w.to_vector<float>();
  fmt::print(
      "{:>4}: loss {:.4f} -> {:.4f} in {} steps, w = ({:.2f}, {:.2f}), b = {:.2f}\n"
      "      p = {}  rounded {}\n",
      name, losses.front(), losses.back(), kSteps, wv[0], wv[1], b.item(), p,
      step_function(p - 0.5));
  return losses;
}

std::vector<double> iota(size_t n, double first) {
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = first + static_cast<double>(i);
  return out;
}

void learning(const std::filesystem::path& out) {
  const Tensor and_targets = nabla::tensor({0.0, 0.0, 0.0, 1.0});
  const Tensor or_targets = nabla::tensor({0.0, 1.0, 1.0, 1.0});
  const Tensor xor_targets = nabla::tensor({0.0, 1.0, 1.0, 0.0});

  fmt::print("\n== Perceptron learning rule (eta 0.1, from w = 0, b = 0) ==\n");
  const std::vector<double> and_errors = learn_gate("AND", and_targets, 20);
  const std::vector<double> or_errors = learn_gate("OR", or_targets, 20);
  const std::vector<double> xor_errors = learn_gate("XOR", xor_targets, 20);

  fmt::print("\n== Sigmoid neuron, gradient descent with autograd (lr 1.0) ==\n");
  const std::vector<double> and_loss = train_sigmoid_neuron("AND", and_targets);
  const std::vector<double> or_loss = train_sigmoid_neuron("OR", or_targets);
  const std::vector<double> xor_loss = train_sigmoid_neuron("XOR", xor_targets);
  fmt::print("      (XOR stays at log 2 = {:.4f}: one neuron draws one line)\n", std::log(2.0));

  plot::Figure figure(2, 460.0, 320.0, "Learning logic gates");
  figure.add(plot::LineChart{
      "perceptron rule: misclassified per epoch",
      "epoch",
      "errors",
      {plot::Series{"AND", iota(and_errors.size(), 1), and_errors, "", 2.0, 1.0, true},
       plot::Series{"OR", iota(or_errors.size(), 1), or_errors, "", 2.0, 1.0, true},
       plot::Series{"XOR", iota(xor_errors.size(), 1), xor_errors, "", 2.0, 1.0, true}}});
  figure.add(plot::LineChart{"sigmoid neuron: cross-entropy",
                             "step",
                             "loss",
                             {plot::Series{"AND", iota(and_loss.size(), 0), and_loss},
                              plot::Series{"OR", iota(or_loss.size(), 0), or_loss},
                              plot::Series{"XOR", iota(xor_loss.size(), 0), xor_loss}}});
  const std::filesystem::path svg = out / "learning.svg";
  figure.save(svg.string());
  fmt::print("wrote {}\n", svg.string());
}

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args(argc, argv, {{"out", "perceptron_out"}},
                            "perceptron: gates, activation functions and the perceptron rule");
  const std::filesystem::path out = args.str("out");
  std::filesystem::create_directories(out);
  print_truth_tables();
  activations(out);
  learning(out);
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "perceptron: {}\n", e.what());
  return 1;
}
