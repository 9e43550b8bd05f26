// DataParallel: the start-up checks and broadcast, the gradient buckets filled from the engine's
// post-accumulate hooks, their non-blocking allreduces, and the optimizer wrapper.
#include "dist/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "dist/detail.h"
#include "dist/dist.h"
#include "tensor/kernels/kernels.h"

namespace nabla::dist {

struct DataParallel::Bucket {
  DType dtype = kFloat32;
  std::vector<size_t> members;  // parameter indices, in packing order
  int64_t numel = 0;
  Tensor buffer;          // flat, contiguous, dtype
  Tensor gathered;        // rank_ordered: every rank's buffer, rank after rank
  int64_t remaining = 0;  // members not packed yet in this step
  bool started = false;
  MPI_Request request = MPI_REQUEST_NULL;
};

namespace {

using Clock = std::chrono::steady_clock;

// Element `offset` of the flat `buffer`, seen with `like`'s shape.
Tensor slot_view(const Tensor& buffer, const Tensor& like, int64_t offset) {
  return Tensor::make_view(buffer, like.shape(), contiguous_strides(like.shape()),
                           buffer.storage_offset() + offset);
}

// A parameter as its description for the start-up check: dtype, rank, extents.
void describe_into(const Tensor& p, std::vector<int64_t>& out) {
  out.push_back(static_cast<int64_t>(p.dtype()));
  out.push_back(p.dim());
  for (int64_t d = 0; d < p.dim(); ++d) out.push_back(p.size(d));
}

std::string describe(const int64_t* record) {
  Shape shape(record + 2, record + 2 + record[1]);
  return fmt::format("shape {} and dtype {}", shape_str(shape),
                     dtype_name(static_cast<DType>(record[0])));
}

// An optimizer that finishes the gradient averaging before the inner optimizer's update.
class SynchronizingOptimizer final : public optim::Optimizer {
 public:
  SynchronizingOptimizer(DataParallel& owner, std::shared_ptr<optim::Optimizer> inner)
      : Optimizer(inner->name(), inner->parameters(), inner->learning_rate(), {}),
        owner_(owner),
        inner_(std::move(inner)) {}

  void step() override {
    owner_.synchronize();
    inner_->set_learning_rate(learning_rate());  // a schedule sets the wrapper's
    inner_->step();
  }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  DataParallel& owner_;
  std::shared_ptr<optim::Optimizer> inner_;
};

}  // namespace

DataParallel::DataParallel(std::shared_ptr<nn::Module> module, DataParallelOptions options)
    : module_(std::move(module)), options_(options) {
  if (!module_) throw error("DataParallel: the module is null");
  if (!module_->built() || module_->weights_pending()) {
    throw error(
        "DataParallel: the module has no weights yet; build it first (module.build(shape))");
  }
  for (auto& [name, tensor] : module_->named_parameters()) {
    names_.push_back(name);
    params_.push_back(tensor);
  }
  if (options_.broadcast_buffers) {
    for (auto& [name, tensor] : module_->named_buffers()) buffers_.push_back(tensor);
  }
  check_same_parameters_everywhere();
  broadcast_from_root();
  build_buckets();
}

DataParallel::DataParallel(std::vector<Tensor> parameters, DataParallelOptions options,
                           std::vector<Tensor> buffers)
    : options_(options), params_(std::move(parameters)), buffers_(std::move(buffers)) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined() || !p.is_leaf() || !p.requires_grad()) {
      throw error("DataParallel: parameter {} must be a leaf tensor that requires grad", i);
    }
    names_.push_back(fmt::format("parameter {}", i));
  }
  if (!options_.broadcast_buffers) buffers_.clear();
  check_same_parameters_everywhere();
  broadcast_from_root();
  build_buckets();
}

DataParallel::~DataParallel() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized != 0) return;  // too late to wait (and nothing can still be moving)
  for (auto& bucket : buckets_) {
    if (bucket->started) MPI_Wait(&bucket->request, MPI_STATUS_IGNORE);
  }
}

Tensor DataParallel::operator()(const Tensor& input) { return module()(input); }

nn::Module& DataParallel::module() {
  if (!module_) throw error("DataParallel: constructed from tensors, there is no module to call");
  return *module_;
}

void DataParallel::check_same_parameters_everywhere() const {
  detail::check_initialized("DataParallel");
  if (options_.bucket_bytes <= 0) {
    throw error("DataParallel: bucket_bytes must be positive, got {}", options_.bucket_bytes);
  }
  std::vector<int64_t> mine{static_cast<int64_t>(params_.size())};
  for (const Tensor& p : params_) describe_into(p, mine);
  const int size = static_cast<int>(world_size());
  const auto length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<size_t>(size));
  detail::check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD),
                    "DataParallel");
  std::vector<int> displacements(static_cast<size_t>(size), 0);
  for (size_t r = 1; r < lengths.size(); ++r) {
    displacements[r] = displacements[r - 1] + lengths[r - 1];
  }
  std::vector<int64_t> all(static_cast<size_t>(displacements.back() + lengths.back()));
  detail::check_mpi(MPI_Allgatherv(mine.data(), length, MPI_INT64_T, all.data(), lengths.data(),
                                   displacements.data(), MPI_INT64_T, MPI_COMM_WORLD),
                    "DataParallel");
  // Every rank now holds every description and finds the same first mismatch.
  const int64_t* root = all.data();
  for (size_t r = 1; r < static_cast<size_t>(size); ++r) {
    const int64_t* other = all.data() + displacements[r];
    size_t a = 1;
    size_t b = 1;
    for (int64_t i = 0; i < std::min(root[0], other[0]); ++i) {
      const bool same = root[a] == other[b] && root[a + 1] == other[b + 1] &&
                        std::equal(root + a + 2, root + a + 2 + root[a + 1], other + b + 2);
      if (!same) {
        const auto index = static_cast<size_t>(i);
        throw error(
            "DataParallel: parameter {} ({}) has {} on rank 0 but {} on rank {}; every rank must "
            "build the same model",
            i, index < names_.size() ? names_[index] : "?", describe(root + a), describe(other + b),
            r);
      }
      a += 2 + static_cast<size_t>(root[a + 1]);
      b += 2 + static_cast<size_t>(other[b + 1]);
    }
    if (root[0] != other[0]) {
      throw error(
          "DataParallel: rank 0 has {} parameters but rank {} has {}; every rank must "
          "build the same model",
          root[0], r, other[0]);
    }
  }
}

void DataParallel::broadcast_from_root() {
  const NoGradGuard no_grad;
  for (Tensor& p : params_) broadcast(p, 0);
  for (Tensor& b : buffers_) broadcast(b, 0);
}

void DataParallel::build_buckets() {
  // Reverse registration order until the first step shows the real order: in a feed-forward
  // network the last layer's gradients are ready first.
  std::vector<size_t> order(params_.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = order.size() - 1 - k;
  assign_buckets(order);
  alive_ = std::make_shared<bool>(true);
  const std::weak_ptr<bool> alive = alive_;
  for (size_t k = 0; k < params_.size(); ++k) {
    params_[k].register_post_accumulate_grad_hook([this, alive, k](const Tensor& /*leaf*/) {
      if (alive.lock()) on_gradient_ready(k);
    });
  }
}

// Packs the parameters in `order` into buckets; a bucket closes when the next gradient would
// overflow it or has another dtype.
void DataParallel::assign_buckets(const std::vector<size_t>& order) {
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  offset_of_.assign(params_.size(), 0);
  ready_.assign(params_.size(), false);
  for (const size_t k : order) {
    const Tensor& p = params_[k];
    const auto bytes = static_cast<int64_t>(dtype_size(p.dtype())) * p.numel();
    if (buckets_.empty() || buckets_.back()->dtype != p.dtype() ||
        (buckets_.back()->numel > 0 &&
         (buckets_.back()->numel * static_cast<int64_t>(dtype_size(p.dtype())) + bytes >
          options_.bucket_bytes))) {
      buckets_.push_back(std::make_unique<Bucket>());
      buckets_.back()->dtype = p.dtype();
    }
    Bucket& bucket = *buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = bucket.numel;
    bucket.members.push_back(k);
    bucket.numel += p.numel();
  }
  for (auto& bucket : buckets_) {
    bucket->buffer = Tensor::empty({bucket->numel}, bucket->dtype);
    if (options_.rank_ordered) {
      bucket->gathered = Tensor::empty({bucket->numel * world_size()}, bucket->dtype);
    }
    bucket->remaining = static_cast<int64_t>(bucket->members.size());
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());
}

// After the first synchronized step: the buckets follow the order in which rank 0's gradients
// became ready (parameters that got none last), the same layout on every rank.
void DataParallel::rebuild_from_observed_order() {
  layout_observed_ = true;
  std::vector<int64_t> order;
  std::vector<bool> seen(params_.size(), false);
  for (const size_t k : ready_order_) {
    order.push_back(static_cast<int64_t>(k));
    seen[k] = true;
  }
  for (size_t k = params_.size(); k-- > 0;) {
    if (!seen[k]) order.push_back(static_cast<int64_t>(k));
  }
  ready_order_.clear();
  detail::check_mpi(
      MPI_Bcast(order.data(), static_cast<int>(order.size()), MPI_INT64_T, 0, MPI_COMM_WORLD),
      "DataParallel");
  std::vector<size_t> layout;
  for (const auto& bucket : buckets_) {
    layout.insert(layout.end(), bucket->members.begin(), bucket->members.end());
  }
  const std::vector<size_t> observed(order.begin(), order.end());
  if (observed != layout) assign_buckets(observed);
}

int64_t DataParallel::bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

std::vector<std::vector<size_t>> DataParallel::bucket_layout() const {
  std::vector<std::vector<size_t>> layout;
  layout.reserve(buckets_.size());
  for (const auto& bucket : buckets_) layout.push_back(bucket->members);
  return layout;
}

void DataParallel::pack(size_t index) {
  Bucket& bucket = *buckets_[bucket_of_[index]];
  if (bucket.started) {
    throw error(
        "DataParallel: {} got a second gradient before step(): call step() (or synchronize()) "
        "after each backward, or accumulate under DataParallel::NoSync",
        names_[index]);
  }
  const Tensor& p = params_[index];
  const Tensor slot = slot_view(bucket.buffer, p, offset_of_[index]);
  const Tensor grad = p.grad();
  if (grad.defined()) {
    kernels::copy_(slot, grad);
  } else {
    kernels::fill_(slot, 0.0);  // an unused parameter contributes zeros
  }
  ready_[index] = true;
  --bucket.remaining;
  pending_ = true;
}

void DataParallel::on_gradient_ready(size_t index) {
  if (!sync_enabled_) return;
  if (!layout_observed_ && !ready_[index]) ready_order_.push_back(index);
  if (ready_[index]) {
    throw error(
        "DataParallel: {} got a second gradient before step(): call step() (or synchronize()) "
        "after each backward, or accumulate under DataParallel::NoSync",
        names_[index]);
  }
  pack(index);
  if (options_.overlap) {
    make_progress();
    const size_t before = next_to_start_;
    start_full_buckets();
    started_in_backward_ += static_cast<int64_t>(next_to_start_ - before);
  }
}

void DataParallel::start(Bucket& bucket) const {
  bucket.started = true;
  const MPI_Datatype type = detail::mpi_type(bucket.dtype);
  const auto count = static_cast<int>(bucket.numel);
  if (options_.rank_ordered) {
    detail::check_mpi(
        MPI_Iallgather(bucket.buffer.raw_data(), count, type, bucket.gathered.raw_data(), count,
                       type, MPI_COMM_WORLD, &bucket.request),
        "DataParallel");
    return;
  }
  detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, bucket.buffer.raw_data(), count, type, MPI_SUM,
                                   MPI_COMM_WORLD, &bucket.request),
                    "DataParallel");
}

// buffer = ((rank 0's + rank 1's) + rank 2's) + ...: the same additions on every rank, always.
void DataParallel::sum_gathered(Bucket& bucket) const {
  const int64_t n = bucket.numel;
  const int64_t ranks = world_size();
  visit_dtype(bucket.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* out = bucket.buffer.data_ptr<T>();
    const T* in = bucket.gathered.data_ptr<T>();
    std::copy(in, in + n, out);
    for (int64_t r = 1; r < ranks; ++r) {
      const T* part = in + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] += part[i];
    }
  });
}

void DataParallel::start_full_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_]->remaining == 0) {
    start(*buckets_[next_to_start_]);
    ++next_to_start_;
  }
}

// Open MPI moves a non-blocking collective forward only inside MPI calls: a test on the
// outstanding requests at each hook lets the started buckets advance during backward.
void DataParallel::make_progress() {
  for (size_t b = 0; b < next_to_start_; ++b) {
    int done = 0;
    MPI_Test(&buckets_[b]->request, &done, MPI_STATUS_IGNORE);
  }
}

void DataParallel::synchronize() {
  if (!pending_) return;
  const Clock::time_point begin = Clock::now();
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!ready_[k]) pack(k);
  }
  start_full_buckets();
  wait_all();
  stats_.wait_seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  stats_.buckets_started_in_backward = started_in_backward_;
  started_in_backward_ = 0;
  const auto ranks = static_cast<double>(world_size());
  const NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    if (options_.rank_ordered) sum_gathered(*bucket);
    bucket->buffer.div_(ranks);
    for (const size_t k : bucket->members) {
      const Tensor& p = params_[k];
      const Tensor averaged = slot_view(bucket->buffer, p, offset_of_[k]);
      Tensor grad = p.grad();
      if (grad.defined() && grad.is_contiguous() && grad.storage().use_count() == 1) {
        kernels::copy_(grad, averaged);
        grad.bump_version();
      } else {
        p.set_grad(kernels::clone(averaged));
      }
    }
    bucket->started = false;
    bucket->remaining = static_cast<int64_t>(bucket->members.size());
  }
  std::fill(ready_.begin(), ready_.end(), false);
  next_to_start_ = 0;
  pending_ = false;
  if (!layout_observed_) rebuild_from_observed_order();
}

void DataParallel::wait_all() {
  std::vector<MPI_Request> requests;
  requests.reserve(buckets_.size());
  for (auto& bucket : buckets_) requests.push_back(bucket->request);
  detail::check_mpi(
      MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE),
      "DataParallel");
  for (auto& bucket : buckets_) bucket->request = MPI_REQUEST_NULL;
}

std::shared_ptr<optim::Optimizer> DataParallel::wrap(std::shared_ptr<optim::Optimizer> inner) {
  if (!inner) throw error("DataParallel::wrap: the optimizer is null");
  if (inner->parameters().empty()) inner->set_parameters(params_);
  return std::make_shared<SynchronizingOptimizer>(*this, std::move(inner));
}

}  // namespace nabla::dist
