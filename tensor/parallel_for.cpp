// The thread pool behind nabla::parallel_for: get_num_threads() - 1 persistent workers, chunks
// claimed through an atomic counter, workers that spin ~50 us and then sleep on a condition
// variable. NOTE: OpenMP's static schedule is what this replaces: there the caller waits at the
// barrier for every thread of the team, and a thread whose core another process holds costs a
// whole scheduler time slice per parallel region (libgomp reads OMP_WAIT_POLICY only at load).
#include "tensor/parallel_for.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tensor/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nabla::detail {
namespace {

// How long a worker spins for the next job before it sleeps, and the caller for chunks running
// on other threads before it sleeps. Short: a worker that sleeps through a job costs nothing but
// its share of the chunks (the caller claims them), while a spinning thread takes the core from
// whatever else could run there (another process, or the caller itself).
constexpr auto kWorkerSpin = std::chrono::microseconds(50);
constexpr auto kCallerSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or `limit` has passed; returns done().
template <typename Done>
bool spin_until(const Done& done, std::chrono::microseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

// True on a pool worker (always) and on a caller while its chunks run: parallel_for from there
// runs inline.
thread_local bool t_in_parallel = false;

class InParallelScope {
 public:
  InParallelScope() { t_in_parallel = true; }
  ~InParallelScope() { t_in_parallel = false; }
  InParallelScope(const InParallelScope&) = delete;
  InParallelScope& operator=(const InParallelScope&) = delete;
};

// One parallel_for call. Shared by the caller and the workers that picked it up: a worker that
// wakes after the call returned still holds it, finds every chunk claimed and never touches
// `context` (which lived on the caller's stack).
class Job {
 public:
  Job(int64_t chunks, ChunkCall call, const void* context)
      : chunks_(chunks), call_(call), context_(context) {}

  // Claims and runs chunks until none is left.
  void work() {
    for (;;) {
      const int64_t chunk = next_.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= chunks_) return;
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          call_(context_, chunk);
        } catch (...) {
          if (!failed_.exchange(true, std::memory_order_relaxed)) error_ = std::current_exception();
        }
      }
      // release: the chunk's writes (and error_) happen before the caller sees the count.
      if (ended_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks_) {
        finished_.store(1, std::memory_order_release);
        finished_.notify_one();
      }
    }
  }

  // After the caller's own work(): waits for the chunks other threads claimed, then rethrows
  // the first exception a chunk threw.
  void wait_and_rethrow() {
    const auto finished = [this] { return finished_.load(std::memory_order_acquire) != 0; };
    if (!spin_until(finished, kCallerSpin)) {
      while (!finished()) finished_.wait(0, std::memory_order_acquire);
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  const int64_t chunks_;
  const ChunkCall call_;
  const void* const context_;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> ended_{0};
  std::atomic<int> finished_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // written once, by the thread that set failed_
};

class Pool {
 public:
  Pool() = default;
  // Never destroyed (see instance()): workers stay blocked until the process ends.
  ~Pool() = delete;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  static Pool& instance();

  // One call at a time; false when another thread's call holds the pool.
  bool try_acquire() { return !busy_.exchange(true, std::memory_order_acquire); }
  void release() { busy_.store(false, std::memory_order_release); }

  // With the pool acquired.
  void run(int64_t chunks, ChunkCall call, const void* context, int workers) {
    resize(workers);
    const auto job = std::make_shared<Job>(chunks, call, context);
    publish(job, static_cast<int>(std::min<int64_t>(chunks - 1, workers)));
    {
      const InParallelScope scope;
      job->work();
    }
    job->wait_and_rethrow();
  }

  std::mutex& mutex() { return mutex_; }

 private:
  void publish(const std::shared_ptr<Job>& job, int wake) {
    int sleeping = 0;
    {
      const std::lock_guard lock(mutex_);
      job_ = job;
      epoch_.fetch_add(1, std::memory_order_release);
      sleeping = sleeping_;
    }
    if (sleeping == 0) return;  // every worker spins and sees the new epoch
    if (wake >= sleeping) {
      wakeup_.notify_all();
    } else {
      for (int i = 0; i < wake; ++i) wakeup_.notify_one();
    }
  }

  void resize(int workers) {
    if (static_cast<int>(workers_.size()) == workers) return;
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wakeup_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
    const uint64_t epoch = epoch_.load(std::memory_order_relaxed);
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this, epoch] { worker(epoch); });
  }

  void worker(uint64_t seen) {
    t_in_parallel = true;
    for (;;) {
      spin_until([&] { return epoch_.load(std::memory_order_acquire) != seen; }, kWorkerSpin);
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex_);
        const auto ready = [&] { return stop_ || epoch_.load(std::memory_order_relaxed) != seen; };
        if (!ready()) {
          ++sleeping_;
          wakeup_.wait(lock, ready);
          --sleeping_;
        }
        if (stop_) return;
        seen = epoch_.load(std::memory_order_relaxed);
        job = job_;
      }
      job->work();
    }
  }

  std::atomic<bool> busy_{false};
  std::vector<std::thread> workers_;  // touched only by the thread that holds busy_
  std::mutex mutex_;                  // guards job_, stop_, sleeping_ and changes of epoch_
  std::condition_variable wakeup_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> epoch_{0};  // bumped for every job
  bool stop_ = false;
  int sleeping_ = 0;
};

std::atomic<Pool*> g_pool{nullptr};
std::once_flag g_pool_once;

// fork() copies only the forking thread: the child gets a fresh pool, and the parent's (whose
// workers do not exist in the child) is dropped without touching its threads. The mutex is held
// across fork so that no worker holds it in the child's copy.
void before_fork() { g_pool.load(std::memory_order_acquire)->mutex().lock(); }
void after_fork_in_parent() { g_pool.load(std::memory_order_acquire)->mutex().unlock(); }
void after_fork_in_child() { g_pool.store(new Pool, std::memory_order_release); }

Pool& Pool::instance() {
  std::call_once(g_pool_once, [] {
    g_pool.store(new Pool, std::memory_order_release);
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
  });
  return *g_pool.load(std::memory_order_acquire);
}

class PoolLease {
 public:
  explicit PoolLease(Pool& pool) : pool_(pool), held_(pool.try_acquire()) {}
  ~PoolLease() {
    if (held_) pool_.release();
  }
  PoolLease(const PoolLease&) = delete;
  PoolLease& operator=(const PoolLease&) = delete;
  [[nodiscard]] bool held() const { return held_; }

 private:
  Pool& pool_;
  bool held_;
};

}  // namespace

bool in_parallel_for() { return t_in_parallel; }

bool run_on_pool(int64_t chunks, ChunkCall call, const void* context) {
  if (t_in_parallel) return false;
  const int threads = get_num_threads();
  if (threads <= 1) return false;
#ifdef _OPENMP
  if (omp_in_parallel() != 0) return false;
#endif
  Pool& pool = Pool::instance();
  const PoolLease lease(pool);
  if (!lease.held()) return false;
  pool.run(chunks, call, context, threads - 1);
  return true;
}

}  // namespace nabla::detail
