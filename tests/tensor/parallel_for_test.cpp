// nabla::parallel_for: every chunk runs exactly once for any chunk and thread count, exceptions
// reach the caller and leave the pool usable, nested and concurrent calls, fork; the elementwise
// kernels give the same bits at 1, 2 and 3 threads and match a double loop.
#include "tensor/parallel_for.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tensor/error.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/loops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "tests/support/thread_count_guard.h"

namespace nabla {
namespace {

using nabla::testing::ThreadCountGuard;

// 0, 1, 2, primes, 2^k - 1, 2^k, 2^k + 1.
const std::vector<int64_t> kChunkCounts = {0,  1,  2,  3,  5,  7,   13,  31,   61,   4,    8,   15,
                                           16, 17, 63, 64, 65, 127, 257, 1023, 1024, 1025, 4097};
const std::vector<int> kThreadCounts = {1, 2, 3, 8};

TEST(ParallelFor, RunsEveryChunkExactlyOnce) {
  const ThreadCountGuard guard;
  for (const int threads : kThreadCounts) {
    set_num_threads(threads);
    for (const int64_t chunks : kChunkCounts) {
      for (int repeat = 0; repeat < 3; ++repeat) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(chunks));
        std::atomic<int> out_of_range{0};
        parallel_for(chunks, [&](int64_t chunk) {
          if (chunk < 0 || chunk >= chunks) {
            out_of_range.fetch_add(1);
            return;
          }
          runs[static_cast<size_t>(chunk)].fetch_add(1);
        });
        EXPECT_EQ(out_of_range.load(), 0) << threads << " threads, " << chunks << " chunks";
        for (int64_t c = 0; c < chunks; ++c) {
          ASSERT_EQ(runs[static_cast<size_t>(c)].load(), 1)
              << "chunk " << c << " of " << chunks << " at " << threads << " threads";
        }
      }
    }
  }
}

TEST(ParallelFor, RangeFormCoversEveryChunkExactlyOnce) {
  const ThreadCountGuard guard;
  for (const int threads : kThreadCounts) {
    set_num_threads(threads);
    for (const int64_t chunks : kChunkCounts) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(chunks));
      std::atomic<int> bad_ranges{0};
      parallel_for(chunks, [&](int64_t first, int64_t last) {
        if (first < 0 || first >= last || last > chunks) {
          bad_ranges.fetch_add(1);
          return;
        }
        for (int64_t c = first; c < last; ++c) runs[static_cast<size_t>(c)].fetch_add(1);
      });
      EXPECT_EQ(bad_ranges.load(), 0) << threads << " threads, " << chunks << " chunks";
      for (int64_t c = 0; c < chunks; ++c) {
        ASSERT_EQ(runs[static_cast<size_t>(c)].load(), 1)
            << "chunk " << c << " of " << chunks << " at " << threads << " threads";
      }
    }
  }
}

TEST(ParallelFor, UsesAtMostTheConfiguredNumberOfThreads) {
  const ThreadCountGuard guard;
  for (const int threads : kThreadCounts) {
    set_num_threads(threads);
    std::mutex mutex;
    std::set<std::thread::id> seen;
    parallel_for(200, [&](int64_t) {
      volatile double sink = 0;  // a little work, so that workers get a chance to claim chunks
      for (int i = 0; i < 2000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
      const std::lock_guard lock(mutex);
      seen.insert(std::this_thread::get_id());
    });
    EXPECT_GE(seen.size(), 1U);
    EXPECT_LE(seen.size(), static_cast<size_t>(threads)) << threads << " threads";
    if (threads == 1) {
      EXPECT_EQ(*seen.begin(), std::this_thread::get_id());
    }
  }
}

TEST(ParallelFor, CarriesAnExceptionToTheCallerAndStaysUsable) {
  const ThreadCountGuard guard;
  for (const int threads : kThreadCounts) {
    set_num_threads(threads);
    for (int repeat = 0; repeat < 5; ++repeat) {
      try {
        parallel_for(64, [](int64_t chunk) {
          if (chunk == 17) throw error("chunk {} failed", chunk);
        });
        ADD_FAILURE() << "no exception at " << threads << " threads";
      } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "chunk 17 failed");
      }
      // Several chunks throw: exactly one of their exceptions arrives.
      try {
        parallel_for(64, [](int64_t chunk) {
          if (chunk % 3 == 1) throw error("chunk {} failed", chunk);
        });
        ADD_FAILURE() << "no exception at " << threads << " threads";
      } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.rfind("chunk ", 0), 0U) << message;
      }
      // The pool works afterwards.
      std::vector<std::atomic<int>> runs(100);
      parallel_for(100, [&](int64_t chunk) { runs[static_cast<size_t>(chunk)].fetch_add(1); });
      for (const std::atomic<int>& r : runs) ASSERT_EQ(r.load(), 1);
    }
  }
}

TEST(ParallelFor, RunsNestedCallsInlineAndExactlyOnce) {
  const ThreadCountGuard guard;
  for (const int threads : kThreadCounts) {
    set_num_threads(threads);
    constexpr int64_t kOuter = 7;
    constexpr int64_t kInner = 13;
    std::vector<std::atomic<int>> runs(kOuter * kInner);
    std::atomic<int> moved_thread{0};
    parallel_for(kOuter, [&](int64_t outer) {
      const std::thread::id outer_thread = std::this_thread::get_id();
      parallel_for(kInner, [&](int64_t inner) {
        if (std::this_thread::get_id() != outer_thread) moved_thread.fetch_add(1);
        runs[static_cast<size_t>(outer * kInner + inner)].fetch_add(1);
      });
    });
    EXPECT_EQ(moved_thread.load(), 0) << threads << " threads";
    for (const std::atomic<int>& r : runs) ASSERT_EQ(r.load(), 1) << threads << " threads";
  }
}

TEST(ParallelFor, ServesCallsFromSeveralThreadsAtOnce) {
  const ThreadCountGuard guard;
  set_num_threads(3);
  constexpr int kCallers = 3;
  constexpr int kCalls = 200;
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&wrong, t] {
      for (int call = 0; call < kCalls; ++call) {
        const int64_t chunks = 1 + (call * 7 + t) % 40;
        std::vector<std::atomic<int>> runs(static_cast<size_t>(chunks));
        parallel_for(chunks, [&](int64_t chunk) { runs[static_cast<size_t>(chunk)].fetch_add(1); });
        for (const std::atomic<int>& r : runs) {
          if (r.load() != 1) wrong.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& c : callers) c.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ParallelFor, WorksInAForkedChild) {
  const ThreadCountGuard guard;
  set_num_threads(3);
  parallel_for(8, [](int64_t) {});  // the parent's pool exists
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    std::vector<std::atomic<int>> runs(50);
    parallel_for(50, [&](int64_t chunk) { runs[static_cast<size_t>(chunk)].fetch_add(1); });
    int bad = 0;
    for (const std::atomic<int>& r : runs) bad += r.load() != 1 ? 1 : 0;
    _exit(bad == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // And the parent's pool still works.
  std::atomic<int> total{0};
  parallel_for(50, [&](int64_t) { total.fetch_add(1); });
  EXPECT_EQ(total.load(), 50);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ca = kernels::contiguous(a);
  const Tensor cb = kernels::contiguous(b);
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(),
                     static_cast<size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}

std::vector<double> as_doubles(const Tensor& t) {
  const Tensor c = kernels::contiguous(t);
  std::vector<double> out(static_cast<size_t>(c.numel()));
  const float* p = c.data_ptr<float>();
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  return out;
}

// Large elementwise kernels (several chunks of kParallelGrain, contiguous, transposed and
// broadcast operands) at 1, 2 and 3 threads: the same bits, and each element matches a double
// computation of the same float inputs.
TEST(ParallelFor, ElementwiseKernelsGiveTheSameBitsAtOneTwoAndThreeThreads) {
  const ThreadCountGuard guard;
  Generator generator(11);
  const int64_t rows = 3 * kernels::detail::kParallelGrain / 512 + 7;
  const Tensor a = randn({rows, 512}, kFloat32, &generator);
  const Tensor b = randn({rows, 512}, kFloat32, &generator);
  const Tensor row = randn({512}, kFloat32, &generator);
  const Tensor square = randn({700, 700}, kFloat32, &generator);
  struct Case {
    std::string name;
    std::function<Tensor()> run;
    std::function<double(size_t)> reference;
  };
  const std::vector<double> va = as_doubles(a);
  const std::vector<double> vb = as_doubles(b);
  const std::vector<double> vrow = as_doubles(row);
  const std::vector<double> vsquare = as_doubles(square);
  const std::vector<Case> cases = {
      {"add", [&] { return kernels::binary(kernels::BinaryOp::Add, a, b); },
       [&](size_t i) { return va[i] + vb[i]; }},
      {"mul broadcast row", [&] { return kernels::binary(kernels::BinaryOp::Mul, a, row); },
       [&](size_t i) { return va[i] * vrow[i % 512]; }},
      {"relu", [&] { return kernels::unary(kernels::UnaryOp::Relu, a); },
       [&](size_t i) { return va[i] > 0 ? va[i] : 0.0; }},
      {"add transposed",
       [&] {
         return kernels::binary(kernels::BinaryOp::Add, square, kernels::transpose(square, 0, 1));
       },
       [&](size_t i) { return vsquare[i] + vsquare[(i % 700) * 700 + i / 700]; }},
  };
  for (const Case& c : cases) {
    set_num_threads(1);
    const Tensor one = c.run();
    const std::vector<double> got = as_doubles(one);
    for (size_t i = 0; i < got.size(); ++i) {
      const double want = c.reference(i);
      ASSERT_LE(std::abs(got[i] - want), 1e-6 * std::abs(want) + 1e-30) << c.name << " at " << i;
    }
    for (const int threads : {2, 3}) {
      set_num_threads(threads);
      EXPECT_TRUE(same_bits(one, c.run())) << c.name << " at " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace nabla
