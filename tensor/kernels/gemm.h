// Dense matrix multiply on raw row-major buffers: the hot spot under matmul, Dense and conv.
#pragma once

#include <cstdint>

namespace nabla::kernels {

// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
// op(A) = A (an m x k buffer with row stride lda) or, when trans_a, A^T where A is k x m.
// op(B) likewise. With beta == 0, C is written without being read (it may hold garbage or NaN).
// Deterministic: the result is bit-identical for any OMP_NUM_THREADS.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t alpha,
          const int64_t* a, int64_t lda, const int64_t* b, int64_t ldb, int64_t beta, int64_t* c,
          int64_t ldc);

}  // namespace nabla::kernels
