// Tests for TensorDataset, take and the Keras-style validation split.
#include "data/dataset.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"
#include "tests/data/test_util.h"

namespace nabla::data {
namespace {

using test_support::error_of;
using test_support::expect_contains;

// x row i is [i, i + 0.5] (float32), y is i * 10 (int64): every row says where it came from.
TensorDataset numbered(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(i));
    x.push_back(static_cast<float>(i) + 0.5f);
    y.push_back(i * 10);
  }
  return TensorDataset(tensor(x, {n, 2}), tensor(y, {n}));
}

TEST(TensorDataset, GetGathersRowsInTheOrderAsked) {
  const TensorDataset dataset = numbered(6);
  EXPECT_EQ(dataset.size(), 6);
  const Batch batch = dataset.get({4, 0, 4});
  EXPECT_EQ(batch.x.shape(), (Shape{3, 2}));
  EXPECT_TRUE(batch.x.is_contiguous());
  EXPECT_EQ(batch.x.to_vector<float>(), (std::vector<float>{4, 4.5, 0, 0.5, 4, 4.5}));
  EXPECT_EQ(batch.y.to_vector<int64_t>(), (std::vector<int64_t>{40, 0, 40}));
  // The batch is a copy: writing to it leaves the dataset alone.
  batch.x.data_ptr<float>()[0] = -1.0f;
  EXPECT_EQ(dataset.x().to_vector<float>()[8], 4.0f);
}

TEST(TensorDataset, WorksWithoutTargets) {
  const TensorDataset dataset(zeros({3, 4}));
  const Batch batch = dataset.get({2});
  EXPECT_EQ(batch.x.shape(), (Shape{1, 4}));
  EXPECT_FALSE(batch.y.defined());
}

TEST(TensorDataset, RejectsBadShapesAndIndices) {
  expect_contains(error_of([] {
                    (void)TensorDataset(zeros({5, 2}), zeros({4}));
                  }),
                  {"TensorDataset", "[5, 2]", "[4]", "dim 0"});
  expect_contains(error_of([] { (void)TensorDataset(scalar_tensor(1.0)); }),
                  {"TensorDataset", "0-d"});
  expect_contains(error_of([] { (void)TensorDataset(Tensor()); }), {"TensorDataset", "undefined"});
  const TensorDataset dataset = numbered(3);
  expect_contains(error_of([&] {
                    (void)dataset.get({0, 3});
                  }),
                  {"TensorDataset::get", "index 3", "position 1", "3 samples"});
  expect_contains(error_of([&] { (void)dataset.get({-1}); }), {"index -1", "position 0"});
}

TEST(Take, ReturnsRowRangesAsContiguousTensors) {
  const TensorDataset dataset = numbered(5);
  const Batch middle = take(dataset.x(), dataset.y(), 1, 3);
  EXPECT_EQ(middle.x.to_vector<float>(), (std::vector<float>{1, 1.5, 2, 2.5}));
  EXPECT_EQ(middle.y.to_vector<int64_t>(), (std::vector<int64_t>{10, 20}));
  EXPECT_TRUE(middle.x.is_contiguous());
  EXPECT_EQ(take(dataset.x(), Tensor(), 5, 5).x.shape(), (Shape{0, 2}));
  EXPECT_FALSE(take(dataset.x(), Tensor(), 0, 1).y.defined());
  expect_contains(error_of([&] { (void)take(dataset.x(), dataset.y(), 3, 6); }),
                  {"take", "[3, 6)", "5 samples"});
  expect_contains(error_of([&] { (void)take(dataset.x(), dataset.y(), 2, 1); }), {"[2, 1)"});
}

TEST(Split, TakesTheLastFractionAsValidationLikeKeras) {
  // 0.05 of 60000 -> the last 3000 samples, as Keras' fit(validation_split=0.05) on MNIST.
  const Tensor x = arange(60000.0);
  const auto [train, validation] = split(x, x, 0.05);
  EXPECT_EQ(train.size(), 57000);
  EXPECT_EQ(validation.size(), 3000);
  EXPECT_EQ(validation.x().to_vector<int64_t>().front(), 57000);
  EXPECT_EQ(validation.y().to_vector<int64_t>().back(), 59999);
  EXPECT_EQ(train.x().to_vector<int64_t>().back(), 56999);

  // floor(n * (1 - fraction)) training samples: 10 * 0.75 = 7.5 -> 7 train, 3 validation.
  const auto [train10, validation10] = split(numbered(10), 0.25);
  EXPECT_EQ(train10.size(), 7);
  EXPECT_EQ(validation10.size(), 3);
  EXPECT_EQ(validation10.y().to_vector<int64_t>(), (std::vector<int64_t>{70, 80, 90}));
  EXPECT_EQ(validation10.x().shape(), (Shape{3, 2}));

  const auto [train_only, validation_only] = split(numbered(10), 0.2);
  EXPECT_EQ(train_only.size(), 8);
  EXPECT_EQ(validation_only.size(), 2);
}

TEST(Split, RejectsFractionsThatLeaveAnEmptySide) {
  expect_contains(error_of([] { (void)split(numbered(10), 0.0); }),
                  {"split", "validation_fraction", "(0, 1)"});
  expect_contains(error_of([] { (void)split(numbered(10), 1.0); }), {"(0, 1)"});
  // 3 * (1 - 0.1) = 2.7 -> 2 train, 1 validation is fine; with 1e-17, 1 - fraction rounds to 1
  // and no validation sample is left.
  EXPECT_EQ(split(numbered(3), 0.1).second.size(), 1);
  EXPECT_EQ(split(numbered(3), 0.01).second.size(), 1);
  expect_contains(error_of([] { (void)split(numbered(3), 1e-17); }),
                  {"3 samples", "validation set would be empty"});
  expect_contains(error_of([] { (void)split(numbered(3), 0.99); }),
                  {"training set would be empty"});
  expect_contains(error_of([] {
                    (void)split(zeros({4, 1}), zeros({3}), 0.5);
                  }),
                  {"split", "[4, 1]", "[3]"});
}

}  // namespace
}  // namespace nabla::data
