// DataLoader::shard (the sharded sampler of data-parallel training) and the Replicas slot: shards
// that together are the unsharded epoch, batch by batch, with equal sizes on every shard.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/replicas.h"
#include "tensor/error.h"
#include "tensor/tensor.h"
#include "tests/data/test_util.h"

namespace nabla::data {
namespace {

using test_support::error_of;
using test_support::expect_contains;

TensorDataset numbered(int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    ids[static_cast<size_t>(i)] = i;
    x[static_cast<size_t>(i)] = static_cast<float>(i);
  }
  return TensorDataset(tensor(x, {n, 1}), tensor(ids, {n}));
}

std::vector<std::vector<int64_t>> epoch_batches(DataLoader& loader) {
  std::vector<std::vector<int64_t>> batches;
  for (const Batch& batch : loader) batches.push_back(batch.y.to_vector<int64_t>());
  return batches;
}

// Batch k of the 4 shards with batch 3 holds exactly batch k of one loader with batch 12.
TEST(ShardedLoader, ShardsTogetherAreTheGlobalBatches) {
  const TensorDataset dataset = numbered(48);
  DataLoader global(dataset, 12, true, false, 7);
  const auto global_batches = epoch_batches(global);
  std::vector<std::vector<std::vector<int64_t>>> shards;
  for (int64_t r = 0; r < 4; ++r) {
    DataLoader loader(dataset, 3, true, false, 7);
    loader.shard(4, r);
    EXPECT_EQ(loader.size(), 4);
    EXPECT_EQ(loader.num_samples(), 12);
    shards.push_back(epoch_batches(loader));
  }
  ASSERT_EQ(global_batches.size(), 4U);
  for (size_t k = 0; k < global_batches.size(); ++k) {
    std::vector<int64_t> together;
    for (const auto& shard : shards) {
      ASSERT_EQ(shard.size(), global_batches.size());
      together.insert(together.end(), shard[k].begin(), shard[k].end());
    }
    std::vector<int64_t> expected = global_batches[k];
    std::sort(together.begin(), together.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(together, expected) << "batch " << k;
  }
}

// 10 samples over 4 shards: ceil(10/4) = 3 each, the permutation padded with its own first two.
TEST(ShardedLoader, UnevenSplitPadsWithTheFirstSamples) {
  const TensorDataset dataset = numbered(10);
  DataLoader plain(dataset, 4, true, false, 3);
  const std::vector<int64_t> order = plain.order(2);
  std::vector<int64_t> seen;
  for (int64_t r = 0; r < 4; ++r) {
    DataLoader loader(dataset, 2, true, false, 3);
    loader.shard(4, r);
    const std::vector<int64_t> shard = loader.order(2);
    ASSERT_EQ(shard.size(), 3U);
    EXPECT_EQ(loader.size(), 2);
    for (size_t j = 0; j < shard.size(); ++j) {
      EXPECT_EQ(shard[j], order[(static_cast<size_t>(r) + 4 * j) % 10]);
    }
    seen.insert(seen.end(), shard.begin(), shard.end());
  }
  std::sort(seen.begin(), seen.end());
  // Every sample once, plus the permutation's first two a second time.
  std::vector<int64_t> expected{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, order[0], order[1]};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

TEST(ShardedLoader, EpochsDifferAndOneShardUndoesIt) {
  const TensorDataset dataset = numbered(20);
  DataLoader loader(dataset, 5, true, false, 11);
  loader.shard(2, 1);
  EXPECT_NE(loader.order(0), loader.order(1));
  loader.shard(1, 0);
  EXPECT_EQ(loader.size(), 4);
  EXPECT_EQ(loader.order(0), DataLoader(dataset, 5, true, false, 11).order(0));
}

TEST(ShardedLoader, BadShardsAreRejected) {
  const TensorDataset dataset = numbered(4);
  DataLoader loader(dataset, 2);
  expect_contains(error_of([&] { loader.shard(2, 2); }),
                  {"DataLoader::shard: shard index 2 of 2 shards"});
  expect_contains(error_of([&] { loader.shard(0, 0); }), {"shard index 0 of 0 shards"});
  // drop_last with 4 samples over 4 shards of batch 2 leaves no batch; the loader is unchanged.
  DataLoader dropping(dataset, 2, false, true);
  expect_contains(error_of([&] { dropping.shard(4, 0); }), {"leaves no batch"});
  EXPECT_EQ(dropping.size(), 2);
  EXPECT_EQ(dropping.shard_count(), 1);
}

class FakeReplicas final : public Replicas {
 public:
  [[nodiscard]] int64_t rank() const override { return 1; }
  [[nodiscard]] int64_t size() const override { return 3; }
  void sum(std::vector<double>& values) const override {
    for (double& v : values) v *= 3.0;
  }
};

// A dataset of several tensors shards like one: every shard's batches hold the same rows of each.
TEST(ShardedLoader, SeveralTensorsStayAlignedInEveryShard) {
  const int64_t n = 10;
  std::vector<float> doubled(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) doubled[static_cast<size_t>(i)] = static_cast<float>(2 * i);
  const TensorDataset single = numbered(n);
  const TensorDataset several(std::vector<Tensor>{single.x(), tensor(doubled, {n, 1})},
                              std::vector<Tensor>{single.y()});
  for (int64_t r = 0; r < 3; ++r) {
    DataLoader loader(several, 2, true, false, 5);
    loader.shard(3, r);
    DataLoader reference(single, 2, true, false, 5);
    reference.shard(3, r);
    auto expected = reference.begin();
    for (const Batch& batch : loader) {
      ASSERT_EQ(batch.xs.size(), 2U);
      const auto ids = batch.y.to_vector<int64_t>();
      EXPECT_EQ(ids, expected->y.to_vector<int64_t>());
      const auto twice = batch.xs[1].to_vector<float>();
      for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(twice[i], static_cast<float>(2 * ids[i]));
      ++expected;
    }
  }
}

TEST(Replicas, OneReplicaUntilOneIsInstalled) {
  EXPECT_EQ(replicas().rank(), 0);
  EXPECT_EQ(replicas().size(), 1);
  std::vector<double> values{1.5, -2.0};
  replicas().sum(values);
  EXPECT_EQ(values, (std::vector<double>{1.5, -2.0}));
  set_replicas(std::make_shared<FakeReplicas>());
  EXPECT_EQ(replicas().rank(), 1);
  EXPECT_EQ(replicas().size(), 3);
  set_replicas(nullptr);
  EXPECT_EQ(replicas().size(), 1);
}

}  // namespace
}  // namespace nabla::data
