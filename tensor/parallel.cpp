// set_num_threads / get_num_threads: one process-wide count that every parallel region asks for.
#include "tensor/parallel.h"

#include <atomic>

#include "tensor/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nabla {
namespace {
std::atomic<int> configured_threads{0};  // 0: not set, follow OpenMP's default
}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw error("set_num_threads: the number of threads must be >= 1, got {}", n);
  configured_threads.store(n, std::memory_order_relaxed);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int get_num_threads() {
  const int configured = configured_threads.load(std::memory_order_relaxed);
  if (configured > 0) return configured;
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace nabla
