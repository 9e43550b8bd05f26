// dist/ benchmark, run under MPI: `mpirun -np 2 build/release/benchmarks/dist/dist_bench`.
// 1. allreduce of float32 tensors of 1 KiB to 64 MiB: dist::allreduce next to MPI_Allreduce on
//    the same buffer, interleaved round by round; algorithm bandwidth = bytes / time.
// 2. One training step (zero_grad, forward, loss, backward, optimizer step) of two MLPs, global
//    batch 128 split over the ranks: without DataParallel (N = 1 only), and with DataParallel with
//    the overlap on and off. With the overlap off all communication happens after backward, so
//    its time in synchronize() is the whole allreduce time; with it on, what synchronize() still
//    waits for is the part not hidden behind backward.
// NOTE: a plain program with fixed iteration counts, not Google Benchmark: every rank must run
// the same number of collectives, and Google Benchmark picks its counts from each process's own
// timings. Rank 0 prints; the figures are rank 0's (all ranks wait for each other every step).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "nabla.h"

namespace {

using nabla::Tensor;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point begin) {
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

// The same value on every rank (rank 0's), so loops and prints agree.
double agreed(double value) {
  MPI_Bcast(&value, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return value;
}

void bench_allreduce() {
  const bool chief = nabla::dist::rank() == 0;
  if (chief) {
    std::printf("allreduce, float32, %lld processes (best of 5 rounds, interleaved)\n",
                static_cast<long long>(nabla::dist::world_size()));
    std::printf("%10s %8s %14s %14s %14s %14s %8s\n", "bytes", "iters", "nabla us", "MPI us",
                "nabla GB/s", "MPI GB/s", "ratio");
  }
  for (int64_t bytes = 1024; bytes <= (int64_t{64} << 20); bytes *= 4) {
    const int64_t count = bytes / 4;
    // About 64 MiB moved per round, between 2 and 200 calls.
    const int64_t iters = std::clamp<int64_t>((int64_t{64} << 20) / bytes, 2, 200);
    Tensor tensor = nabla::ones({count});
    std::vector<float> raw(static_cast<size_t>(count), 1.0F);
    double best_nabla = 1e30;
    double best_mpi = 1e30;
    for (int round = 0; round < 5; ++round) {
      nabla::dist::barrier();
      Clock::time_point begin = Clock::now();
      for (int64_t i = 0; i < iters; ++i) nabla::dist::allreduce(tensor);
      best_nabla = std::min(best_nabla, agreed(seconds_since(begin)) / static_cast<double>(iters));
      nabla::dist::barrier();
      begin = Clock::now();
      for (int64_t i = 0; i < iters; ++i) {
        MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
      }
      best_mpi = std::min(best_mpi, agreed(seconds_since(begin)) / static_cast<double>(iters));
      // Keep the values finite: they double at every call.
      tensor.fill_(1.0);
      std::fill(raw.begin(), raw.end(), 1.0F);
    }
    if (chief) {
      const auto gb = static_cast<double>(bytes) / 1e9;
      std::printf("%10lld %8lld %14.1f %14.1f %14.3f %14.3f %8.2f\n", static_cast<long long>(bytes),
                  static_cast<long long>(iters), best_nabla * 1e6, best_mpi * 1e6, gb / best_nabla,
                  gb / best_mpi, best_nabla / best_mpi);
    }
  }
}

std::shared_ptr<nabla::nn::Sequential> make_mlp(const std::vector<int64_t>& hidden) {
  auto network = std::make_shared<nabla::nn::Sequential>();
  int64_t in = 784;
  for (const int64_t units : hidden) {
    network->add<nabla::nn::Dense>(
        units, nabla::nn::DenseOptions{.activation = "relu", .input_dim = in, .seed = 1});
    in = units;
  }
  network->add<nabla::nn::Dense>(10, nabla::nn::DenseOptions{.input_dim = in, .seed = 2});
  network->build({1, 784});
  return network;
}

struct StepResult {
  double step_seconds = 0.0;
  double sync_seconds = 0.0;  // in synchronize(): launches of what backward did not start + waits
  int64_t buckets = 0;
  int64_t started_in_backward = 0;
};

// Mean over `steps` timed steps after 3 warm-up steps. mode 0: no DataParallel; 1: overlap on;
// 2: overlap off.
StepResult bench_step(const std::vector<int64_t>& hidden, int mode, int64_t bucket_bytes,
                      int64_t steps) {
  constexpr int64_t kGlobalBatch = 128;
  const int64_t batch = kGlobalBatch / nabla::dist::world_size();
  auto network = make_mlp(hidden);
  nabla::Generator generator(7 + static_cast<uint64_t>(nabla::dist::rank()));
  const Tensor x = nabla::randn({batch, 784}, nabla::kFloat32, &generator);
  const Tensor y = nabla::randint(0, 10, {batch}, &generator);
  std::unique_ptr<nabla::dist::DataParallel> replicated;
  std::shared_ptr<nabla::optim::Optimizer> optimizer =
      std::make_shared<nabla::optim::SGD>(network->parameters());
  if (mode != 0) {
    replicated = std::make_unique<nabla::dist::DataParallel>(
        network,
        nabla::dist::DataParallelOptions{.bucket_bytes = bucket_bytes, .overlap = mode == 1});
    optimizer = replicated->wrap(optimizer);
  }
  StepResult result;
  for (int64_t s = -3; s < steps; ++s) {
    if (s == 0) nabla::dist::barrier();
    const Clock::time_point begin = Clock::now();
    optimizer->zero_grad();
    nabla::nn::sparse_categorical_crossentropy((*network)(x), y, true).backward();
    optimizer->step();
    if (s < 0) continue;
    result.step_seconds += seconds_since(begin);
    if (replicated) {
      result.sync_seconds += replicated->last_stats().wait_seconds;
      result.buckets = replicated->last_stats().buckets;
      result.started_in_backward = replicated->last_stats().buckets_started_in_backward;
    }
  }
  result.step_seconds = agreed(result.step_seconds / static_cast<double>(steps));
  result.sync_seconds = agreed(result.sync_seconds / static_cast<double>(steps));
  return result;
}

void bench_steps(int64_t steps) {
  const bool chief = nabla::dist::rank() == 0;
  const int64_t n = nabla::dist::world_size();
  struct Model {
    const char* name;
    std::vector<int64_t> hidden;
  };
  const std::vector<Model> models{{"mlp 784-512-10", {512}},
                                  {"mlp 784-1024-1024-1024-10", {1024, 1024, 1024}}};
  constexpr int64_t kBucket = int64_t{1} << 20;
  if (chief) {
    std::printf(
        "\ntraining step, global batch 128 (%lld per rank), SGD, %lld steps, buckets of "
        "1 MiB\n",
        static_cast<long long>(128 / n), static_cast<long long>(steps));
    std::printf("%-28s %-22s %10s %12s %8s %10s\n", "model", "variant", "step ms", "sync ms",
                "buckets", "in bwd");
  }
  for (const Model& model : models) {
    // Interleaved: the variants alternate, twice, and the better of the two runs is kept.
    std::vector<StepResult> best(3);
    for (int round = 0; round < 2; ++round) {
      for (int mode = (n == 1 ? 0 : 1); mode < 3; ++mode) {
        const StepResult r = bench_step(model.hidden, mode, kBucket, steps);
        auto& b = best[static_cast<size_t>(mode)];
        if (round == 0 || r.step_seconds < b.step_seconds) b = r;
      }
    }
    const char* names[] = {"plain (no DataParallel)", "DataParallel overlap",
                           "DataParallel no overlap"};
    for (int mode = (n == 1 ? 0 : 1); mode < 3 && chief; ++mode) {
      const StepResult& r = best[static_cast<size_t>(mode)];
      std::printf("%-28s %-22s %10.3f %12.3f %8lld %10lld\n", model.name, names[mode],
                  r.step_seconds * 1e3, r.sync_seconds * 1e3, static_cast<long long>(r.buckets),
                  static_cast<long long>(r.started_in_backward));
    }
    if (chief && best[2].sync_seconds > 0.0) {
      std::printf("%-28s allreduce time hidden behind backward: %.0f%% (1 - sync on / sync off)\n",
                  model.name, 100.0 * (1.0 - best[1].sync_seconds / best[2].sync_seconds));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const nabla::dist::Session session;
  const std::string what = argc > 1 ? argv[1] : "all";
  if (what == "all" || what == "allreduce") bench_allreduce();
  if (what == "all" || what == "step") bench_steps(argc > 2 ? std::stoll(argv[2]) : 20);
  return 0;
}
