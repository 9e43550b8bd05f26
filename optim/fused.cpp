// Fused optimizer updates: one pass per parameter, options hoisted out of the inner loops (each
// combination is its own loop, selected once per chunk), AVX2/AVX-512 clones, nabla::parallel_for
// in fixed chunks above the elementwise grain. NOTE: built with -ffp-contract=off
// (optim/CMakeLists.txt): each line below rounds like the tensor op it stands for.
#include "optim/fused.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "tensor/dtype.h"
#include "tensor/kernels/loops.h"
#include "tensor/kernels/simd.h"
#include "tensor/parallel_for.h"

namespace nabla::optim::fused {

// The loops live outside the anonymous namespace: GCC's target_clones resolvers want external
// functions.
namespace detail {

// The elements of one update from element `begin` on: the parameter, its gradient and the state
// tensors in the order the update function takes them (nullptr for a state an option leaves out).
template <typename T>
struct Data {
  T* param;
  const T* grad;
  std::array<T*, 3> state;

  [[nodiscard]] Data from(int64_t begin) const {
    Data out{param + begin, grad + begin, state};
    for (T*& s : out.state) s = s != nullptr ? s + begin : nullptr;
    return out;
  }
};

// Calls body(std::true_type{}) or body(std::false_type{}): a run-time option becomes a template
// argument, so that each combination of options gets its own loop with no branch inside.
template <typename Body>
[[gnu::always_inline]] inline void with_flag(bool flag, const Body& body) {
  if (flag) {
    body(std::true_type{});
  } else {
    body(std::false_type{});
  }
}

// ---- SGD -----------------------------------------------------------------------------------

template <typename T, bool kDecay, bool kMomentum, bool kFirstStep, bool kNesterov>
[[gnu::always_inline]] inline void sgd_loop(const SgdUpdate& u, T* __restrict p,
                                            const T* __restrict g, T* __restrict buf, int64_t n) {
  const auto weight_decay = static_cast<T>(u.weight_decay);
  const auto momentum = static_cast<T>(u.momentum);
  const auto keep = static_cast<T>(1.0 - u.dampening);
  const auto minus_lr = static_cast<T>(-u.learning_rate);
  NABLA_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kDecay) d = d + p[i] * weight_decay;
    if constexpr (kMomentum) {
      T b = d;
      if constexpr (!kFirstStep) b = buf[i] * momentum + d * keep;
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

template <typename T>
[[gnu::always_inline]] inline void sgd_range_of(const SgdUpdate& u, const Data<T>& d, int64_t n) {
  with_flag(u.weight_decay != 0.0, [&](auto decay) {
    with_flag(u.momentum != 0.0, [&](auto momentum) {
      with_flag(u.first_step, [&](auto first_step) {
        with_flag(u.nesterov, [&](auto nesterov) {
          sgd_loop<T, decay, momentum, first_step, nesterov>(u, d.param, d.grad, d.state[0], n);
        });
      });
    });
  });
}

// ---- RMSprop -------------------------------------------------------------------------------

template <typename T, bool kDecay, bool kCentered, bool kMomentum>
[[gnu::always_inline]] inline void rmsprop_loop(const RmspropOptions& u, T* __restrict p,
                                                const T* __restrict g, T* __restrict v,
                                                T* __restrict avg, T* __restrict mom, int64_t n) {
  const auto lr = static_cast<T>(u.learning_rate);
  const auto rho = static_cast<T>(u.rho);
  const auto one_minus_rho = static_cast<T>(1.0 - u.rho);
  const auto eps = static_cast<T>(u.epsilon);
  const auto momentum = static_cast<T>(u.momentum);
  const auto weight_decay = static_cast<T>(u.weight_decay);
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

template <typename T>
[[gnu::always_inline]] inline void rmsprop_range_of(const RmspropOptions& u, const Data<T>& d,
                                                    int64_t n) {
  with_flag(u.weight_decay != 0.0, [&](auto decay) {
    with_flag(u.centered, [&](auto centered) {
      with_flag(u.momentum > 0.0, [&](auto momentum) {
        rmsprop_loop<T, decay, centered, momentum>(u, d.param, d.grad, d.state[0], d.state[1],
                                                   d.state[2], n);
      });
    });
  });
}

// ---- Adam / AdamW --------------------------------------------------------------------------

template <typename T, bool kL2, bool kDecoupled, bool kAmsgrad>
[[gnu::always_inline]] inline void adam_loop(const AdamUpdate& u, T* __restrict p,
                                             const T* __restrict g, T* __restrict m,
                                             T* __restrict v, T* __restrict v_max, int64_t n) {
  const auto beta1 = static_cast<T>(u.beta1);
  const auto one_minus_beta1 = static_cast<T>(1.0 - u.beta1);
  const auto beta2 = static_cast<T>(u.beta2);
  const auto one_minus_beta2 = static_cast<T>(1.0 - u.beta2);
  const auto eps = static_cast<T>(u.epsilon);
  const auto weight_decay = static_cast<T>(u.weight_decay);                          // L2
  const auto decay_factor = static_cast<T>(1.0 - u.learning_rate * u.weight_decay);  // AdamW
  const auto sqrt_correction2 = static_cast<T>(std::sqrt(u.bias_correction2));
  const auto step = static_cast<T>(-u.learning_rate / u.bias_correction1);
  NABLA_IVDEP
  for (int64_t i = 0; i < n; ++i) {
    T pi = p[i];
    T gi = g[i];
    if constexpr (kDecoupled) pi = pi * decay_factor;
    if constexpr (kL2) gi = gi + pi * weight_decay;
    const T mi = m[i] * beta1 + gi * one_minus_beta1;
    m[i] = mi;
    T vi = v[i] * beta2 + (gi * gi) * one_minus_beta2;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      const T old = v_max[i];
      // maximum() of the tensor ops: NaN in either propagates.
      vi = (old != old || old > vi) ? old : vi;
      v_max[i] = vi;
    }
    const T den = std::sqrt(vi) / sqrt_correction2 + eps;
    p[i] = pi + (mi / den) * step;
  }
}

template <typename T>
[[gnu::always_inline]] inline void adam_range_of(const AdamUpdate& u, const Data<T>& d, int64_t n) {
  const bool decay = u.weight_decay != 0.0;
  with_flag(decay && !u.decoupled, [&](auto l2) {
    with_flag(decay && u.decoupled, [&](auto decoupled) {
      with_flag(u.amsgrad, [&](auto amsgrad) {
        adam_loop<T, l2, decoupled, amsgrad>(u, d.param, d.grad, d.state[0], d.state[1], d.state[2],
                                             n);
      });
    });
  });
}

// ---- Adagrad -------------------------------------------------------------------------------

template <typename T, bool kDecay>
[[gnu::always_inline]] inline void adagrad_loop(const AdagradOptions& u, T* __restrict p,
                                                const T* __restrict g, T* __restrict acc,
                                                int64_t n) {
  const auto lr = static_cast<T>(u.learning_rate);
  const auto eps = static_cast<T>(u.epsilon);
  const auto weight_decay = static_cast<T>(u.weight_decay);
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
[[gnu::always_inline]] inline void adagrad_range_of(const AdagradOptions& u, const Data<T>& d,
                                                    int64_t n) {
  with_flag(u.weight_decay != 0.0,
            [&](auto decay) { adagrad_loop<T, decay>(u, d.param, d.grad, d.state[0], n); });
}

// One update over n elements, per dtype, also compiled for AVX2 and AVX-512. NABLA_FLATTEN: the
// flag dispatch and its loops must be inlined into each clone.
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const SgdUpdate& u, const Data<float>& d,
                                                         int64_t n) {
  sgd_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const SgdUpdate& u, const Data<double>& d,
                                                         int64_t n) {
  sgd_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const RmspropOptions& u,
                                                         const Data<float>& d, int64_t n) {
  rmsprop_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const RmspropOptions& u,
                                                         const Data<double>& d, int64_t n) {
  rmsprop_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const AdamUpdate& u, const Data<float>& d,
                                                         int64_t n) {
  adam_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const AdamUpdate& u, const Data<double>& d,
                                                         int64_t n) {
  adam_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const AdagradOptions& u,
                                                         const Data<float>& d, int64_t n) {
  adagrad_range_of(u, d, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void update_range(const AdagradOptions& u,
                                                         const Data<double>& d, int64_t n) {
  adagrad_range_of(u, d, n);
}

}  // namespace detail

namespace {

// One fused update of `param` (contiguous) from `grad`, writing it and `states`: the dtype's
// update_range over fixed chunks of the grain (on the calling thread below it, else on
// parallel_for's pool; updates are elementwise, so the split never changes a result), then the
// versions of the written tensors bumped.
template <typename Update>
void run(const Update& u, const Tensor& param, const Tensor& grad,
         std::initializer_list<const Tensor*> states) {
  // The gradient is read while the others are written: an expanded or transposed gradient, or one
  // sharing storage with a written tensor, is read from a contiguous copy.
  bool copy = !grad.is_contiguous() || grad.storage() == param.storage();
  for (const Tensor* t : states) copy = copy || (t->defined() && t->storage() == grad.storage());
  const Tensor g = copy ? grad.clone() : grad;
  visit_floating(param.dtype(), [&](auto zero) {
    using T = decltype(zero);
    detail::Data<T> data{.param = param.data_ptr<T>(), .grad = g.data_ptr<T>(), .state = {}};
    size_t k = 0;
    for (const Tensor* t : states) data.state[k++] = t->defined() ? t->data_ptr<T>() : nullptr;
    constexpr int64_t kGrain = kernels::detail::kParallelGrain;
    const int64_t n = param.numel();
    if (n < kGrain) {
      if (n > 0) detail::update_range(u, data, n);
      return;
    }
    const int64_t chunks = (n + kGrain - 1) / kGrain;
    nabla::parallel_for(chunks, [&](int64_t chunk) {
      const int64_t begin = chunk * kGrain;
      detail::update_range(u, data.from(begin), std::min(n, begin + kGrain) - begin);
    });
  });
  param.bump_version();
  for (const Tensor* t : states) {
    if (t->defined()) t->bump_version();
  }
}

}  // namespace

void sgd(const SgdUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& buffer) {
  run(u, param, grad, {&buffer});
}

void rmsprop(const RmspropOptions& u, const Tensor& param, const Tensor& grad,
             const Tensor& velocity, const Tensor& average_gradient, const Tensor& momentum) {
  run(u, param, grad, {&velocity, &average_gradient, &momentum});
}

void adam(const AdamUpdate& u, const Tensor& param, const Tensor& grad, const Tensor& m,
          const Tensor& v, const Tensor& v_max) {
  run(u, param, grad, {&m, &v, &v_max});
}

void adagrad(const AdagradOptions& u, const Tensor& param, const Tensor& grad,
             const Tensor& accumulator) {
  run(u, param, grad, {&accumulator});
}

}  // namespace nabla::optim::fused
