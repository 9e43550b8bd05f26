// nabla::parallel_for: fixed chunks of work on a small persistent thread pool whose caller never
// waits for a thread that has not started (no cliff when another process shares a core).
#pragma once

#include <cstdint>
#include <type_traits>

namespace nabla {

namespace detail {
// The chunk body, type-erased: call(context, chunk).
using ChunkCall = void (*)(const void* context, int64_t chunk);
// Runs chunks [0, chunks) on the pool and the calling thread; false (nothing run) when the caller
// should run them itself: one thread, a nested call, or the pool busy with another thread's call.
bool run_on_pool(int64_t chunks, ChunkCall call, const void* context);
// Whether this thread is running a chunk of a parallel_for call (so a nested call runs inline).
bool in_parallel_for();
}  // namespace detail

// Calls fn(chunk) for every chunk in [0, chunks) exactly once, or fn(first, last) for runs of
// consecutive chunks [first, last) that together cover [0, chunks) exactly once, on up to
// get_num_threads() threads: the calling thread and get_num_threads() - 1 pool workers.
//
// - Chunks are claimed one at a time through an atomic counter, by the caller as well as by the
//   workers, so the caller never waits for a worker that has not claimed one: on a core that
//   another process holds, a late worker finds nothing left and sleeps again. The caller waits
//   only for chunks already running on other threads. Workers spin briefly, then sleep.
// - Which thread runs a chunk varies from call to call; what a chunk computes must not (chunk
//   boundaries are the caller's, independent of the thread count), and per-chunk results must be
//   combined in chunk order, so that results are bit-identical for any number of threads.
// - Runs on the calling thread, in chunk order, with no synchronization: when chunks == 1 or
//   get_num_threads() == 1; for a call from inside a chunk (nested) or an OpenMP parallel region;
//   and while another thread's call holds the pool (it serves one call at a time).
// - An exception thrown by a chunk is rethrown to the caller once every claimed chunk has ended
//   (the first one thrown wins; chunks not yet claimed are then skipped). The pool stays usable.
// - set_num_threads(n) takes effect at the next call (the pool is resized then). A child process
//   made by fork() gets a fresh pool (the parent's workers do not exist there).
template <typename Fn>
void parallel_for(int64_t chunks, const Fn& fn) {
  constexpr bool kRange = std::is_invocable_v<const Fn&, int64_t, int64_t>;
  static_assert(kRange || std::is_invocable_v<const Fn&, int64_t>,
                "parallel_for: fn must take (int64_t chunk) or (int64_t first, int64_t last)");
  if (chunks <= 0) return;
  if (chunks > 1) {
    const detail::ChunkCall call = [](const void* context, int64_t chunk) {
      const Fn& f = *static_cast<const Fn*>(context);
      if constexpr (kRange) {
        f(chunk, chunk + 1);
      } else {
        f(chunk);
      }
    };
    if (detail::run_on_pool(chunks, call, &fn)) return;
  }
  if constexpr (kRange) {
    fn(int64_t{0}, chunks);
  } else {
    for (int64_t chunk = 0; chunk < chunks; ++chunk) fn(chunk);
  }
}

}  // namespace nabla
