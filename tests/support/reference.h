// Support for the differential kernel sweeps: seeded random shapes that hit the special sizes
// (0, 1, primes, 2^k-1, 2^k, 2^k+1 around the kernels' blocks), inputs in several memory layouts,
// a strided reader into double that shares no code with the kernels, tolerance checks that name
// the case, and the thread-count check (bit-identical bytes at 1 and 2 threads).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "nabla.h"
#include "tensor/kernels/kernels.h"
#include "tests/support/thread_count_guard.h"

#if defined(__SANITIZE_ADDRESS__)
#define NABLA_DIFF_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NABLA_DIFF_SANITIZED 1
#endif
#endif

namespace nabla::testing::diff {

// ---- case counts ----

// Cases for a family: `normal` in a plain build, a quarter under the sanitizers (at least 20);
// NABLA_DIFF_CASES=N overrides both.
inline int64_t case_count(int64_t normal) {
  if (const char* env = std::getenv("NABLA_DIFF_CASES")) {
    const int64_t n = std::atoll(env);
    if (n > 0) return n;
  }
#ifdef NABLA_DIFF_SANITIZED
  return std::max<int64_t>(20, normal / 4);
#else
  return normal;
#endif
}

// NABLA_DIFF_SEED=S runs only the case with seed S (to reproduce a reported failure);
// NABLA_DIFF_VERBOSE=1 prints each case's seed before it runs (to find a crashing case).
inline bool selected(uint64_t seed) {
  if (const char* verbose = std::getenv("NABLA_DIFF_VERBOSE")) {
    if (*verbose == '1') std::cout << "[diff] case seed " << seed << std::endl;
  }
  if (const char* env = std::getenv("NABLA_DIFF_SEED")) {
    return std::strtoull(env, nullptr, 0) == seed;
  }
  return true;
}

inline bool sanitized() {
#ifdef NABLA_DIFF_SANITIZED
  return true;
#else
  return false;
#endif
}

// Prints and records the number of cases a family ran (the figure quoted in notes).
inline void report_cases(const std::string& family, int64_t cases) {
  ::testing::Test::RecordProperty("cases", std::to_string(cases));
  std::cout << "[diff] " << family << ": " << cases << " cases\n";
}

// ---- random numbers (std::mt19937_64 is specified bit for bit; no std:: distributions) ----

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  // Uniform in [0, n), n > 0 (the modulo bias is irrelevant here).
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  int64_t range(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }  // [lo, hi]
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  bool chance(double p) { return uniform() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(below(static_cast<int64_t>(v.size())))];
  }

 private:
  std::mt19937_64 engine_;
};

// The sizes worth hitting up to `max`: 0, 1, small primes, 2^k-1, 2^k, 2^k+1, and b-1, b, b+1
// for each kernel block size b in `blocks`.
inline std::vector<int64_t> special_sizes(int64_t max, const std::vector<int64_t>& blocks = {}) {
  std::vector<int64_t> out = {0, 1, 2, 3, 5, 7, 11, 13, 17, 31, 37, 61, 97, 127, 251};
  for (int64_t p = 2; p <= max + 1; p *= 2) {
    out.push_back(p - 1);
    out.push_back(p);
    out.push_back(p + 1);
  }
  for (const int64_t b : blocks) {
    out.push_back(b - 1);
    out.push_back(b);
    out.push_back(b + 1);
  }
  std::vector<int64_t> kept;
  for (const int64_t s : out) {
    if (s >= 0 && s <= max) kept.push_back(s);
  }
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  return kept;
}

// One extent in [min, max]: a special size half of the time, else uniform.
inline int64_t draw_size(Rng& rng, int64_t min, int64_t max,
                         const std::vector<int64_t>& blocks = {}) {
  if (rng.chance(0.5)) {
    std::vector<int64_t> specials;
    for (const int64_t s : special_sizes(max, blocks)) {
      if (s >= min) specials.push_back(s);
    }
    if (!specials.empty()) return rng.pick(specials);
  }
  return rng.range(min, max);
}

// A shape of rank in [min_rank, max_rank] whose numel stays <= max_numel: extents are drawn
// (zero allowed when allow_zero) and shrunk until the product fits.
inline Shape draw_shape(Rng& rng, int64_t min_rank, int64_t max_rank, int64_t max_extent,
                        int64_t max_numel, bool allow_zero = true,
                        const std::vector<int64_t>& blocks = {}) {
  const int64_t rank = rng.range(min_rank, max_rank);
  Shape shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t e = draw_size(rng, allow_zero ? 0 : 1, max_extent, blocks);
    // Zeros are rare, so most cases still compute something.
    if (e == 0 && !rng.chance(0.3)) e = 1 + rng.below(4);
    shape.push_back(e);
  }
  auto numel = [&] {
    int64_t n = 1;
    for (const int64_t e : shape) n *= e;
    return n;
  };
  while (numel() > max_numel) {
    size_t biggest = 0;
    for (size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] > shape[biggest]) biggest = d;
    }
    shape[biggest] = std::max<int64_t>(1, shape[biggest] / 2 + (rng.chance(0.5) ? 1 : 0));
  }
  return shape;
}

inline int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (const int64_t e : shape) n *= e;
  return n;
}

inline std::string shape_string(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t d = 0; d < shape.size(); ++d) os << (d ? ", " : "") << shape[d];
  os << "]";
  return os.str();
}

// ---- layouts ----

enum class Layout { Contiguous, Transposed, Sliced, Offset, Expanded, TransposedSliced };

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Sliced: return "step-sliced";
    case Layout::Offset: return "offset";
    case Layout::Expanded: return "expanded";
    case Layout::TransposedSliced: return "transposed+sliced";
  }
  return "?";
}

inline Layout draw_layout(Rng& rng, bool allow_expanded = true) {
  static const std::vector<Layout> all = {
      Layout::Contiguous, Layout::Contiguous, Layout::Transposed,      Layout::Sliced,
      Layout::Offset,     Layout::Expanded,   Layout::TransposedSliced};
  for (;;) {
    const Layout l = rng.pick(all);
    if (allow_expanded || l != Layout::Expanded) return l;
  }
}

// Element offset (into storage) of the row-major logical index `flat` of t.
inline int64_t storage_index(const Tensor& t, int64_t flat) {
  int64_t offset = t.storage_offset();
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    const int64_t extent = t.shape()[static_cast<size_t>(d)];
    offset += (flat % extent) * t.strides()[static_cast<size_t>(d)];
    flat /= extent;
  }
  return offset;
}

// Reads any tensor into row-major doubles straight from its storage and strides.
inline std::vector<double> read(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<double> out(static_cast<size_t>(n));
  const void* base = t.storage()->data();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = storage_index(t, i);
    double v = 0;
    switch (t.dtype()) {
      case DType::Float32: v = static_cast<const float*>(base)[at]; break;
      case DType::Float64: v = static_cast<const double*>(base)[at]; break;
      case DType::Int64: v = static_cast<double>(static_cast<const int64_t*>(base)[at]); break;
    }
    out[static_cast<size_t>(i)] = v;
  }
  return out;
}

// Writes row-major `values` through t's strides (later writes win on expanded dims).
inline void write(const Tensor& t, const std::vector<double>& values) {
  void* base = t.storage()->data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t at = storage_index(t, i);
    const double v = values[static_cast<size_t>(i)];
    switch (t.dtype()) {
      case DType::Float32: static_cast<float*>(base)[at] = static_cast<float>(v); break;
      case DType::Float64: static_cast<double*>(base)[at] = v; break;
      case DType::Int64: static_cast<int64_t*>(base)[at] = static_cast<int64_t>(v); break;
    }
  }
}

// Every storage element set to NaN (float) or a large sentinel (int64): a kernel that reads
// outside its view then shows it.
inline void poison(const Tensor& base) {
  const int64_t n = static_cast<int64_t>(base.storage()->nbytes() / dtype_size(base.dtype()));
  void* data = base.storage()->data();
  for (int64_t i = 0; i < n; ++i) {
    switch (base.dtype()) {
      case DType::Float32:
        static_cast<float*>(data)[i] = std::numeric_limits<float>::quiet_NaN();
        break;
      case DType::Float64:
        static_cast<double*>(data)[i] = std::numeric_limits<double>::quiet_NaN();
        break;
      case DType::Int64: static_cast<int64_t*>(data)[i] = int64_t{1} << 40; break;
    }
  }
}

using ValueFn = std::function<double(Rng&)>;

inline ValueFn uniform_values(double lo, double hi) {
  return [lo, hi](Rng& rng) { return rng.uniform(lo, hi); };
}
// Values from a small set (ties are common): multiples of 0.5 in [lo, hi].
inline ValueFn tie_values(int64_t lo, int64_t hi) {
  return [lo, hi](Rng& rng) { return 0.5 * static_cast<double>(rng.range(2 * lo, 2 * hi)); };
}

// A tensor of `shape` and `dtype` laid out as `layout` (falling back to contiguous where the
// layout does not apply, e.g. 0-d), its values drawn by `values` (rounded to dtype). The storage
// outside the view is NaN.
inline Tensor make_input(Rng& rng, const Shape& shape, DType dtype, Layout layout,
                         const ValueFn& values) {
  const auto rank = static_cast<int64_t>(shape.size());
  Tensor t;
  switch (layout) {
    case Layout::Transposed:
    case Layout::TransposedSliced: {
      if (rank < 2) break;
      // A random permutation of the dims (not the identity when avoidable).
      std::vector<int64_t> perm(static_cast<size_t>(rank));
      for (int64_t d = 0; d < rank; ++d) perm[static_cast<size_t>(d)] = d;
      for (int64_t d = rank - 1; d > 0; --d) {
        std::swap(perm[static_cast<size_t>(d)], perm[static_cast<size_t>(rng.below(d + 1))]);
      }
      bool identity = true;
      for (int64_t d = 0; d < rank; ++d) identity = identity && perm[static_cast<size_t>(d)] == d;
      if (identity) std::swap(perm[0], perm[static_cast<size_t>(rank - 1)]);
      Shape physical(static_cast<size_t>(rank));
      for (int64_t d = 0; d < rank; ++d) {
        physical[static_cast<size_t>(d)] = shape[static_cast<size_t>(perm[static_cast<size_t>(d)])];
      }
      const int64_t step = layout == Layout::TransposedSliced ? 2 : 1;
      Shape allocated = physical;
      allocated.back() = physical.back() * step + 1;
      Tensor base = Tensor::empty(allocated, dtype);
      poison(base);
      Tensor view = kernels::slice(base, -1, 1, 1 + physical.back() * step, step);
      std::vector<int64_t> inverse(static_cast<size_t>(rank));
      for (int64_t d = 0; d < rank; ++d) {
        inverse[static_cast<size_t>(perm[static_cast<size_t>(d)])] = d;
      }
      t = kernels::permute(view, inverse);
      break;
    }
    case Layout::Sliced: {
      if (rank < 1) break;
      const int64_t dim = rng.below(rank);
      const int64_t step = rng.range(2, 3);
      Shape allocated = shape;
      allocated[static_cast<size_t>(dim)] = shape[static_cast<size_t>(dim)] * step + 1;
      Tensor base = Tensor::empty(allocated, dtype);
      poison(base);
      t = kernels::slice(base, dim, 1, 1 + shape[static_cast<size_t>(dim)] * step, step);
      break;
    }
    case Layout::Offset: {
      const int64_t pad = rng.range(1, 17);
      Tensor base = Tensor::empty({numel_of(shape) + pad}, dtype);
      poison(base);
      t = kernels::view(kernels::slice(base, 0, pad, std::nullopt, 1), shape);
      break;
    }
    case Layout::Expanded: {
      if (rank < 1) break;
      Shape small = shape;
      bool any = false;
      for (size_t d = 0; d < small.size(); ++d) {
        if (small[d] > 1 && rng.chance(0.5)) {
          small[d] = 1;
          any = true;
        }
      }
      if (!any) break;
      Tensor base = Tensor::empty(small, dtype);
      t = kernels::expand(base, shape);
      break;
    }
    case Layout::Contiguous: break;
  }
  if (!t.defined()) t = Tensor::empty(shape, dtype);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (double& x : v) x = values(rng);
  write(t, v);
  return t;
}

// ---- comparisons ----

inline double eps_of(DType dtype) {
  return dtype == kFloat32 ? static_cast<double>(std::numeric_limits<float>::epsilon())
                           : std::numeric_limits<double>::epsilon();
}

// Collects mismatches of one case and reports at most a few of them with the case's context.
class Checker {
 public:
  explicit Checker(std::string context) : context_(std::move(context)) {}

  // |actual - expected| <= tol, NaN matches NaN, infinities must match exactly.
  void value(int64_t at, double actual, double expected, double tol) {
    bool ok = false;
    if (std::isnan(expected)) {
      ok = std::isnan(actual);
    } else if (std::isinf(expected)) {
      ok = actual == expected;
    } else {
      ok = std::abs(actual - expected) <= tol;
    }
    if (!ok) fail(at, actual, expected, tol);
  }

  void shape(const Shape& actual, const Shape& expected) {
    if (actual != expected) {
      ADD_FAILURE() << context_ << ": shape " << shape_string(actual) << ", expected "
                    << shape_string(expected);
      bad_ = true;
    }
  }

  void dtype(DType actual, DType expected) {
    if (actual != expected) {
      ADD_FAILURE() << context_ << ": dtype " << dtype_name(actual) << ", expected "
                    << dtype_name(expected);
      bad_ = true;
    }
  }

  // Element-wise comparison of a whole result; `tol` per element.
  void all(const Tensor& actual, const Shape& shape, const std::vector<double>& expected,
           const std::vector<double>& tol) {
    this->shape(actual.shape(), shape);
    if (bad_) return;
    const std::vector<double> got = read(actual);
    for (size_t i = 0; i < got.size(); ++i)
      value(static_cast<int64_t>(i), got[i], expected[i], tol[i]);
  }

  [[nodiscard]] bool failed() const { return bad_; }
  [[nodiscard]] const std::string& context() const { return context_; }

 private:
  void fail(int64_t at, double actual, double expected, double tol) {
    bad_ = true;
    if (++reported_ > 3) return;
    std::ostringstream os;
    os.precision(17);
    os << context_ << ": element " << at << " is " << actual << ", expected " << expected
       << " (|diff| " << std::abs(actual - expected) << " > tol " << tol << ")";
    ADD_FAILURE() << os.str();
  }

  std::string context_;
  bool bad_ = false;
  int reported_ = 0;
};

// Runs `op` at 1 and at 2 OpenMP threads and expects the same bytes; returns the 2-thread result.
inline Tensor run_both_thread_counts(const std::function<Tensor()>& op,
                                     const std::string& context) {
  Tensor one;
  Tensor two;
  {
    const ThreadCountGuard guard;  // also when op throws
    nabla::set_num_threads(1);
    one = kernels::contiguous(op());
    nabla::set_num_threads(2);
    two = kernels::contiguous(op());
  }
  if (one.shape() != two.shape() || one.dtype() != two.dtype() ||
      std::memcmp(one.raw_data(), two.raw_data(),
                  static_cast<size_t>(one.numel()) * dtype_size(one.dtype())) != 0) {
    ADD_FAILURE() << context << ": results differ between 1 and 2 threads";
  }
  return two;
}

// The same for an op with several results (e.g. a value and its gradients).
inline std::vector<Tensor> run_both_thread_counts_all(
    const std::function<std::vector<Tensor>()>& op, const std::string& context) {
  std::vector<Tensor> one;
  std::vector<Tensor> two;
  {
    const ThreadCountGuard guard;  // also when op throws
    nabla::set_num_threads(1);
    one = op();
    nabla::set_num_threads(2);
    two = op();
  }
  for (size_t i = 0; i < one.size() && i < two.size(); ++i) {
    if (!one[i].defined() || !two[i].defined()) continue;
    const Tensor x = kernels::contiguous(one[i]);
    const Tensor y = kernels::contiguous(two[i]);
    if (x.shape() != y.shape() || x.dtype() != y.dtype() ||
        std::memcmp(x.raw_data(), y.raw_data(),
                    static_cast<size_t>(x.numel()) * dtype_size(x.dtype())) != 0) {
      ADD_FAILURE() << context << ": result " << i << " differs between 1 and 2 threads";
    }
  }
  return two;
}

// Stops a family after this many failing cases, so one bug does not flood the log.
constexpr int kMaxFailingCases = 12;

}  // namespace nabla::testing::diff
