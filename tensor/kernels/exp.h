// exp and log over contiguous float32 arrays, vectorized, and the softmax rows built on exp. libm's
// expf is a scalar call per element, which kept exp and softmax at a quarter of LibTorch's speed.
#pragma once

#include <cstdint>

namespace nabla::kernels {

// y[i] = exp(x[i]) for i < n (y may be x). Within 1 ulp of the exact value for normal results;
// exact at 0; inf for x > 88.72, 0 below -103.98 (subnormal results in between), -inf gives 0,
// inf gives inf and NaN stays NaN. The bits are the same for any split of the array.
void exp_float(const float* x, float* y, int64_t n);

// y[i] = log(x[i]) for i < n (y may be x): Cephes' logf, within 1 ulp of the exact value
// (subnormal inputs included); log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN.
// The bits are the same for any split of the array.
void log_float(const float* x, float* y, int64_t n);

// softmax (or log_softmax when take_log) of each of `rows` contiguous rows of `inner` floats, x
// into y (not overlapping): exp(x - max) / sum, respectively (x - max) - log(sum), with exp_float's
// exp and the sum of detail::pairwise_sum; a max of +-inf or NaN shifts by 0 instead. The bits do
// not depend on how the rows are split between calls.
void softmax_rows_float(const float* x, float* y, int64_t rows, int64_t inner, bool take_log);

}  // namespace nabla::kernels
