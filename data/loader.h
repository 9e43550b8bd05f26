// DataLoader: iterates a Dataset in mini-batches, reshuffled every epoch from a seed so that
// epoch k's order can be reproduced on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "data/dataset.h"

namespace nabla::data {

class DataLoader {
 public:
  class Iterator;

  // Throws on a null dataset, batch_size <= 0, or a configuration that yields no batch (an
  // empty dataset, or drop_last with fewer samples than batch_size). Without a seed, one is
  // drawn from nabla::default_generator(), so nabla::manual_seed() makes the run reproducible.
  DataLoader(std::shared_ptr<const Dataset> dataset, int64_t batch_size, bool shuffle = false,
             bool drop_last = false, std::optional<uint64_t> seed = std::nullopt);
  // Shares x and y with `dataset` (no copy).
  DataLoader(const TensorDataset& dataset, int64_t batch_size, bool shuffle = false,
             bool drop_last = false, std::optional<uint64_t> seed = std::nullopt);

  // Batches per epoch: ceil(n / batch_size), or floor with drop_last.
  [[nodiscard]] int64_t size() const { return num_batches_; }
  [[nodiscard]] int64_t batch_size() const { return batch_size_; }
  [[nodiscard]] bool shuffle() const { return shuffle_; }
  [[nodiscard]] bool drop_last() const { return drop_last_; }
  [[nodiscard]] uint64_t seed() const { return seed_; }
  [[nodiscard]] const Dataset& dataset() const { return *dataset_; }

  // Shards every epoch over `count` replicas (data parallelism), this loader reading shard
  // `index`: the epoch's permutation of the whole data set (the same on every replica for a
  // given seed and epoch) is padded with its own first samples to a multiple of `count`, and
  // shard `index` takes positions index, index + count, ... (PyTorch's DistributedSampler), so
  // every replica gets ceil(n / count) samples and the same number of batches, and batch k of
  // the `count` shards together holds the samples of batch k of a single loader with
  // count * batch_size. size() and order() then describe this shard. (1, 0) undoes it.
  void shard(int64_t count, int64_t index);
  [[nodiscard]] int64_t shard_count() const { return shard_count_; }
  [[nodiscard]] int64_t shard_index() const { return shard_index_; }
  // Samples per epoch (of this shard).
  [[nodiscard]] int64_t num_samples() const { return num_samples_; }

  // The epoch that the next begin() iterates; begin() then moves on to the next one.
  [[nodiscard]] int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t epoch);

  // The sample order of `epoch` (0..n-1 without shuffle); a pure function of seed and epoch.
  [[nodiscard]] std::vector<int64_t> order(int64_t epoch) const;
  // Batch `index` of `epoch`, without touching the epoch counter.
  [[nodiscard]] Batch batch(int64_t epoch, int64_t index) const;

  // Range-for support: `for (const Batch& batch : loader)` runs one epoch.
  [[nodiscard]] Iterator begin();
  [[nodiscard]] Iterator end() const;

 private:
  [[nodiscard]] Batch load(const std::vector<int64_t>& order, int64_t index) const;
  void count_batches();

  std::shared_ptr<const Dataset> dataset_;
  int64_t batch_size_;
  bool shuffle_;
  bool drop_last_;
  uint64_t seed_;
  int64_t num_samples_ = 0;
  int64_t shard_count_ = 1;
  int64_t shard_index_ = 0;
  int64_t num_batches_ = 0;
  int64_t epoch_ = 0;

  friend class Iterator;
};

// An input iterator over one epoch's batches. It reads through the loader (dataset, batch size),
// so the loader must outlive it.
class DataLoader::Iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Batch;
  using difference_type = std::ptrdiff_t;
  using pointer = const Batch*;
  using reference = const Batch&;

  Iterator() = default;

  [[nodiscard]] reference operator*() const { return batch_; }
  [[nodiscard]] pointer operator->() const { return &batch_; }
  Iterator& operator++();
  void operator++(int) { ++*this; }
  // Iterators of one epoch compare by position; end() is the position size().
  [[nodiscard]] bool operator==(const Iterator& other) const { return index_ == other.index_; }

  // Position of the current batch within the epoch.
  [[nodiscard]] int64_t index() const { return index_; }

 private:
  friend class DataLoader;
  Iterator(const DataLoader* loader, std::shared_ptr<const std::vector<int64_t>> order,
           int64_t index);

  const DataLoader* loader_ = nullptr;
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t index_ = 0;
  Batch batch_;
};

}  // namespace nabla::data
