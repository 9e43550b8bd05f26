// Fused optimizer updates: one pass per parameter, options hoisted out of the inner loops (each
// combination is its own loop, selected once per call), AVX2/AVX-512 clones, nabla::parallel_for
// in fixed chunks above the elementwise grain. NOTE: built with -ffp-contract=off
// (optim/CMakeLists.txt): each line below rounds like the tensor op it replaces.
#include "optim/fused.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/loops.h"
#include "tensor/kernels/simd.h"
#include "tensor/parallel_for.h"

namespace nabla::optim::fused {

namespace {

// Runs range(begin, end) over [0, n): on the calling thread below the grain, else in fixed chunks
// of the grain on parallel_for's pool. Updates are elementwise, so the split never changes a
// result.
template <typename Range>
void run_chunks(int64_t n, const Range& range) {
  constexpr int64_t kGrain = kernels::detail::kParallelGrain;
  if (n <= 0) return;
  if (n < kGrain) {
    range(0, n);
    return;
  }
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  nabla::parallel_for(
      chunks, [&](int64_t chunk) { range(chunk * kGrain, std::min(n, (chunk + 1) * kGrain)); });
}

template <typename T>
T* data_of(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

void bump(std::initializer_list<const Tensor*> written) {
  for (const Tensor* t : written) {
    if (t->defined()) t->bump_version();
  }
}

}  // namespace

// The loops live outside the anonymous namespace: GCC's target_clones resolvers want external
// functions.
namespace detail {

// ---- SGD -----------------------------------------------------------------------------------

template <typename T>
struct SgdArgs {
  T* param;
  const T* grad;
  T* buffer;
  T weight_decay;
  T momentum;
  T keep;      // 1 - dampening
  T minus_lr;  // -learning_rate
  bool decay;
  bool use_momentum;
  bool first_step;
  bool nesterov;
};

enum class Momentum { None, First, Running };

template <typename T, bool kDecay, Momentum kMomentum, bool kNesterov>
[[gnu::always_inline]] inline void sgd_loop(T* __restrict p, const T* __restrict g,
                                            T* __restrict buf, int64_t n, const SgdArgs<T>& a) {
  const T weight_decay = a.weight_decay;
  const T momentum = a.momentum;
  const T keep = a.keep;
  const T minus_lr = a.minus_lr;
  NABLA_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kDecay) d = d + p[i] * weight_decay;
    if constexpr (kMomentum != Momentum::None) {
      T b = d;
      if constexpr (kMomentum == Momentum::Running) b = buf[i] * momentum + d * keep;
      buf[i] = b;
      if constexpr (kNesterov) {
        d = d + b * momentum;
      } else {
        d = b;
      }
    }
    p[i] = p[i] + d * minus_lr;
  }
}

template <typename T, bool kDecay>
[[gnu::always_inline]] inline void sgd_momentum(T* __restrict p, const T* __restrict g,
                                                T* __restrict buf, int64_t n, const SgdArgs<T>& a) {
  if (!a.use_momentum) {
    sgd_loop<T, kDecay, Momentum::None, false>(p, g, buf, n, a);
  } else if (a.first_step) {
    if (a.nesterov) {
      sgd_loop<T, kDecay, Momentum::First, true>(p, g, buf, n, a);
    } else {
      sgd_loop<T, kDecay, Momentum::First, false>(p, g, buf, n, a);
    }
  } else if (a.nesterov) {
    sgd_loop<T, kDecay, Momentum::Running, true>(p, g, buf, n, a);
  } else {
    sgd_loop<T, kDecay, Momentum::Running, false>(p, g, buf, n, a);
  }
}

template <typename T>
[[gnu::always_inline]] inline void sgd_range_of(const SgdArgs<T>& a, int64_t begin, int64_t end) {
  T* buf = a.buffer != nullptr ? a.buffer + begin : nullptr;
  if (a.decay) {
    sgd_momentum<T, true>(a.param + begin, a.grad + begin, buf, end - begin, a);
  } else {
    sgd_momentum<T, false>(a.param + begin, a.grad + begin, buf, end - begin, a);
  }
}

NABLA_WIDE_VECTOR_CLONES void sgd_range(const SgdArgs<float>& a, int64_t begin, int64_t end) {
  sgd_range_of(a, begin, end);
}
NABLA_WIDE_VECTOR_CLONES void sgd_range(const SgdArgs<double>& a, int64_t begin, int64_t end) {
  sgd_range_of(a, begin, end);
}

// ---- RMSprop -------------------------------------------------------------------------------

template <typename T>
struct RmspropArgs {
  T* param;
  const T* grad;
  T* velocity;
  T* average;
  T* momentum_buffer;
  T learning_rate;
  T rho;
  T one_minus_rho;
  T epsilon;
  T momentum;
  T weight_decay;
  bool decay;
  bool centered;
  bool use_momentum;
};

template <typename T, bool kDecay, bool kCentered, bool kMomentum>
[[gnu::always_inline]] inline void rmsprop_loop(T* __restrict p, const T* __restrict g,
                                                T* __restrict v, T* __restrict avg,
                                                T* __restrict mom, int64_t n,
                                                const RmspropArgs<T>& a) {
  const T lr = a.learning_rate;
  const T rho = a.rho;
  const T one_minus_rho = a.one_minus_rho;
  const T eps = a.epsilon;
  const T momentum = a.momentum;
  const T weight_decay = a.weight_decay;
  NABLA_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if constexpr (kDecay) gi = gi + p[i] * weight_decay;
    const T vi = v[i] * rho + (gi * gi) * one_minus_rho;
    v[i] = vi;
    T den;
    if constexpr (kCentered) {
      const T ai = avg[i] * rho + gi * one_minus_rho;
      avg[i] = ai;
      den = (vi - ai * ai) + eps;
    } else {
      den = vi + eps;
    }
    const T increment = (gi * lr) / std::sqrt(den);
    if constexpr (kMomentum) {
      const T bi = mom[i] * momentum + increment;
      mom[i] = bi;
      p[i] = p[i] - bi;
    } else {
      p[i] = p[i] - increment;
    }
  }
}

template <typename T, bool kDecay, bool kCentered>
[[gnu::always_inline]] inline void rmsprop_momentum(T* __restrict p, const T* __restrict g,
                                                    T* __restrict v, T* __restrict avg,
                                                    T* __restrict mom, int64_t n,
                                                    const RmspropArgs<T>& a) {
  if (a.use_momentum) {
    rmsprop_loop<T, kDecay, kCentered, true>(p, g, v, avg, mom, n, a);
  } else {
    rmsprop_loop<T, kDecay, kCentered, false>(p, g, v, avg, mom, n, a);
  }
}

template <typename T, bool kDecay>
[[gnu::always_inline]] inline void rmsprop_centered(T* __restrict p, const T* __restrict g,
                                                    T* __restrict v, T* __restrict avg,
                                                    T* __restrict mom, int64_t n,
                                                    const RmspropArgs<T>& a) {
  if (a.centered) {
    rmsprop_momentum<T, kDecay, true>(p, g, v, avg, mom, n, a);
  } else {
    rmsprop_momentum<T, kDecay, false>(p, g, v, avg, mom, n, a);
  }
}

template <typename T>
[[gnu::always_inline]] inline void rmsprop_range_of(const RmspropArgs<T>& a, int64_t begin,
                                                    int64_t end) {
  T* avg = a.average != nullptr ? a.average + begin : nullptr;
  T* mom = a.momentum_buffer != nullptr ? a.momentum_buffer + begin : nullptr;
  if (a.decay) {
    rmsprop_centered<T, true>(a.param + begin, a.grad + begin, a.velocity + begin, avg, mom,
                              end - begin, a);
  } else {
    rmsprop_centered<T, false>(a.param + begin, a.grad + begin, a.velocity + begin, avg, mom,
                               end - begin, a);
  }
}

NABLA_WIDE_VECTOR_CLONES void rmsprop_range(const RmspropArgs<float>& a, int64_t begin,
                                            int64_t end) {
  rmsprop_range_of(a, begin, end);
}
NABLA_WIDE_VECTOR_CLONES void rmsprop_range(const RmspropArgs<double>& a, int64_t begin,
                                            int64_t end) {
  rmsprop_range_of(a, begin, end);
}

// ---- Adam / AdamW --------------------------------------------------------------------------

template <typename T>
struct AdamArgs {
  T* param;
  const T* grad;
  T* m;
  T* v;
  T* v_max;
  T beta1;
  T one_minus_beta1;
  T beta2;
  T one_minus_beta2;
  T epsilon;
  T weight_decay;      // L2
  T decay_factor;      // AdamW: 1 - lr * weight_decay
  T sqrt_correction2;  // sqrt(1 - beta2^t)
  T step;              // -lr / (1 - beta1^t)
  int decay;           // 0 none, 1 L2, 2 decoupled
  bool amsgrad;
};

enum class Decay { None, L2, Decoupled };

template <typename T, Decay kDecay, bool kAmsgrad>
[[gnu::always_inline]] inline void adam_loop(T* __restrict p, const T* __restrict g,
                                             T* __restrict m, T* __restrict v, T* __restrict v_max,
                                             int64_t n, const AdamArgs<T>& a) {
  const T beta1 = a.beta1;
  const T one_minus_beta1 = a.one_minus_beta1;
  const T beta2 = a.beta2;
  const T one_minus_beta2 = a.one_minus_beta2;
  const T eps = a.epsilon;
  const T weight_decay = a.weight_decay;
  const T decay_factor = a.decay_factor;
  const T sqrt_correction2 = a.sqrt_correction2;
  const T step = a.step;
  NABLA_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    T pi = p[i];
    T gi = g[i];
    if constexpr (kDecay == Decay::Decoupled) pi = pi * decay_factor;
    if constexpr (kDecay == Decay::L2) gi = gi + pi * weight_decay;
    const T mi = m[i] * beta1 + gi * one_minus_beta1;
    m[i] = mi;
    T vi = v[i] * beta2 + (gi * gi) * one_minus_beta2;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      const T old = v_max[i];
      // maximum() of the tensor path: NaN in either propagates.
      vi = (old != old || old > vi) ? old : vi;
      v_max[i] = vi;
    }
    const T den = std::sqrt(vi) / sqrt_correction2 + eps;
    p[i] = pi + (mi / den) * step;
  }
}

template <typename T, Decay kDecay>
[[gnu::always_inline]] inline void adam_amsgrad(T* __restrict p, const T* __restrict g,
                                                T* __restrict m, T* __restrict v,
                                                T* __restrict v_max, int64_t n,
                                                const AdamArgs<T>& a) {
  if (a.amsgrad) {
    adam_loop<T, kDecay, true>(p, g, m, v, v_max, n, a);
  } else {
    adam_loop<T, kDecay, false>(p, g, m, v, v_max, n, a);
  }
}

template <typename T>
[[gnu::always_inline]] inline void adam_range_of(const AdamArgs<T>& a, int64_t begin, int64_t end) {
  T* p = a.param + begin;
  const T* g = a.grad + begin;
  T* m = a.m + begin;
  T* v = a.v + begin;
  T* v_max = a.v_max != nullptr ? a.v_max + begin : nullptr;
  const int64_t n = end - begin;
  switch (static_cast<Decay>(a.decay)) {
    case Decay::None: adam_amsgrad<T, Decay::None>(p, g, m, v, v_max, n, a); break;
    case Decay::L2: adam_amsgrad<T, Decay::L2>(p, g, m, v, v_max, n, a); break;
    case Decay::Decoupled: adam_amsgrad<T, Decay::Decoupled>(p, g, m, v, v_max, n, a); break;
  }
}

NABLA_WIDE_VECTOR_CLONES void adam_range(const AdamArgs<float>& a, int64_t begin, int64_t end) {
  adam_range_of(a, begin, end);
}
NABLA_WIDE_VECTOR_CLONES void adam_range(const AdamArgs<double>& a, int64_t begin, int64_t end) {
  adam_range_of(a, begin, end);
}

// ---- Adagrad -------------------------------------------------------------------------------

template <typename T>
struct AdagradArgs {
  T* param;
  const T* grad;
  T* accumulator;
  T learning_rate;
  T epsilon;
  T weight_decay;
  bool decay;
};

template <typename T, bool kDecay>
[[gnu::always_inline]] inline void adagrad_loop(T* __restrict p, const T* __restrict g,
                                                T* __restrict acc, int64_t n,
                                                const AdagradArgs<T>& a) {
  const T lr = a.learning_rate;
  const T eps = a.epsilon;
  const T weight_decay = a.weight_decay;
  NABLA_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if constexpr (kDecay) gi = gi + p[i] * weight_decay;
    const T ai = acc[i] + gi * gi;
    acc[i] = ai;
    p[i] = p[i] - (gi * lr) / std::sqrt(ai + eps);
  }
}

template <typename T>
[[gnu::always_inline]] inline void adagrad_range_of(const AdagradArgs<T>& a, int64_t begin,
                                                    int64_t end) {
  if (a.decay) {
    adagrad_loop<T, true>(a.param + begin, a.grad + begin, a.accumulator + begin, end - begin, a);
  } else {
    adagrad_loop<T, false>(a.param + begin, a.grad + begin, a.accumulator + begin, end - begin, a);
  }
}

NABLA_WIDE_VECTOR_CLONES void adagrad_range(const AdagradArgs<float>& a, int64_t begin,
                                            int64_t end) {
  adagrad_range_of(a, begin, end);
}
NABLA_WIDE_VECTOR_CLONES void adagrad_range(const AdagradArgs<double>& a, int64_t begin,
                                            int64_t end) {
  adagrad_range_of(a, begin, end);
}

}  // namespace detail

bool can_fuse(const Tensor& param) { return param.is_contiguous(); }

Tensor fusable_gradient(const Tensor& grad, std::initializer_list<const Tensor*> written) {
  bool copy = !grad.is_contiguous();
  for (const Tensor* t : written) {
    if (t->defined() && t->storage() == grad.storage()) copy = true;
  }
  if (!copy) return grad;
  return grad.is_contiguous() ? grad.clone() : grad.contiguous();
}

void sgd(const SgdUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& buffer) {
  visit_floating(param.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const detail::SgdArgs<T> args{.param = param.data_ptr<T>(),
                                  .grad = grad.data_ptr<T>(),
                                  .buffer = data_of<T>(buffer),
                                  .weight_decay = static_cast<T>(u.weight_decay),
                                  .momentum = static_cast<T>(u.momentum),
                                  .keep = static_cast<T>(1.0 - u.dampening),
                                  .minus_lr = static_cast<T>(-u.learning_rate),
                                  .decay = u.weight_decay != 0.0,
                                  .use_momentum = u.momentum != 0.0,
                                  .first_step = u.first_step,
                                  .nesterov = u.nesterov};
    run_chunks(param.numel(),
               [&](int64_t begin, int64_t end) { detail::sgd_range(args, begin, end); });
  });
  bump({&param, &buffer});
}

void rmsprop(const RmspropUpdate& u, const Tensor& param, const Tensor& grad,
             const Tensor& velocity, const Tensor& average_gradient, const Tensor& momentum) {
  visit_floating(param.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const detail::RmspropArgs<T> args{.param = param.data_ptr<T>(),
                                      .grad = grad.data_ptr<T>(),
                                      .velocity = velocity.data_ptr<T>(),
                                      .average = data_of<T>(average_gradient),
                                      .momentum_buffer = data_of<T>(momentum),
                                      .learning_rate = static_cast<T>(u.learning_rate),
                                      .rho = static_cast<T>(u.rho),
                                      .one_minus_rho = static_cast<T>(1.0 - u.rho),
                                      .epsilon = static_cast<T>(u.epsilon),
                                      .momentum = static_cast<T>(u.momentum),
                                      .weight_decay = static_cast<T>(u.weight_decay),
                                      .decay = u.weight_decay != 0.0,
                                      .centered = u.centered,
                                      .use_momentum = u.momentum > 0.0};
    run_chunks(param.numel(),
               [&](int64_t begin, int64_t end) { detail::rmsprop_range(args, begin, end); });
  });
  bump({&param, &velocity, &average_gradient, &momentum});
}

void adam(const AdamUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& m,
          const Tensor& v, const Tensor& v_max) {
  detail::Decay decay = detail::Decay::None;
  if (u.weight_decay != 0.0) decay = u.decoupled ? detail::Decay::Decoupled : detail::Decay::L2;
  visit_floating(param.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const detail::AdamArgs<T> args{
        .param = param.data_ptr<T>(),
        .grad = grad.data_ptr<T>(),
        .m = m.data_ptr<T>(),
        .v = v.data_ptr<T>(),
        .v_max = data_of<T>(v_max),
        .beta1 = static_cast<T>(u.beta1),
        .one_minus_beta1 = static_cast<T>(1.0 - u.beta1),
        .beta2 = static_cast<T>(u.beta2),
        .one_minus_beta2 = static_cast<T>(1.0 - u.beta2),
        .epsilon = static_cast<T>(u.epsilon),
        .weight_decay = static_cast<T>(u.weight_decay),
        .decay_factor = static_cast<T>(1.0 - u.learning_rate * u.weight_decay),
        .sqrt_correction2 = static_cast<T>(std::sqrt(u.bias_correction2)),
        .step = static_cast<T>(-u.learning_rate / u.bias_correction1),
        .decay = static_cast<int>(decay),
        .amsgrad = u.amsgrad};
    run_chunks(param.numel(),
               [&](int64_t begin, int64_t end) { detail::adam_range(args, begin, end); });
  });
  bump({&param, &m, &v, &v_max});
}

void adagrad(const AdagradUpdate& u, const Tensor& param, const Tensor& grad,
             const Tensor& accumulator) {
  visit_floating(param.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const detail::AdagradArgs<T> args{.param = param.data_ptr<T>(),
                                      .grad = grad.data_ptr<T>(),
                                      .accumulator = accumulator.data_ptr<T>(),
                                      .learning_rate = static_cast<T>(u.learning_rate),
                                      .epsilon = static_cast<T>(u.epsilon),
                                      .weight_decay = static_cast<T>(u.weight_decay),
                                      .decay = u.weight_decay != 0.0};
    run_chunks(param.numel(),
               [&](int64_t begin, int64_t end) { detail::adagrad_range(args, begin, end); });
  });
  bump({&param, &accumulator});
}

}  // namespace nabla::optim::fused
