// dist::DataParallel: data-parallel training of one model replicated on every rank of the job
// (PyTorch's DistributedDataParallel, Horovod's DistributedOptimizer): the same start on every
// rank, and gradients averaged over the ranks while backward still runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "optim/optimizer.h"

namespace nabla::dist {

struct DataParallelOptions {
  // Gradients are packed into buckets of about this many bytes (one dtype per bucket; a larger
  // parameter gets a bucket of its own); each full bucket is allreduced at once.
  int64_t bucket_bytes = int64_t{4} << 20;
  // true: a bucket's MPI_Iallreduce starts from the engine's post-accumulate hook as soon as its
  // last gradient is ready, and overlaps the rest of backward. false: every bucket is reduced in
  // synchronize(), after backward (the baseline the benchmark compares with).
  bool overlap = true;
  // false: each bucket is summed by MPI_Iallreduce (about 2 (N - 1) / N bucket bytes sent per
  // rank); for a given N and bucket layout Open MPI repeats the same algorithm, so runs repeat
  // bit for bit. true: each bucket is gathered from every rank (MPI_Iallgather) and summed here
  // in rank order 0, 1, ..., N - 1, so the bits do not depend on MPI's choice of algorithm
  // either (another MPI, network or placement); it costs N times the bucket memory and N - 1
  // bucket sizes received per rank.
  bool rank_ordered = false;
  // Broadcast buffers (BatchNormalization's moving statistics) from rank 0 at construction, as
  // the parameters are. They are never averaged later: each rank keeps its own statistics.
  bool broadcast_buffers = true;
};

// How a step's communication went (for the benchmark and for curious users).
struct DataParallelStats {
  int64_t buckets = 0;
  int64_t buckets_started_in_backward = 0;  // launched from a hook, before synchronize()
  double wait_seconds = 0.0;                // time synchronize() spent in MPI (waits + launches)
};

// Construction (a collective: every rank constructs its DataParallel at the same point):
// 1. checks that every rank has the same parameters (count, shapes, dtypes) and throws
//    nabla::Error on every rank naming the first mismatch otherwise;
// 2. broadcasts the parameters (and buffers) from rank 0;
// 3. assigns the parameters to buckets in reverse order (the order backward makes their
//    gradients ready in a feed-forward network) and registers a post-accumulate hook on each.
//    After the first step the buckets are rebuilt in the order rank 0's gradients actually
//    became ready (PyTorch does the same), so a bucket fills as early as it can.
// Then each backward() averages the gradients over the ranks: a hook copies its parameter's
// gradient into its bucket, and a full bucket is reduced with MPI_Iallreduce (buckets are
// started strictly in index order, so every rank issues the same collectives in the same order).
// synchronize() — which the optimizer from wrap() calls in step() — reduces what backward did
// not reach (an unused parameter contributes zeros), waits for every bucket and writes the
// averaged gradients into grad(). One backward per step (see NoSync for accumulation).
class DataParallel {
 public:
  // `module` must be built (its parameters exist).
  explicit DataParallel(std::shared_ptr<nn::Module> module, DataParallelOptions options = {});
  // Over plain tensors (leaves that require grad) and optional buffers.
  explicit DataParallel(std::vector<Tensor> parameters, DataParallelOptions options = {},
                        std::vector<Tensor> buffers = {});
  // Waits for outstanding buckets (their buffers are ours), without writing gradients.
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;
  DataParallel(DataParallel&&) = delete;
  DataParallel& operator=(DataParallel&&) = delete;

  // The wrapped module's forward (throws when constructed from plain tensors).
  Tensor operator()(const Tensor& input);
  [[nodiscard]] nn::Module& module();
  [[nodiscard]] const std::vector<Tensor>& parameters() const { return params_; }

  // Finishes the step's gradient averaging (see above); a no-op when nothing is pending.
  void synchronize();
  // An optimizer whose step() calls synchronize() and then `inner`'s step(); zero_grad,
  // learning_rate and set_learning_rate work on it as on `inner` (the state lives in `inner`).
  [[nodiscard]] std::shared_ptr<optim::Optimizer> wrap(std::shared_ptr<optim::Optimizer> inner);

  // RAII: while alive, backward only accumulates locally (gradient accumulation over several
  // micro-batches; the backward after it averages the accumulated sums), as PyTorch's no_sync().
  class NoSync {
   public:
    explicit NoSync(DataParallel& owner) : owner_(owner), previous_(owner.sync_enabled_) {
      owner_.sync_enabled_ = false;
    }
    ~NoSync() { owner_.sync_enabled_ = previous_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;
    NoSync(NoSync&&) = delete;
    NoSync& operator=(NoSync&&) = delete;

   private:
    DataParallel& owner_;
    bool previous_;
  };

  [[nodiscard]] int64_t bucket_count() const;
  // The parameter indices of each bucket, in the order the bucket packs them (reverse
  // registration order until the first synchronize(), the observed order after it).
  [[nodiscard]] std::vector<std::vector<size_t>> bucket_layout() const;
  // The last synchronize()'s figures.
  [[nodiscard]] const DataParallelStats& last_stats() const { return stats_; }

 private:
  struct Bucket;
  void check_same_parameters_everywhere() const;
  void broadcast_from_root();
  void build_buckets();
  void assign_buckets(const std::vector<size_t>& order);
  void rebuild_from_observed_order();
  void on_gradient_ready(size_t index);
  void pack(size_t index);
  void start_full_buckets();
  void start(Bucket& bucket) const;
  void make_progress();
  void wait_all();
  void sum_gathered(Bucket& bucket) const;

  std::shared_ptr<nn::Module> module_;
  DataParallelOptions options_;
  std::vector<Tensor> params_;
  std::vector<std::string> names_;
  std::vector<Tensor> buffers_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<size_t> bucket_of_;   // parameter -> bucket
  std::vector<int64_t> offset_of_;  // parameter -> element offset in its bucket
  std::vector<bool> ready_;         // parameter -> packed in this step
  size_t next_to_start_ = 0;
  std::vector<size_t> ready_order_;  // first step: the order the hooks ran in
  bool layout_observed_ = false;     // buckets rebuilt from that order
  int64_t started_in_backward_ = 0;
  bool pending_ = false;  // some gradient was packed since the last synchronize
  bool sync_enabled_ = true;
  DataParallelStats stats_;
  std::shared_ptr<bool> alive_;  // hooks hold a weak copy: a dead DataParallel is skipped
};

}  // namespace nabla::dist
