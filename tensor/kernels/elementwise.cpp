// Elementwise kernels: unary, binary with broadcasting and type promotion, clamp and where.
#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>

#include "tensor/kernels/exp.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/loops.h"
#include "tensor/kernels/simd.h"

namespace nabla::kernels {
namespace {

std::string_view binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::Eq: return "eq";
    case BinaryOp::Ne: return "ne";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
  }
  return "binary";
}

bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

template <typename T>
T int_pow(T base, T exponent) {
  if constexpr (std::is_integral_v<T>) {
    if (exponent < 0) return base == 1 ? 1 : (base == -1 ? (exponent % 2 == 0 ? 1 : -1) : 0);
    T result = 1;
    while (exponent > 0) {
      if ((exponent & 1) != 0) result *= base;
      base *= base;
      exponent >>= 1;
    }
    return result;
  } else {
    return std::pow(base, exponent);
  }
}

// Calls body(functor) with the scalar function of `op`, so each op gets its own inlined loop.
template <typename T, typename Body>
void with_arithmetic_functor(BinaryOp op, Body&& body) {
  switch (op) {
    case BinaryOp::Add: return body([](T x, T y) { return x + y; });
    case BinaryOp::Sub: return body([](T x, T y) { return x - y; });
    case BinaryOp::Mul: return body([](T x, T y) { return x * y; });
    case BinaryOp::Div: return body([](T x, T y) { return x / y; });
    case BinaryOp::Pow: return body([](T x, T y) { return int_pow(x, y); });
    // NOTE: x != x is true only for NaN, so NaN propagates like in PyTorch.
    case BinaryOp::Maximum: return body([](T x, T y) { return (x != x || x > y) ? x : y; });
    case BinaryOp::Minimum: return body([](T x, T y) { return (x != x || x < y) ? x : y; });
    default: return;
  }
}

template <typename T, typename Body>
void with_comparison_functor(BinaryOp op, Body&& body) {
  switch (op) {
    case BinaryOp::Eq: return body([](T x, T y) { return static_cast<int64_t>(x == y); });
    case BinaryOp::Ne: return body([](T x, T y) { return static_cast<int64_t>(x != y); });
    case BinaryOp::Lt: return body([](T x, T y) { return static_cast<int64_t>(x < y); });
    case BinaryOp::Le: return body([](T x, T y) { return static_cast<int64_t>(x <= y); });
    case BinaryOp::Gt: return body([](T x, T y) { return static_cast<int64_t>(x > y); });
    case BinaryOp::Ge: return body([](T x, T y) { return static_cast<int64_t>(x >= y); });
    default: return;
  }
}

// How the two inputs of a row with a unit-stride output advance: both one element at a time, or
// one of them a broadcast scalar.
enum class RowForm { Both, ScalarY, ScalarX };

template <typename Out, typename In, typename Fn>
inline void binary_row_of(RowForm form, const In* x, const In* y, Out* o, int64_t n, Fn fn) {
  switch (form) {
    case RowForm::Both:
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(fn(x[i], y[i]));
      return;
    case RowForm::ScalarY: {
      const In yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(fn(x[i], yv));
      return;
    }
    case RowForm::ScalarX: {
      const In xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Out>(fn(xv, y[i]));
      return;
    }
  }
}

template <typename T>
inline void arithmetic_row_of(BinaryOp op, RowForm form, const T* x, const T* y, T* o, int64_t n) {
  with_arithmetic_functor<T>(op, [&](auto fn) { binary_row_of(form, x, y, o, n, fn); });
}

template <typename T>
inline void comparison_row_of(BinaryOp op, RowForm form, const T* x, const T* y, int64_t* o,
                              int64_t n) {
  with_comparison_functor<T>(op, [&](auto fn) { binary_row_of(form, x, y, o, n, fn); });
}

// The rows of the float ops, also compiled for AVX2 and AVX-512. Every op here is a single IEEE
// operation (or a compare and select), correctly rounded in every clone and with nothing for the
// compiler to contract into an FMA, so each clone gives the bits of the scalar loops below.
// NABLA_FLATTEN: the op switch and its loops must be inlined into each clone, not called as one
// baseline copy (which the compiler otherwise does for a switch this size).
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void arithmetic_row(BinaryOp op, RowForm form,
                                                           const float* x, const float* y, float* o,
                                                           int64_t n) {
  arithmetic_row_of(op, form, x, y, o, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void arithmetic_row(BinaryOp op, RowForm form,
                                                           const double* x, const double* y,
                                                           double* o, int64_t n) {
  arithmetic_row_of(op, form, x, y, o, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void comparison_row(BinaryOp op, RowForm form,
                                                           const float* x, const float* y,
                                                           int64_t* o, int64_t n) {
  comparison_row_of(op, form, x, y, o, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void comparison_row(BinaryOp op, RowForm form,
                                                           const double* x, const double* y,
                                                           int64_t* o, int64_t n) {
  comparison_row_of(op, form, x, y, o, n);
}

// out[i] = f(a[i], b[i]) over out's geometry, with a and b given as broadcast strides. Rows with
// a unit-stride output and unit-stride or broadcast inputs go to `wide(form, x, y, o, n)` when
// one is given (nullptr: the scalar loops).
template <typename Out, typename In, typename Fn, typename Wide = std::nullptr_t>
void binary_loop(const Tensor& out, const Tensor& a, const Shape& a_strides, const Tensor& b,
                 const Shape& b_strides, Fn fn, Wide wide = nullptr) {
  const auto it = detail::coalesce<3>(out.shape(), {out.strides(), a_strides, b_strides});
  Out* po = out.data_ptr<Out>();
  const In* pa = a.data_ptr<In>();
  const In* pb = b.data_ptr<In>();
  detail::for_each_row(
      it, [=](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
        Out* o = po + off[0];
        const In* x = pa + off[1];
        const In* y = pb + off[2];
        std::optional<RowForm> form;
        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
          form = RowForm::Both;
        } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
          form = RowForm::ScalarY;
        } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
          form = RowForm::ScalarX;
        }
        if (!form) {
          for (int64_t i = 0; i < n; ++i) {
            o[i * st[0]] = static_cast<Out>(fn(x[i * st[1]], y[i * st[2]]));
          }
        } else if constexpr (std::is_same_v<Wide, std::nullptr_t>) {
          binary_row_of(*form, x, y, o, n, fn);
        } else {
          wide(*form, x, y, o, n);
        }
      });
}

// Whether an op has the wide rows above: every float op but pow (a libm call).
template <typename T>
constexpr bool has_wide_rows(BinaryOp op) {
  return std::is_floating_point_v<T> && op != BinaryOp::Pow;
}

// binary_loop with the scalar function of `op`, and its wide rows when it has them.
template <typename T>
void binary_dispatch(BinaryOp op, const Tensor& out, const Tensor& a, const Shape& sa,
                     const Tensor& b, const Shape& sb) {
  if (is_comparison(op)) {
    with_comparison_functor<T>(op, [&](auto fn) {
      if constexpr (std::is_floating_point_v<T>) {
        binary_loop<int64_t, T>(out, a, sa, b, sb, fn,
                                [op](RowForm form, const T* x, const T* y, int64_t* o, int64_t n) {
                                  comparison_row(op, form, x, y, o, n);
                                });
      } else {
        binary_loop<int64_t, T>(out, a, sa, b, sb, fn);
      }
    });
    return;
  }
  with_arithmetic_functor<T>(op, [&](auto fn) {
    if constexpr (std::is_floating_point_v<T>) {
      if (has_wide_rows<T>(op)) {
        binary_loop<T, T>(out, a, sa, b, sb, fn,
                          [op](RowForm form, const T* x, const T* y, T* o, int64_t n) {
                            arithmetic_row(op, form, x, y, o, n);
                          });
        return;
      }
    }
    binary_loop<T, T>(out, a, sa, b, sb, fn);
  });
}

template <typename T>
T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// The unary ops that are one IEEE operation or a compare and select: their vector clones give the
// bits of the scalar function.
template <typename T, typename Body>
bool with_exact_unary_functor(UnaryOp op, Body&& body) {
  switch (op) {
    case UnaryOp::Neg: body([](T x) { return -x; }); return true;
    case UnaryOp::Abs: body([](T x) { return x < T(0) ? -x : x; }); return true;
    case UnaryOp::Sign:
      body([](T x) { return static_cast<T>((T(0) < x) - (x < T(0))); });
      return true;
    case UnaryOp::Relu: body([](T x) { return x > T(0) ? x : (x != x ? x : T(0)); }); return true;
    case UnaryOp::Sqrt: body([](T x) { return std::sqrt(x); }); return true;
    default: return false;
  }
}

template <typename T, typename Body>
void with_unary_functor(UnaryOp op, Body&& body) {
  if (with_exact_unary_functor<T>(op, body)) return;
  switch (op) {
    case UnaryOp::Exp: return body([](T x) { return std::exp(x); });
    case UnaryOp::Log: return body([](T x) { return std::log(x); });
    case UnaryOp::Log1p: return body([](T x) { return std::log1p(x); });
    case UnaryOp::Tanh: return body([](T x) { return std::tanh(x); });
    case UnaryOp::Sigmoid: return body([](T x) { return sigmoid_of(x); });
    case UnaryOp::Sin: return body([](T x) { return std::sin(x); });
    case UnaryOp::Cos: return body([](T x) { return std::cos(x); });
    case UnaryOp::Erf: return body([](T x) { return std::erf(x); });
    default: return;
  }
}

template <typename T>
inline void exact_unary_row_of(UnaryOp op, const T* x, T* y, int64_t n) {
  with_exact_unary_functor<T>(op, [&](auto fn) {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(fn(x[i]));
  });
}

NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void exact_unary_row(UnaryOp op, const float* x, float* y,
                                                            int64_t n) {
  exact_unary_row_of(op, x, y, n);
}
NABLA_WIDE_VECTOR_CLONES NABLA_FLATTEN void exact_unary_row(UnaryOp op, const double* x, double* y,
                                                            int64_t n) {
  exact_unary_row_of(op, x, y, n);
}

bool is_exact_unary(UnaryOp op) {
  return with_exact_unary_functor<float>(op, [](auto /*fn*/) {});
}

bool keeps_integers(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Relu;
}

// An array kernel that computes an op faster than `fn` element by element: rows go to it whole,
// and strided elements one at a time, so both give the same bits.
template <typename T>
using RowKernel = void (*)(const T* x, T* y, int64_t n);

template <typename T>
RowKernel<T> row_kernel(UnaryOp op) {
  if constexpr (std::is_same_v<T, float>) {
    if (op == UnaryOp::Exp) return exp_float;
    if (op == UnaryOp::Log) return log_float;
  }
  return nullptr;
}

// y = fn(x) over out's geometry. `row` (see RowKernel) takes every element; else contiguous rows
// go to `wide(x, y, n)` when one is given, which must give fn's bits.
template <typename T, typename Fn, typename Wide = std::nullptr_t>
void unary_loop(const Tensor& out, const Tensor& a, Fn fn, RowKernel<T> row = nullptr,
                Wide wide = nullptr) {
  const auto it = detail::coalesce<2>(out.shape(), {out.strides(), a.strides()});
  T* po = out.data_ptr<T>();
  const T* pa = a.data_ptr<T>();
  detail::for_each_row(
      it, [=](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
        T* o = po + off[0];
        const T* x = pa + off[1];
        if (row != nullptr) {
          if (st[0] == 1 && st[1] == 1) {
            row(x, o, n);
          } else {
            for (int64_t i = 0; i < n; ++i) row(x + i * st[1], o + i * st[0], 1);
          }
        } else if (st[0] == 1 && st[1] == 1) {
          if constexpr (std::is_same_v<Wide, std::nullptr_t>) {
            for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(fn(x[i]));
          } else {
            wide(x, o, n);
          }
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = static_cast<T>(fn(x[i * st[1]]));
        }
      });
}

template <typename T>
inline T relu_backward_one(T g, T x, T slope) {
  return x > T(0) ? g : (slope == T(0) ? T(0) : g * slope);
}

template <typename T>
inline void relu_backward_row_of(const T* g, const T* x, T* o, int64_t n, T slope) {
  if (slope == T(0)) {
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] > T(0) ? g[i] : T(0);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] > T(0) ? g[i] : g[i] * slope;
  }
}

NABLA_WIDE_VECTOR_CLONES void relu_backward_row(const float* g, const float* x, float* o, int64_t n,
                                                float slope) {
  relu_backward_row_of(g, x, o, n, slope);
}
NABLA_WIDE_VECTOR_CLONES void relu_backward_row(const double* g, const double* x, double* o,
                                                int64_t n, double slope) {
  relu_backward_row_of(g, x, o, n, slope);
}

// The composed backwards' arithmetic, one rounding per operation in the same order, so the fused
// pass gives the bits of g * y * (1 - y) and g * (1 - y * y).
template <typename T>
inline T sigmoid_backward_one(T g, T y) {
  return (g * y) * (T(1) - y);
}
// y * y must round before the subtraction, as in the composed expression: C++ lets the compiler
// contract `1 - y * y` into one FMA (GCC does in the AVX2/AVX-512 clones, clang within an
// expression), which would make the bits depend on the CPU.
#if defined(__clang__)
#define NABLA_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#define NABLA_NO_FP_CONTRACT_FN
#else
#define NABLA_NO_FP_CONTRACT
#define NABLA_NO_FP_CONTRACT_FN __attribute__((optimize("fp-contract=off")))
#endif
template <typename T>
NABLA_NO_FP_CONTRACT_FN inline T tanh_backward_one(T g, T y) {
  NABLA_NO_FP_CONTRACT
  return g * (T(1) - y * y);
}

NABLA_WIDE_VECTOR_CLONES void sigmoid_backward_row(const float* g, const float* y, float* o,
                                                   int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = sigmoid_backward_one(g[i], y[i]);
}
NABLA_WIDE_VECTOR_CLONES void sigmoid_backward_row(const double* g, const double* y, double* o,
                                                   int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = sigmoid_backward_one(g[i], y[i]);
}
NABLA_WIDE_VECTOR_CLONES NABLA_NO_FP_CONTRACT_FN void tanh_backward_row(const float* g,
                                                                        const float* y, float* o,
                                                                        int64_t n) {
  NABLA_NO_FP_CONTRACT
  for (int64_t i = 0; i < n; ++i) o[i] = tanh_backward_one(g[i], y[i]);
}
NABLA_WIDE_VECTOR_CLONES NABLA_NO_FP_CONTRACT_FN void tanh_backward_row(const double* g,
                                                                        const double* y, double* o,
                                                                        int64_t n) {
  NABLA_NO_FP_CONTRACT
  for (int64_t i = 0; i < n; ++i) o[i] = tanh_backward_one(g[i], y[i]);
}

// out = one(grad, saved) elementwise for a backward kernel: `row` on contiguous runs, `one` on
// strided ones. grad and saved must have one shape and one floating dtype.
template <typename Row, typename One>
Tensor grad_loop(std::string_view op, const Tensor& grad, const Tensor& saved,
                 std::string_view saved_name, Row row, One one) {
  if (grad.dtype() != saved.dtype() || !is_floating(grad.dtype())) {
    throw error("{}: grad ({}) and {} ({}) must be of one floating dtype", op,
                dtype_name(grad.dtype()), saved_name, dtype_name(saved.dtype()));
  }
  if (grad.shape() != saved.shape()) {
    throw error("{}: grad of shape {} for an {} of shape {}", op, shape_str(grad.shape()),
                saved_name, shape_str(saved.shape()));
  }
  Tensor out = Tensor::empty(saved.shape(), saved.dtype());
  visit_dtype(saved.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const auto it =
          detail::coalesce<3>(out.shape(), {out.strides(), grad.strides(), saved.strides()});
      T* po = out.data_ptr<T>();
      const T* pg = grad.data_ptr<T>();
      const T* px = saved.data_ptr<T>();
      detail::for_each_row(
          it, [=](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
            if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
              row(pg + off[1], px + off[2], po + off[0], n);
              return;
            }
            for (int64_t i = 0; i < n; ++i) {
              po[off[0] + i * st[0]] = one(pg[off[1] + i * st[1]], px[off[2] + i * st[2]]);
            }
          });
    }
  });
  return out;
}

}  // namespace

Tensor scalar_like(const Tensor& like, double value) {
  DType dtype = like.dtype();
  if (dtype == kInt64 && value != std::floor(value)) dtype = kFloat32;
  return scalar_tensor(value, dtype);
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const Shape shape = broadcast_shapes(binary_name(op), a.shape(), b.shape());
  DType common = promote_types(a.dtype(), b.dtype());
  if (op == BinaryOp::Div && common == kInt64) common = kFloat32;
  const Tensor ca = to_dtype(a, common);
  const Tensor cb = to_dtype(b, common);
  Tensor out = Tensor::empty(shape, is_comparison(op) ? kInt64 : common);
  const Shape sa = broadcast_strides(binary_name(op), ca, shape);
  const Shape sb = broadcast_strides(binary_name(op), cb, shape);
  visit_dtype(common, [&](auto tag) { binary_dispatch<decltype(tag)>(op, out, ca, sa, cb, sb); });
  return out;
}

void binary_(BinaryOp op, const Tensor& self, const Tensor& other) {
  const auto name = binary_name(op);
  if (is_comparison(op)) throw error("{}_: comparisons have no in-place form", name);
  if (op == BinaryOp::Div && self.dtype() == kInt64) {
    throw error("div_: an int64 tensor cannot hold the result of true division");
  }
  if (self.dtype() == kInt64 && is_floating(other.dtype())) {
    throw error(
        "{}_: the result type {} cannot be written into an int64 tensor (shape {}) without "
        "truncating; convert with .to() first",
        name, dtype_name(other.dtype()), shape_str(self.shape()));
  }
  check_no_internal_overlap(name, self);
  broadcast_strides(name, other, self.shape());
  Tensor source = to_dtype(other, self.dtype());
  if (source.storage() == self.storage() && !source.is_same(self)) source = clone(source);
  const Shape so = broadcast_strides(name, source, self.shape());
  visit_dtype(self.dtype(), [&](auto tag) {
    binary_dispatch<decltype(tag)>(op, self, self, self.strides(), source, so);
  });
  self.bump_version();
}

Tensor unary(UnaryOp op, const Tensor& a) {
  const Tensor input = (a.dtype() == kInt64 && !keeps_integers(op)) ? to_dtype(a, kFloat32) : a;
  Tensor out = Tensor::empty(input.shape(), input.dtype());
  visit_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    with_unary_functor<T>(op, [&](auto fn) {
      if constexpr (std::is_floating_point_v<T>) {
        if (is_exact_unary(op)) {
          unary_loop<T>(out, input, fn, nullptr,
                        [op](const T* x, T* y, int64_t n) { exact_unary_row(op, x, y, n); });
          return;
        }
      }
      unary_loop<T>(out, input, fn, row_kernel<T>(op));
    });
  });
  return out;
}

Tensor relu_backward(const Tensor& grad, const Tensor& input, double negative_slope) {
  return grad_loop(
      "relu_backward", grad, input, "input",
      [negative_slope](const auto* g, const auto* x, auto* o, int64_t n) {
        using T = std::remove_cvref_t<decltype(*g)>;
        relu_backward_row(g, x, o, n, static_cast<T>(negative_slope));
      },
      [negative_slope](auto g, auto x) {
        using T = decltype(g);
        return relu_backward_one(g, x, static_cast<T>(negative_slope));
      });
}

Tensor activation_backward(UnaryOp op, const Tensor& grad, const Tensor& output) {
  const auto row = [op](const auto* g, const auto* y, auto* o, int64_t n) {
    if (op == UnaryOp::Sigmoid) {
      sigmoid_backward_row(g, y, o, n);
    } else {
      tanh_backward_row(g, y, o, n);
    }
  };
  const auto one = [op](auto g, auto y) {
    return op == UnaryOp::Sigmoid ? sigmoid_backward_one(g, y) : tanh_backward_one(g, y);
  };
  switch (op) {
    case UnaryOp::Sigmoid: return grad_loop("sigmoid_backward", grad, output, "output", row, one);
    case UnaryOp::Tanh: return grad_loop("tanh_backward", grad, output, "output", row, one);
    default:
      throw error("activation_backward: only sigmoid and tanh have a backward from their output");
  }
}

Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max) {
  if (min && max && *min > *max) throw error("clamp: min {} is greater than max {}", *min, *max);
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T lo = min ? static_cast<T>(*min) : T(0);
    const T hi = max ? static_cast<T>(*max) : T(0);
    const bool has_lo = min.has_value();
    const bool has_hi = max.has_value();
    unary_loop<T>(out, a, [=](T x) {
      if (x != x) return x;
      if (has_lo && x < lo) x = lo;
      if (has_hi && x > hi) x = hi;
      return x;
    });
  });
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  const Shape shape =
      broadcast_shapes("where", broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  const DType common = promote_types(a.dtype(), b.dtype());
  const Tensor ca = to_dtype(a, common);
  const Tensor cb = to_dtype(b, common);
  Tensor out = Tensor::empty(shape, common);
  visit_dtype(common, [&](auto tag) {
    using T = decltype(tag);
    visit_dtype(condition.dtype(), [&](auto cond_tag) {
      using C = decltype(cond_tag);
      const auto it = detail::coalesce<4>(
          shape, {out.strides(), broadcast_strides("where", condition, shape),
                  broadcast_strides("where", ca, shape), broadcast_strides("where", cb, shape)});
      T* po = out.data_ptr<T>();
      const C* pc = condition.data_ptr<C>();
      const T* pa = ca.data_ptr<T>();
      const T* pb = cb.data_ptr<T>();
      detail::for_each_row(
          it, [=](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
            for (int64_t i = 0; i < n; ++i) {
              po[off[0] + i * st[0]] =
                  pc[off[1] + i * st[1]] != C(0) ? pa[off[2] + i * st[2]] : pb[off[3] + i * st[3]];
            }
          });
    });
  });
  return out;
}

}  // namespace nabla::kernels
