// dist: the process group of an `mpirun -np N` job and tensor collectives over it (MPI inside;
// no dist/ header includes <mpi.h>, so users of nabla need no MPI flags).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tensor/tensor.h"

namespace nabla::dist {

struct InitOptions {
  // Installs a std::terminate handler that prints the uncaught exception's message on stderr with
  // the rank and aborts the whole job (MPI_Abort): a rank that throws must not leave the others
  // waiting forever in their next collective.
  bool abort_on_uncaught_exception = true;
  // Makes data::replicas() answer for this job, so that train::Model::fit shards its data,
  // averages its logs over the ranks and prints and writes files on rank 0 only.
  bool install_replicas = true;
};

// Joins the job started by mpirun/mpiexec (or a one-process job when started alone), reads world
// size, rank and local rank (the rank among the processes on this machine). Idempotent; MPI is
// asked for MPI_THREAD_FUNNELED (only the main thread talks to MPI).
void init(const InitOptions& options = {});
// Leaves the job (MPI_Finalize) after a barrier; idempotent. Outstanding DataParallel buckets
// must have been waited for (step() does).
void finalize();
[[nodiscard]] bool initialized();

// RAII for main(): init in the constructor, finalize in the destructor.
class Session {
 public:
  explicit Session(const InitOptions& options = {}) { init(options); }
  ~Session() { finalize(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) = delete;
  Session& operator=(Session&&) = delete;
};

// World size, rank (0..N-1) and local rank; each throws nabla::Error before init().
[[nodiscard]] int64_t world_size();
[[nodiscard]] int64_t rank();
[[nodiscard]] int64_t local_rank();

enum class ReduceOp { Sum, Mean };

// In place, on every rank, for float32, float64 and int64 tensors of any shape and layout (a
// strided tensor goes through a contiguous copy). Mean needs a floating dtype. Every rank must
// pass the same shape and dtype: that is checked first (one small MPI_Allgather) and a mismatch
// throws nabla::Error on every rank, naming the op, the shapes and dtypes and the ranks.
// The sum is computed by MPI_Allreduce: for a given world size and tensor size the same on every
// rank and in every run (MPI's reproducibility advice, which Open MPI follows).
void allreduce(Tensor& tensor, ReduceOp op = ReduceOp::Sum);
// Copies root's tensor into every rank's (same shape and dtype required, checked as above).
void broadcast(Tensor& tensor, int64_t root = 0);
void barrier();

// Elementwise sum of `values` over the ranks, in place; the ranks' contributions are gathered and
// added in rank order, so the result is bit-identical on every rank (train's logs use this: every
// rank then takes the same EarlyStopping decision). All ranks pass vectors of one length.
void sum_in_rank_order(std::vector<double>& values);

// Prints "nabla::dist: rank R: <message>" on stderr and ends the whole job (MPI_Abort) with
// `code`; usable before init (then it only exits the process).
[[noreturn]] void abort(std::string_view message, int code = 1);

}  // namespace nabla::dist
