// Tests for DataLoader: batch counts and sizes, drop_last, per-epoch shuffling that is
// reproducible from the seed, and every sample seen exactly once per epoch.
#include "data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "data/dataset.h"
#include "tensor/error.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "tests/data/test_util.h"

namespace nabla::data {
namespace {

using test_support::error_of;
using test_support::expect_contains;

// x row i is [i, -i] (float32) and y is i (int64), so a batch tells which samples it holds.
TensorDataset numbered(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(i));
    x.push_back(-static_cast<float>(i));
    y.push_back(i);
  }
  return TensorDataset(tensor(x, {n, 2}), tensor(y, {n}));
}

// The sample ids of one epoch, batch by batch, checking that x and y agree.
std::vector<std::vector<int64_t>> run_epoch(DataLoader& loader) {
  std::vector<std::vector<int64_t>> batches;
  for (const Batch& batch : loader) {
    const std::vector<int64_t> ids = batch.y.to_vector<int64_t>();
    const std::vector<float> x = batch.x.to_vector<float>();
    EXPECT_TRUE(batch.x.is_contiguous());
    EXPECT_EQ(batch.x.shape(), (Shape{static_cast<int64_t>(ids.size()), 2}));
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(x[2 * i], static_cast<float>(ids[i]));
      EXPECT_EQ(x[2 * i + 1], -static_cast<float>(ids[i]));
    }
    batches.push_back(ids);
  }
  return batches;
}

std::vector<int64_t> concat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

std::vector<size_t> sizes(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<size_t> out;
  for (const auto& b : batches) out.push_back(b.size());
  return out;
}

TEST(DataLoader, KeepsTheLastPartialBatchInOrderWithoutShuffle) {
  DataLoader loader(numbered(10), 4);
  EXPECT_EQ(loader.size(), 3);
  const auto batches = run_epoch(loader);
  EXPECT_EQ(sizes(batches), (std::vector<size_t>{4, 4, 2}));
  std::vector<int64_t> expected(10);
  std::iota(expected.begin(), expected.end(), int64_t{0});
  EXPECT_EQ(concat(batches), expected);
  // Without shuffle every epoch is the same.
  EXPECT_EQ(run_epoch(loader), batches);
}

TEST(DataLoader, DropLastDropsThePartialBatch) {
  DataLoader loader(numbered(10), 4, /*shuffle=*/true, /*drop_last=*/true, 7);
  EXPECT_EQ(loader.size(), 2);
  const auto batches = run_epoch(loader);
  EXPECT_EQ(sizes(batches), (std::vector<size_t>{4, 4}));
  // The dropped samples are the shuffled order's last two, so they change between epochs.
  std::vector<int64_t> seen = concat(batches);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());

  DataLoader exact(numbered(8), 4, false, true, 7);
  EXPECT_EQ(exact.size(), 2);
  EXPECT_EQ(sizes(run_epoch(exact)), (std::vector<size_t>{4, 4}));
}

TEST(DataLoader, BatchLargerThanTheDatasetGivesOneBatch) {
  DataLoader loader(numbered(3), 100);
  EXPECT_EQ(loader.size(), 1);
  EXPECT_EQ(sizes(run_epoch(loader)), (std::vector<size_t>{3}));
}

TEST(DataLoader, ShuffleSeesEverySampleOncePerEpochInANewOrder) {
  constexpr int64_t kSamples = 103;
  DataLoader loader(numbered(kSamples), 16, /*shuffle=*/true, /*drop_last=*/false, 42);
  EXPECT_EQ(loader.size(), 7);
  std::vector<int64_t> identity(kSamples);
  std::iota(identity.begin(), identity.end(), int64_t{0});
  std::vector<std::vector<int64_t>> orders;
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(loader.epoch(), epoch);
    const auto batches = run_epoch(loader);
    EXPECT_EQ(sizes(batches), (std::vector<size_t>{16, 16, 16, 16, 16, 16, 7}));
    std::vector<int64_t> order = concat(batches);
    EXPECT_EQ(order, loader.order(epoch));
    EXPECT_NE(order, identity);
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, identity) << "epoch " << epoch;
    for (const auto& previous : orders) EXPECT_NE(order, previous);
    orders.push_back(order);
  }
}

TEST(DataLoader, ShuffleIsReproducibleFromTheSeedPerEpoch) {
  DataLoader a(numbered(50), 8, true, false, 1234);
  DataLoader b(numbered(50), 8, true, false, 1234);
  DataLoader other(numbered(50), 8, true, false, 1235);
  const auto a0 = run_epoch(a);
  const auto a1 = run_epoch(a);
  EXPECT_EQ(run_epoch(b), a0);
  EXPECT_EQ(run_epoch(b), a1);
  EXPECT_NE(run_epoch(other), a0);

  // Epoch k can be replayed alone, without running the epochs before it.
  DataLoader replay(numbered(50), 8, true, false, 1234);
  replay.set_epoch(1);
  EXPECT_EQ(run_epoch(replay), a1);
  EXPECT_EQ(replay.epoch(), 2);
  EXPECT_EQ(replay.batch(0, 3).y.to_vector<int64_t>(), a0[3]);
  EXPECT_EQ(replay.epoch(), 2);
}

TEST(DataLoader, WithoutASeedFollowsTheGlobalSeed) {
  manual_seed(99);
  DataLoader a(numbered(40), 8, true);
  manual_seed(99);
  DataLoader b(numbered(40), 8, true);
  EXPECT_EQ(a.seed(), b.seed());
  EXPECT_EQ(run_epoch(a), run_epoch(b));
}

TEST(DataLoader, IteratorsWorkByHandAndWithSharedDatasets) {
  auto dataset = std::make_shared<TensorDataset>(numbered(5));
  DataLoader loader(dataset, 2);
  auto it = loader.begin();
  ASSERT_NE(it, loader.end());
  EXPECT_EQ(it.index(), 0);
  EXPECT_EQ(it->y.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  ++it;
  EXPECT_EQ((*it).y.to_vector<int64_t>(), (std::vector<int64_t>{2, 3}));
  it++;
  EXPECT_EQ(it->y.to_vector<int64_t>(), (std::vector<int64_t>{4}));
  ++it;
  EXPECT_EQ(it, loader.end());
  EXPECT_EQ(&loader.dataset(), dataset.get());
  EXPECT_EQ(std::distance(loader.begin(), loader.end()), 3);
}

TEST(DataLoader, RejectsConfigurationsWithoutBatches) {
  expect_contains(error_of([] { (void)DataLoader(numbered(4), 0); }),
                  {"DataLoader", "batch_size", "positive", "0"});
  expect_contains(error_of([] { (void)DataLoader(numbered(4), -3); }), {"batch_size", "-3"});
  expect_contains(error_of([] { (void)DataLoader(numbered(3), 4, false, true); }),
                  {"DataLoader", "drop_last", "batch_size 4", "3 samples"});
  expect_contains(error_of([] {
                    (void)DataLoader(TensorDataset(zeros({0, 2})), 4);
                  }),
                  {"DataLoader", "empty"});
  expect_contains(error_of([] { (void)DataLoader(std::shared_ptr<const Dataset>(), 4); }),
                  {"DataLoader", "null"});
  DataLoader loader(numbered(4), 2);
  expect_contains(error_of([&] { (void)loader.batch(0, 2); }),
                  {"DataLoader::batch", "index 2", "2 batches"});
  expect_contains(error_of([&] { loader.set_epoch(-1); }), {"set_epoch", "-1"});
}

}  // namespace
}  // namespace nabla::data
