// The MPI process group (init, rank, local rank, finalize, abort) and the tensor collectives.
#include "dist/dist.h"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include "autograd/node.h"
#include "data/replicas.h"
#include "dist/detail.h"
#include "tensor/kernels/kernels.h"

namespace nabla::dist {
namespace {

struct State {
  bool initialized = false;
  bool owns_mpi = false;  // MPI_Init was ours, so MPI_Finalize is too
  int rank = 0;
  int size = 1;
  int local_rank = 0;
};

State& state() {
  static State s;
  return s;
}

class MpiReplicas final : public data::Replicas {
 public:
  [[nodiscard]] int64_t rank() const override { return dist::rank(); }
  [[nodiscard]] int64_t size() const override { return world_size(); }
  void sum(std::vector<double>& values) const override { sum_in_rank_order(values); }
};

[[noreturn]] void on_terminate() {
  std::string what = "terminate called without an active exception";
  if (const std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = fmt::format("uncaught exception: {}", e.what());
    } catch (...) {
      what = "uncaught exception of unknown type";
    }
  }
  abort(what, 1);
}

// A tensor's shape and dtype as a fixed-size record, for the collectives' agreement check: dtype,
// rank (number of dims), then up to kMaxDims extents (a longer shape folds its tail into the last).
constexpr size_t kMaxDims = 6;
using Signature = std::array<int64_t, 2 + kMaxDims>;

Signature signature_of(const Tensor& t) {
  Signature sig{};
  sig[0] = static_cast<int64_t>(t.dtype());
  sig[1] = t.dim();
  constexpr size_t kLast = 2 + kMaxDims - 1;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const auto index = static_cast<size_t>(d);
    if (index < kMaxDims - 1) {
      sig[2 + index] = t.size(d);
    } else {
      sig[kLast] = (index == kMaxDims - 1 ? 1 : sig[kLast]) * t.size(d);
    }
  }
  return sig;
}

std::string describe(const Signature& sig) {
  std::string dims;
  const auto n = static_cast<size_t>(std::min<int64_t>(sig[1], kMaxDims));
  for (size_t d = 0; d < n; ++d) dims += fmt::format("{}{}", d == 0 ? "" : ", ", sig[2 + d]);
  return fmt::format("shape [{}{}] and dtype {}", dims,
                     static_cast<size_t>(sig[1]) > kMaxDims ? ", ..." : "",
                     dtype_name(static_cast<DType>(sig[0])));
}

// Every rank passes its tensor's signature; all ranks throw the same error on a mismatch.
void check_agreement(std::string_view op, const Tensor& t) {
  const Signature mine = signature_of(t);
  std::vector<int64_t> all(mine.size() * static_cast<size_t>(state().size));
  detail::check_mpi(
      MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_INT64_T, all.data(),
                    static_cast<int>(mine.size()), MPI_INT64_T, MPI_COMM_WORLD),
      op);
  Signature first{};
  std::copy_n(all.begin(), first.size(), first.begin());
  for (int r = 1; r < state().size; ++r) {
    Signature other{};
    std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(mine.size() * static_cast<size_t>(r)),
                other.size(), other.begin());
    if (other != first) {
      throw error(
          "{}: rank 0 passes a tensor of {} but rank {} one of {}; every rank must pass "
          "the same shape and dtype",
          op, describe(first), r, describe(other));
    }
  }
}

// The contiguous tensor the collective works on: `t` itself, or a copy to copy back afterwards.
Tensor contiguous_buffer(const Tensor& t) { return t.is_contiguous() ? t : kernels::clone(t); }

void write_back(Tensor& t, const Tensor& buffer) {
  if (buffer.is_same(t)) {
    t.bump_version();
    return;
  }
  const NoGradGuard no_grad;
  kernels::copy_(t, buffer);
  t.bump_version();
}

}  // namespace

namespace detail {

void check_mpi(int code, std::string_view op) {
  if (code == MPI_SUCCESS) return;
  std::array<char, MPI_MAX_ERROR_STRING> text{};
  int length = 0;
  MPI_Error_string(code, text.data(), &length);
  throw error("{}: MPI error: {}", op, std::string_view(text.data(), static_cast<size_t>(length)));
}

void check_initialized(std::string_view op) {
  if (!state().initialized) throw error("{}: call nabla::dist::init() first", op);
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: break;
  }
  return MPI_INT64_T;
}

}  // namespace detail

void init(const InitOptions& options) {
  State& s = state();
  if (s.initialized) return;
  int already = 0;
  MPI_Initialized(&already);
  if (already == 0) {
    int provided = 0;
    detail::check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
                      "dist::init");
    s.owns_mpi = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);
  MPI_Comm local = MPI_COMM_NULL;
  detail::check_mpi(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, s.rank, MPI_INFO_NULL, &local),
      "dist::init");
  MPI_Comm_rank(local, &s.local_rank);
  MPI_Comm_free(&local);
  s.initialized = true;
  if (options.abort_on_uncaught_exception) std::set_terminate(on_terminate);
  if (options.install_replicas) data::set_replicas(std::make_shared<MpiReplicas>());
}

void finalize() {
  State& s = state();
  if (!s.initialized) return;
  s.initialized = false;
  data::set_replicas(nullptr);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (s.owns_mpi && finalized == 0) {
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
  }
}

bool initialized() { return state().initialized; }

int64_t world_size() {
  detail::check_initialized("dist::world_size");
  return state().size;
}

int64_t rank() {
  detail::check_initialized("dist::rank");
  return state().rank;
}

int64_t local_rank() {
  detail::check_initialized("dist::local_rank");
  return state().local_rank;
}

void allreduce(Tensor& tensor, ReduceOp op) {
  detail::check_initialized("allreduce");
  if (!tensor.defined()) throw error("allreduce: the tensor is undefined");
  if (op == ReduceOp::Mean && !tensor.is_floating_point()) {
    throw error(
        "allreduce: mean of a tensor of shape {} and dtype {}; mean needs float32 or "
        "float64 (use ReduceOp::Sum for integers)",
        shape_str(tensor.shape()), dtype_name(tensor.dtype()));
  }
  check_agreement("allreduce", tensor);
  Tensor buffer = contiguous_buffer(tensor);
  if (buffer.numel() > 0) {
    detail::check_mpi(
        MPI_Allreduce(MPI_IN_PLACE, buffer.raw_data(), static_cast<int>(buffer.numel()),
                      detail::mpi_type(buffer.dtype()), MPI_SUM, MPI_COMM_WORLD),
        "allreduce");
  }
  if (op == ReduceOp::Mean) {
    const NoGradGuard no_grad;
    buffer.div_(static_cast<double>(state().size));
  }
  write_back(tensor, buffer);
}

void broadcast(Tensor& tensor, int64_t root) {
  detail::check_initialized("broadcast");
  if (!tensor.defined()) throw error("broadcast: the tensor is undefined");
  if (root < 0 || root >= state().size) {
    throw error("broadcast: root {} is not a rank of this job of {} processes", root, state().size);
  }
  check_agreement("broadcast", tensor);
  Tensor buffer = contiguous_buffer(tensor);
  if (buffer.numel() > 0) {
    detail::check_mpi(
        MPI_Bcast(buffer.raw_data(), static_cast<int>(buffer.numel()),
                  detail::mpi_type(buffer.dtype()), static_cast<int>(root), MPI_COMM_WORLD),
        "broadcast");
  }
  write_back(tensor, buffer);
}

void barrier() {
  detail::check_initialized("barrier");
  detail::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

void sum_in_rank_order(std::vector<double>& values) {
  detail::check_initialized("sum_in_rank_order");
  const State& s = state();
  const auto n = static_cast<int64_t>(values.size());
  std::vector<int64_t> lengths(static_cast<size_t>(s.size));
  detail::check_mpi(
      MPI_Allgather(&n, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, MPI_COMM_WORLD),
      "sum_in_rank_order");
  for (int r = 0; r < s.size; ++r) {
    if (lengths[static_cast<size_t>(r)] != lengths[0]) {
      throw error("sum_in_rank_order: rank 0 passes {} values but rank {} passes {}", lengths[0], r,
                  lengths[static_cast<size_t>(r)]);
    }
  }
  if (values.empty()) return;
  std::vector<double> all(values.size() * static_cast<size_t>(s.size));
  detail::check_mpi(MPI_Allgather(values.data(), static_cast<int>(n), MPI_DOUBLE, all.data(),
                                  static_cast<int>(n), MPI_DOUBLE, MPI_COMM_WORLD),
                    "sum_in_rank_order");
  for (size_t i = 0; i < values.size(); ++i) {
    double sum = 0.0;
    for (size_t r = 0; r < static_cast<size_t>(s.size); ++r) sum += all[r * values.size() + i];
    values[i] = sum;
  }
}

void abort(std::string_view message, int code) {
  const State& s = state();
  std::fprintf(stderr, "nabla::dist: rank %d: %.*s\n", s.rank, static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  int mpi_up = 0;
  int mpi_down = 0;
  MPI_Initialized(&mpi_up);
  MPI_Finalized(&mpi_down);
  if (mpi_up != 0 && mpi_down == 0) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace nabla::dist
