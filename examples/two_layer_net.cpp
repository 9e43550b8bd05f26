// "Deep Learning from Scratch"'s TwoLayerNet (784-50-10, sigmoid, softmax with loss), trained by a
// hand-written SGD loop (lr 0.1, batch 100). Its backprop gradient is first compared with the
// numerical gradient, parameter by parameter, as the book's gradient_check.py does.
#include <cmath>
#include <map>

#include "examples/common.h"
#include "nabla.h"

namespace {

using nabla::Tensor;

class TwoLayerNet {
 public:
  TwoLayerNet(int64_t input_size, int64_t hidden_size, int64_t output_size, double weight_init_std,
              nabla::Generator& generator) {
    params_["W1"] =
        nabla::randn({input_size, hidden_size}, nabla::kFloat32, &generator) * weight_init_std;
    params_["b1"] = nabla::zeros({hidden_size});
    params_["W2"] =
        nabla::randn({hidden_size, output_size}, nabla::kFloat32, &generator) * weight_init_std;
    params_["b2"] = nabla::zeros({output_size});
    for (auto& [name, p] : params_) p.requires_grad_();
  }

  [[nodiscard]] Tensor predict(const Tensor& x) const {
    const Tensor z1 = nabla::sigmoid(nabla::matmul(x, params_.at("W1")) + params_.at("b1"));
    return nabla::softmax(nabla::matmul(z1, params_.at("W2")) + params_.at("b2"), 1);
  }

  // The book's cross_entropy_error on the softmax output (its 1e-7 keeps log away from 0).
  [[nodiscard]] Tensor loss(const Tensor& x, const Tensor& t) const {
    const Tensor y = predict(x);
    return -nabla::sum(t * nabla::log(y + 1e-7)) / static_cast<double>(x.size(0));
  }

  [[nodiscard]] double accuracy(const Tensor& x, const Tensor& t) const {
    const nabla::NoGradGuard no_grad;
    return nabla::nn::categorical_accuracy(predict(x), t);
  }

  // Backprop: one backward() fills every parameter's grad().
  std::map<std::string, Tensor> gradient(const Tensor& x, const Tensor& t) {
    for (auto& [name, p] : params_) p.set_grad(Tensor());
    loss(x, t).backward();
    std::map<std::string, Tensor> grads;
    for (auto& [name, p] : params_) grads[name] = p.grad();
    return grads;
  }

  // Central differences of the loss, one element at a time.
  std::map<std::string, Tensor> numerical_gradient(const Tensor& x, const Tensor& t) {
    std::map<std::string, Tensor> grads;
    for (auto& [name, p] : params_) {
      grads[name] = nabla::numerical_gradient([&](const Tensor&) { return loss(x, t).item(); }, p);
    }
    return grads;
  }

  void to(nabla::DType dtype) {
    for (auto& [name, p] : params_) p = p.detach().to(dtype).detach().requires_grad_();
  }

  std::map<std::string, Tensor>& params() { return params_; }

 private:
  std::map<std::string, Tensor> params_;
};

}  // namespace

int main(int argc, char** argv) try {
  using namespace nabla;
  const examples::Args args(
      argc, argv,
      {{"data", data::default_data_dir()},
       {"iters", "10000"},
       {"batch-size", "100"},
       {"learning-rate", "0.1"},
       {"seed", "0"}},
      "two_layer_net: Deep Learning from Scratch's TwoLayerNet with a hand-written SGD loop");
  Generator generator(static_cast<uint64_t>(args.integer("seed")));
  const auto train_split = data::load_mnist(args.str("data"), true);
  const auto test_split = data::load_mnist(args.str("data"), false);
  const Tensor x_train = data::flatten_images(train_split.images);
  const Tensor t_train = data::to_categorical(train_split.labels, 10);
  const Tensor x_test = data::flatten_images(test_split.images);
  const Tensor t_test = data::to_categorical(test_split.labels, 10);

  // Gradient check on three samples, in float64 so that central differences are meaningful.
  {
    TwoLayerNet probe(784, 50, 10, 0.01, generator);
    probe.to(kFloat64);
    const Tensor x = slice(x_train, 0, 0, 3).to(kFloat64);
    const Tensor t = slice(t_train, 0, 0, 3).to(kFloat64);
    auto numerical = probe.numerical_gradient(x, t);
    auto backprop = probe.gradient(x, t);
    fmt::print("Gradient check (mean |backprop - numerical| per parameter):\n");
    for (const auto& [name, g] : backprop) {
      const double diff = mean(abs(g - numerical.at(name))).item();
      fmt::print("  {}: {:.3e}\n", name, diff);
      if (!(diff < 1e-6)) throw error("gradient check failed for {}: {}", name, diff);
    }
  }

  TwoLayerNet network(784, 50, 10, 0.01, generator);
  const int64_t iters = args.integer("iters");
  const int64_t batch_size = args.integer("batch-size");
  const double learning_rate = args.real("learning-rate");
  const int64_t train_size = x_train.size(0);
  const int64_t iter_per_epoch = std::max<int64_t>(train_size / batch_size, 1);
  fmt::print("Training {} iterations of batch {} (lr {}), {} per epoch\n", iters, batch_size,
             learning_rate, iter_per_epoch);
  double recent_loss = 0.0;
  for (int64_t i = 0; i < iters; ++i) {
    // The book samples each batch with replacement (np.random.choice).
    const Tensor batch_mask = randint(0, train_size, {batch_size}, &generator);
    const Tensor x_batch = index_select(x_train, 0, batch_mask);
    const Tensor t_batch = index_select(t_train, 0, batch_mask);
    const Tensor loss = network.loss(x_batch, t_batch);
    for (auto& [name, p] : network.params()) p.set_grad(Tensor());
    loss.backward();
    {
      const NoGradGuard no_grad;
      for (auto& [name, p] : network.params()) p.sub_(p.grad() * learning_rate);
    }
    recent_loss = loss.item();
    if (i % iter_per_epoch == 0 || i + 1 == iters) {
      fmt::print("iter {:5}: loss {:.4f}  train acc {:.4f}  test acc {:.4f}\n", i, recent_loss,
                 network.accuracy(x_train, t_train), network.accuracy(x_test, t_test));
    }
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "two_layer_net: {}\n", e.what());
  return 1;
}
