// The fused optimizer updates (optim/fused.cpp) against a plain double-precision loop written here,
// for every optimizer and option combination, float32 and float64, over sizes around the vector
// widths and the parallel grain; bit-identical at 1, 2 and 3 threads; a non-contiguous parameter
// (updated through a contiguous copy) and a contiguous one agree bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/optim.h"
#include "tensor/kernels/loops.h"
#include "tests/support/reference.h"
#include "tests/support/thread_count_guard.h"

namespace nabla::optim {
namespace {

using testing::diff::Rng;

enum class Kind { Sgd, Rmsprop, Adam, AdamW, Adagrad };

struct Config {
  Kind kind;
  double learning_rate;
  double weight_decay = 0.0;
  double momentum = 0.0;  // SGD and RMSprop
  double dampening = 0.0;
  bool nesterov = false;
  bool centered = false;
  double epsilon = 1e-7;  // RMSprop, Adam, Adagrad
  bool amsgrad = false;
  double initial_accumulator = 0.1;

  [[nodiscard]] std::string name() const {
    const char* names[] = {"SGD", "RMSprop", "Adam", "AdamW", "Adagrad"};
    return fmt::format(
        "{} wd={} momentum={} dampening={} nesterov={} centered={} amsgrad={} acc0={}",
        names[static_cast<int>(kind)], weight_decay, momentum, dampening, nesterov, centered,
        amsgrad, initial_accumulator);
  }
};

std::vector<Config> all_configs() {
  std::vector<Config> out;
  for (const double wd : {0.0, 0.1}) {
    out.push_back({.kind = Kind::Sgd, .learning_rate = 0.05, .weight_decay = wd});
    out.push_back({.kind = Kind::Sgd, .learning_rate = 0.05, .weight_decay = wd, .momentum = 0.9});
    out.push_back({.kind = Kind::Sgd,
                   .learning_rate = 0.05,
                   .weight_decay = wd,
                   .momentum = 0.9,
                   .nesterov = true});
    out.push_back({.kind = Kind::Sgd,
                   .learning_rate = 0.05,
                   .weight_decay = wd,
                   .momentum = 0.8,
                   .dampening = 0.3});
    for (const bool centered : {false, true}) {
      for (const double momentum : {0.0, 0.9}) {
        // NOTE: centered, v - a^2 cancels when a coordinate's gradients are nearly equal; a
        // larger eps keeps the comparison with the double loop well conditioned.
        out.push_back({.kind = Kind::Rmsprop,
                       .learning_rate = 0.01,
                       .weight_decay = wd,
                       .momentum = momentum,
                       .centered = centered,
                       .epsilon = centered ? 1e-3 : 1e-7});
      }
    }
    for (const bool amsgrad : {false, true}) {
      out.push_back(
          {.kind = Kind::Adam, .learning_rate = 0.01, .weight_decay = wd, .amsgrad = amsgrad});
      out.push_back(
          {.kind = Kind::AdamW, .learning_rate = 0.01, .weight_decay = wd, .amsgrad = amsgrad});
    }
    for (const double acc0 : {0.1, 0.0}) {
      out.push_back({.kind = Kind::Adagrad,
                     .learning_rate = 0.01,
                     .weight_decay = wd,
                     .initial_accumulator = acc0});
    }
  }
  return out;
}

std::unique_ptr<Optimizer> make(const Config& c, std::vector<Tensor> params) {
  switch (c.kind) {
    case Kind::Sgd:
      return std::make_unique<SGD>(std::move(params), SgdOptions{.learning_rate = c.learning_rate,
                                                                 .momentum = c.momentum,
                                                                 .dampening = c.dampening,
                                                                 .nesterov = c.nesterov,
                                                                 .weight_decay = c.weight_decay});
    case Kind::Rmsprop:
      return std::make_unique<RMSprop>(std::move(params),
                                       RmspropOptions{.learning_rate = c.learning_rate,
                                                      .epsilon = c.epsilon,
                                                      .momentum = c.momentum,
                                                      .centered = c.centered,
                                                      .weight_decay = c.weight_decay});
    case Kind::Adam:
      return std::make_unique<Adam>(std::move(params), AdamOptions{.learning_rate = c.learning_rate,
                                                                   .epsilon = c.epsilon,
                                                                   .amsgrad = c.amsgrad,
                                                                   .weight_decay = c.weight_decay});
    case Kind::AdamW:
      return std::make_unique<AdamW>(std::move(params),
                                     AdamWOptions{.learning_rate = c.learning_rate,
                                                  .epsilon = c.epsilon,
                                                  .amsgrad = c.amsgrad,
                                                  .weight_decay = c.weight_decay});
    case Kind::Adagrad:
      return std::make_unique<Adagrad>(
          std::move(params), AdagradOptions{.learning_rate = c.learning_rate,
                                            .initial_accumulator_value = c.initial_accumulator,
                                            .epsilon = c.epsilon,
                                            .weight_decay = c.weight_decay});
  }
  return nullptr;
}

// The documented formulas (optim/*.h) in double, one coordinate at a time; s0..s2 are the state
// slots in the optimizer's order.
struct Reference {
  std::vector<double> p, s0, s1, s2;
  int64_t t = 0;
};

void reference_step(const Config& c, Reference& r, const std::vector<double>& grad) {
  ++r.t;
  const double lr = c.learning_rate;
  const auto n = r.p.size();
  if (r.t == 1) {
    const double fill = c.kind == Kind::Adagrad ? c.initial_accumulator : 0.0;
    r.s0.assign(n, fill);
    r.s1.assign(n, 0.0);
    r.s2.assign(n, 0.0);
  }
  for (size_t i = 0; i < n; ++i) {
    double& p = r.p[i];
    double g = grad[i];
    switch (c.kind) {
      case Kind::Sgd: {
        g += c.weight_decay * p;
        double d = g;
        if (c.momentum != 0.0) {
          double& buf = r.s0[i];
          buf = r.t == 1 ? g : c.momentum * buf + (1.0 - c.dampening) * g;
          d = c.nesterov ? g + c.momentum * buf : buf;
        }
        p -= lr * d;
        break;
      }
      case Kind::Rmsprop: {
        const double rho = 0.9;
        g += c.weight_decay * p;
        double& v = r.s0[i];
        v = rho * v + (1.0 - rho) * g * g;
        double den = v + c.epsilon;
        if (c.centered) {
          double& a = r.s1[i];
          a = rho * a + (1.0 - rho) * g;
          den = v - a * a + c.epsilon;
        }
        const double inc = lr * g / std::sqrt(den);
        if (c.momentum > 0.0) {
          double& b = r.s2[i];
          b = c.momentum * b + inc;
          p -= b;
        } else {
          p -= inc;
        }
        break;
      }
      case Kind::Adam:
      case Kind::AdamW: {
        const double beta1 = 0.9;
        const double beta2 = 0.999;
        if (c.kind == Kind::AdamW) {
          p *= 1.0 - lr * c.weight_decay;
        } else {
          g += c.weight_decay * p;
        }
        double& m = r.s0[i];
        double& v = r.s1[i];
        m = beta1 * m + (1.0 - beta1) * g;
        v = beta2 * v + (1.0 - beta2) * g * g;
        double v_used = v;
        if (c.amsgrad) {
          r.s2[i] = std::max(r.s2[i], v);
          v_used = r.s2[i];
        }
        const auto t = static_cast<double>(r.t);
        const double c1 = 1.0 - std::pow(beta1, t);
        const double c2 = 1.0 - std::pow(beta2, t);
        p -= lr / c1 * m / (std::sqrt(v_used) / std::sqrt(c2) + c.epsilon);
        break;
      }
      case Kind::Adagrad: {
        g += c.weight_decay * p;
        double& acc = r.s0[i];
        acc += g * g;
        p -= lr * g / std::sqrt(acc + c.epsilon);
        break;
      }
    }
  }
}

// Which state slots the configuration uses, by the optimizer's names.
std::vector<std::pair<std::string, int>> used_slots(const Config& c) {
  switch (c.kind) {
    case Kind::Sgd:
      if (c.momentum != 0.0) return {{"momentum_buffer", 0}};
      return {};
    case Kind::Rmsprop: {
      std::vector<std::pair<std::string, int>> out{{"velocity", 0}};
      if (c.centered) out.emplace_back("average_gradient", 1);
      if (c.momentum > 0.0) out.emplace_back("momentum", 2);
      return out;
    }
    case Kind::Adam:
    case Kind::AdamW: {
      std::vector<std::pair<std::string, int>> out{{"m", 0}, {"v", 1}};
      if (c.amsgrad) out.emplace_back("v_max", 2);
      return out;
    }
    case Kind::Adagrad: return {{"accumulator", 0}};
  }
  return {};
}

// n values in [-1, 1), rounded to `dtype` (the reference starts from the same numbers).
std::vector<double> draw(Rng& rng, int64_t n, DType dtype) {
  std::vector<double> out(static_cast<size_t>(n));
  for (double& x : out) {
    x = rng.uniform(-1.0, 1.0);
    if (dtype == kFloat32) x = static_cast<double>(static_cast<float>(x));
  }
  return out;
}

constexpr int kSteps = 3;

std::vector<int64_t> sweep_sizes() {
  const int64_t grain = kernels::detail::kParallelGrain;
  std::vector<int64_t> sizes = testing::diff::special_sizes(520);
  for (const int64_t s : {grain - 1, grain, grain + 1}) sizes.push_back(s);
  return sizes;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& expected, double tol,
                  const std::string& context) {
  ASSERT_EQ(got.size(), expected.size()) << context;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - expected[i]) <= tol * (1.0 + std::abs(expected[i]))) continue;
    ADD_FAILURE() << context << ": element " << i << " is " << got[i] << ", expected "
                  << expected[i];
    if (++reported == 3) return;
  }
}

TEST(FusedUpdate, MatchesDoubleLoopForEveryOptimizerOptionSizeAndDtype) {
  int64_t cases = 0;
  uint64_t seed = 0;
  for (const Config& c : all_configs()) {
    for (const DType dtype : {kFloat32, kFloat64}) {
      const double tol = dtype == kFloat32 ? 2e-5 : 1e-12;
      for (const int64_t n : sweep_sizes()) {
        Rng rng(++seed);
        Reference ref{.p = draw(rng, n, dtype)};
        Tensor w = tensor(ref.p, {n}, dtype).requires_grad_();
        const std::unique_ptr<Optimizer> optimizer = make(c, {w});
        for (int s = 0; s < kSteps; ++s) {
          const std::vector<double> grad = draw(rng, n, dtype);
          w.set_grad(tensor(grad, {n}, dtype));
          optimizer->step();
          reference_step(c, ref, grad);
        }
        const std::string context =
            fmt::format("{} {} n={} seed={}", c.name(), dtype_name(dtype), n, seed);
        expect_close(w.to_vector<double>(), ref.p, tol, context);
        const std::vector<double>* slots[] = {&ref.s0, &ref.s1, &ref.s2};
        for (const auto& [name, index] : used_slots(c)) {
          expect_close(optimizer->state(0, name).to_vector<double>(),
                       *slots[static_cast<size_t>(index)], tol,
                       fmt::format("{} state {}", context, name));
        }
        ++cases;
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  testing::diff::report_cases("fused optimizer updates", cases);
}

// Three steps of `c` on a parameter of n elements drawn from `seed`: the parameter and its state.
std::vector<Tensor> run(const Config& c, int64_t n, DType dtype, uint64_t seed) {
  Rng rng(seed);
  Tensor w = tensor(draw(rng, n, dtype), {n}, dtype).requires_grad_();
  const std::unique_ptr<Optimizer> optimizer = make(c, {w});
  for (int s = 0; s < kSteps; ++s) {
    w.set_grad(tensor(draw(rng, n, dtype), {n}, dtype));
    optimizer->step();
  }
  std::vector<Tensor> out{w.detach()};
  for (const auto& [name, index] : used_slots(c)) out.push_back(optimizer->state(0, name));
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous();
  const Tensor cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(),
                     static_cast<size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}

TEST(FusedUpdate, IsBitIdenticalAtOneTwoAndThreeThreads) {
  const nabla::testing::ThreadCountGuard guard;  // also when an ASSERT leaves early
  const int64_t n = 3 * kernels::detail::kParallelGrain + 5;
  for (const Config& c : all_configs()) {
    for (const DType dtype : {kFloat32, kFloat64}) {
      nabla::set_num_threads(1);
      const std::vector<Tensor> one = run(c, n, dtype, 7);
      for (const int threads : {2, 3}) {
        nabla::set_num_threads(threads);
        const std::vector<Tensor> more = run(c, n, dtype, 7);
        ASSERT_EQ(one.size(), more.size());
        for (size_t k = 0; k < one.size(); ++k) {
          EXPECT_TRUE(same_bytes(one[k], more[k]))
              << c.name() << " " << dtype_name(dtype) << " tensor " << k << " at " << threads
              << " threads";
        }
      }
    }
  }
}

// A transposed (non-contiguous) parameter is updated through a contiguous copy; it must round
// exactly like a contiguous parameter, step after step, and be written back in place.
TEST(FusedUpdate, NonContiguousParametersMatchTheirContiguousTwinsBitForBit) {
  for (const Config& c : all_configs()) {
    for (const DType dtype : {kFloat32, kFloat64}) {
      Rng rng(11);
      const Tensor base = tensor(draw(rng, 45, dtype), {9, 5}, dtype);
      Tensor strided = base.transpose(0, 1).requires_grad_();
      ASSERT_FALSE(strided.is_contiguous());
      Tensor dense = base.transpose(0, 1).contiguous().requires_grad_();
      const std::unique_ptr<Optimizer> a = make(c, {strided});
      const std::unique_ptr<Optimizer> b = make(c, {dense});
      for (int s = 0; s < kSteps; ++s) {
        const Tensor grad = tensor(draw(rng, 45, dtype), {5, 9}, dtype);
        strided.set_grad(grad);
        dense.set_grad(grad);
        a->step();
        b->step();
        EXPECT_TRUE(same_bytes(strided, dense)) << c.name() << " " << dtype_name(dtype);
      }
      for (const auto& [name, index] : used_slots(c)) {
        EXPECT_TRUE(same_bytes(a->state(0, name), b->state(0, name)))
            << c.name() << " " << dtype_name(dtype) << " state " << name;
      }
    }
  }
}

TEST(FusedUpdate, TakesAnExpandedGradient) {
  // sum(w) gives an expanded (stride 0) gradient of ones; the fused loop reads a contiguous copy.
  Tensor w = tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
  SGD sgd({w}, {.learning_rate = 0.5, .momentum = 0.5});
  w.set_grad(tensor({1.0}, kFloat64).expand({3}));
  sgd.step();
  w.set_grad(tensor({2.0}, kFloat64).expand({3}));
  sgd.step();
  // buf = 1, p -= 0.5; buf = 0.5 * 1 + 2 = 2.5, p -= 1.25.
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{-0.75, 0.25, 1.25}));
}

TEST(FusedUpdate, TakesAGradientSharingTheParametersStorage) {
  Tensor w = tensor({1.0, -2.0, 4.0}, kFloat64).requires_grad_();
  Adagrad adagrad({w}, {.learning_rate = 0.5, .initial_accumulator_value = 0.0, .epsilon = 0.0});
  w.set_grad(w.detach());  // g = p: each coordinate moves by lr * sign(p)
  adagrad.step();
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{0.5, -1.5, 3.5}));
}

TEST(FusedUpdate, BumpsTheParametersVersion) {
  Tensor w = tensor({1.0, 2.0}, kFloat32).requires_grad_();
  Adam adam({w});
  const uint64_t before = w.version();
  w.set_grad(tensor({1.0, 1.0}, kFloat32));
  adam.step();
  EXPECT_GT(w.version(), before);
}

}  // namespace
}  // namespace nabla::optim
