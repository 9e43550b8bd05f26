// DataLoader: per-epoch permutations from (seed, epoch) and batches gathered with
// kernels::index_select through Dataset::get.
#include "data/loader.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "tensor/error.h"
#include "tensor/random.h"

namespace nabla::data {
namespace {

// The splitmix64 finalizer: a bijective mix, so distinct epochs get unrelated seeds.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// NOTE: not seed + epoch: Generator seeds through splitmix64, whose streams for nearby seeds
// are shifted copies of each other, so consecutive epochs would share state words.
uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return mix64(seed ^ mix64(static_cast<uint64_t>(epoch) + 0x9E3779B97F4A7C15ULL));
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, int64_t batch_size, bool shuffle,
                       bool drop_last, std::optional<uint64_t> seed)
    : dataset_(std::move(dataset)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      drop_last_(drop_last),
      seed_(seed ? *seed : seed_from_default_generator()) {
  if (!dataset_) throw error("DataLoader: dataset is null");
  if (batch_size_ <= 0) throw error("DataLoader: batch_size must be positive, got {}", batch_size_);
  num_samples_ = dataset_->size();
  if (num_samples_ <= 0) throw error("DataLoader: the dataset is empty; there is nothing to load");
  count_batches();
}

void DataLoader::count_batches() {
  const int64_t batches =
      drop_last_ ? num_samples_ / batch_size_ : (num_samples_ + batch_size_ - 1) / batch_size_;
  if (batches == 0) {
    throw error(
        "DataLoader: drop_last with batch_size {} and {} samples leaves no batch; use a batch "
        "size of at most {} or drop_last = false",
        batch_size_, num_samples_, num_samples_);
  }
  num_batches_ = batches;
}

void DataLoader::shard(int64_t count, int64_t index) {
  if (count <= 0 || index < 0 || index >= count) {
    throw error("DataLoader::shard: shard index {} of {} shards; need 0 <= index < count", index,
                count);
  }
  const int64_t total = dataset_->size();
  const int64_t samples = (total + count - 1) / count;
  const int64_t previous = num_samples_;
  num_samples_ = samples;
  try {
    count_batches();
  } catch (const Error&) {
    num_samples_ = previous;
    throw;
  }
  shard_count_ = count;
  shard_index_ = index;
}

DataLoader::DataLoader(const TensorDataset& dataset, int64_t batch_size, bool shuffle,
                       bool drop_last, std::optional<uint64_t> seed)
    : DataLoader(std::make_shared<TensorDataset>(dataset), batch_size, shuffle, drop_last, seed) {}

void DataLoader::set_epoch(int64_t epoch) {
  if (epoch < 0) throw error("DataLoader::set_epoch: epoch must be non-negative, got {}", epoch);
  epoch_ = epoch;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  if (epoch < 0) throw error("DataLoader::order: epoch must be non-negative, got {}", epoch);
  const int64_t total = dataset_->size();
  std::vector<int64_t> full;
  if (shuffle_) {
    Generator generator(epoch_seed(seed_, epoch));
    full = randperm(total, &generator).to_vector<int64_t>();
  } else {
    full.resize(static_cast<size_t>(total));
    std::iota(full.begin(), full.end(), int64_t{0});
  }
  if (shard_count_ == 1) return full;
  std::vector<int64_t> shard(static_cast<size_t>(num_samples_));
  for (int64_t j = 0; j < num_samples_; ++j) {
    shard[static_cast<size_t>(j)] =
        full[static_cast<size_t>((shard_index_ + j * shard_count_) % total)];
  }
  return shard;
}

Batch DataLoader::load(const std::vector<int64_t>& order, int64_t index) const {
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min(begin + batch_size_, num_samples_);
  const std::vector<int64_t> indices(order.begin() + begin, order.begin() + end);
  return dataset_->get(indices);
}

Batch DataLoader::batch(int64_t epoch, int64_t index) const {
  if (index < 0 || index >= num_batches_) {
    throw error("DataLoader::batch: batch index {} is out of range for {} batches", index,
                num_batches_);
  }
  return load(order(epoch), index);
}

DataLoader::Iterator DataLoader::begin() {
  auto epoch_order = std::make_shared<const std::vector<int64_t>>(order(epoch_));
  ++epoch_;
  return {this, std::move(epoch_order), 0};
}

DataLoader::Iterator DataLoader::end() const { return {this, nullptr, num_batches_}; }

DataLoader::Iterator::Iterator(const DataLoader* loader,
                               std::shared_ptr<const std::vector<int64_t>> order, int64_t index)
    : loader_(loader), order_(std::move(order)), index_(index) {
  if (order_ && index_ < loader_->num_batches_) batch_ = loader_->load(*order_, index_);
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++index_;
  // Drop the previous batch first, so two batches are never alive at once inside the iterator.
  batch_ = Batch();
  if (order_ && index_ < loader_->num_batches_) batch_ = loader_->load(*order_, index_);
  return *this;
}

}  // namespace nabla::data
