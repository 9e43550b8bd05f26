// The number of threads nabla's kernels use (PyTorch's torch.set_num_threads / get_num_threads).
#pragma once

namespace nabla {

// Every parallel kernel (GEMM, conv, pooling, reductions, elementwise, the fused optimizer
// updates) runs with this many threads, from whichever thread calls it: OpenMP threads, or the
// caller and n - 1 workers of parallel_for's pool (tensor/parallel_for.h; resized at its next
// call). It also calls omp_set_num_threads(n) for the calling thread. Throws nabla::Error unless
// n >= 1.
// Results do not depend on it: kernels split work into chunks that do not depend on the thread
// count and combine them in index order, so any n gives the same bits.
void set_num_threads(int n);
// The value last set, else OpenMP's default (OMP_NUM_THREADS or the cores; 1 without OpenMP).
[[nodiscard]] int get_num_threads();

}  // namespace nabla
