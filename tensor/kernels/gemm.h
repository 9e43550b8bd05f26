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

// Implicit GEMM, the core of a stride-1 convolution without an im2col buffer:
//   C[i, j] = sum_p A[i, p] * b[b_offsets[p] + j]   for i < m, j < n,
// A row-major m x k (row stride lda), C row-major (row stride ldc, overwritten, never read). Row p
// of B is the window of b starting at b_offsets[p]; the rows may overlap and are read in place,
// never packed. NOTE: columns are computed in whole vector tiles, so b[b_offsets[p] + j] is read
// for every j < n + kGemmOffsetSlack: the caller provides that much readable slack after the last
// window (its values only reach columns >= n, which are never written).
// Deterministic: each element is a fixed-order sum over p, whatever the machine's thread count.
inline constexpr int64_t kGemmOffsetSlack = 32;
void gemm_offset_b(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                   const int64_t* b_offsets, float* c, int64_t ldc);
void gemm_offset_b(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                   const int64_t* b_offsets, double* c, int64_t ldc);

// Implicit GEMM with A gathered in place, for convolutions whose column matrix is never built:
//   C[i, j] (+)= sum_{p < k} a[a_offsets[i] + k_offsets[p]] * bt[j, p]   for i < m, j < n,
// bt being B transposed, row-major n x k with row stride ldbt. A row is e.g. one output position's
// window (forward) or one (c, kh, kw) tap's plane (weight gradient). With accumulate C += the
// product, else C = the product. Each element is a fixed-order sum over p: deterministic.
void gemm_gather_a(int64_t m, int64_t n, int64_t k, const float* a, const int64_t* a_offsets,
                   const int64_t* k_offsets, const float* bt, int64_t ldbt, float* c, int64_t ldc,
                   bool accumulate);
void gemm_gather_a(int64_t m, int64_t n, int64_t k, const double* a, const int64_t* a_offsets,
                   const int64_t* k_offsets, const double* bt, int64_t ldbt, double* c, int64_t ldc,
                   bool accumulate);

}  // namespace nabla::kernels
