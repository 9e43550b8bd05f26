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

// Several inputs and targets (Keras's fit(x=[a, b], y=[c, d])): a of row i is [i], b is
// [i * 2, i * 2 + 1] (float32), c is i * 10 (int64).
TensorDataset numbered_several(int64_t n) {
  std::vector<float> a;
  std::vector<float> b;
  std::vector<int64_t> c;
  for (int64_t i = 0; i < n; ++i) {
    a.push_back(static_cast<float>(i));
    b.push_back(static_cast<float>(i * 2));
    b.push_back(static_cast<float>(i * 2 + 1));
    c.push_back(i * 10);
  }
  return TensorDataset(std::vector<Tensor>{tensor(a, {n, 1}), tensor(b, {n, 2})},
                       std::vector<Tensor>{tensor(c, {n})});
}

TEST(TensorDataset, SeveralTensorsGiveTheSameRowsOfEach) {
  const TensorDataset dataset = numbered_several(5);
  EXPECT_EQ(dataset.size(), 5);
  ASSERT_EQ(dataset.xs().size(), 2U);
  ASSERT_EQ(dataset.ys().size(), 1U);
  const Batch batch = dataset.get({3, 1});
  ASSERT_EQ(batch.xs.size(), 2U);
  ASSERT_EQ(batch.ys.size(), 1U);
  EXPECT_EQ(batch.xs[0].to_vector<float>(), (std::vector<float>{3, 1}));
  EXPECT_EQ(batch.xs[1].to_vector<float>(), (std::vector<float>{6, 7, 2, 3}));
  EXPECT_EQ(batch.ys[0].to_vector<int64_t>(), (std::vector<int64_t>{30, 10}));
  // x and y are the first input and target; inputs() and targets() read the lists.
  EXPECT_EQ(batch.x.to_vector<float>(), (std::vector<float>{3, 1}));
  EXPECT_EQ(batch.y.to_vector<int64_t>(), (std::vector<int64_t>{30, 10}));
  EXPECT_EQ(batch.inputs().size(), 2U);
  EXPECT_EQ(batch.targets().size(), 1U);

  // The one-tensor dataset fills the lists too, and a Batch with only x and y still answers.
  const Batch single = numbered(3).get({2});
  ASSERT_EQ(single.xs.size(), 1U);
  EXPECT_EQ(single.ys[0].to_vector<int64_t>(), (std::vector<int64_t>{20}));
  Batch plain;
  plain.x = zeros({2, 1});
  EXPECT_EQ(plain.inputs().size(), 1U);
  EXPECT_TRUE(plain.targets().empty());
  const TensorDataset no_targets(std::vector<Tensor>{zeros({2, 1}), zeros({2, 3})});
  EXPECT_FALSE(no_targets.y().defined());
  EXPECT_TRUE(no_targets.get({0}).ys.empty());
}

TEST(TensorDataset, SeveralTensorsMustAgreeInSamples) {
  expect_contains(error_of([] {
                    (void)TensorDataset(std::vector<Tensor>{zeros({4, 2}), zeros({5, 3})},
                                        std::vector<Tensor>{zeros({4})});
                  }),
                  {"TensorDataset", "x[1] of shape [5, 3]", "x[0] of shape [4, 2]", "dim 0"});
  expect_contains(error_of([] {
                    (void)TensorDataset(std::vector<Tensor>{zeros({4, 2})},
                                        std::vector<Tensor>{zeros({4}), zeros({3, 1})});
                  }),
                  {"TensorDataset", "y[1] of shape [3, 1]", "x[0] of shape [4, 2]"});
  expect_contains(error_of([] { (void)TensorDataset(std::vector<Tensor>{}); }),
                  {"TensorDataset", "no input tensors"});
  expect_contains(error_of([] {
                    (void)TensorDataset(std::vector<Tensor>{zeros({4, 2}), Tensor()});
                  }),
                  {"TensorDataset", "x[1]", "undefined"});
  expect_contains(error_of([] {
                    (void)TensorDataset(std::vector<Tensor>{zeros({4, 2})},
                                        std::vector<Tensor>{scalar_tensor(1.0)});
                  }),
                  {"TensorDataset", "y[0]", "0-d"});
}

TEST(Take, SeveralTensorsTakeTheSameRows) {
  const TensorDataset dataset = numbered_several(5);
  const Batch middle = take(dataset.xs(), dataset.ys(), 2, 4);
  ASSERT_EQ(middle.xs.size(), 2U);
  EXPECT_EQ(middle.xs[1].to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(middle.y.to_vector<int64_t>(), (std::vector<int64_t>{20, 30}));
  EXPECT_EQ(take(dataset.xs(), {}, 0, 1).ys.size(), 0U);
  expect_contains(error_of([&] { (void)take(dataset.xs(), dataset.ys(), 4, 6); }),
                  {"take", "[4, 6)", "5 samples", "x[0]"});
  expect_contains(error_of([] {
                    (void)take(std::vector<Tensor>{zeros({3, 1}), zeros({2, 1})}, {}, 0, 1);
                  }),
                  {"take", "x[1] of shape [2, 1]", "x[0] of shape [3, 1]"});
}

TEST(Split, SeveralTensorsSplitAtTheSameRow) {
  const auto [train, validation] = split(numbered_several(10), 0.25);
  EXPECT_EQ(train.size(), 7);
  EXPECT_EQ(validation.size(), 3);
  ASSERT_EQ(validation.xs().size(), 2U);
  EXPECT_EQ(validation.xs()[0].to_vector<float>(), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(validation.xs()[1].to_vector<float>(), (std::vector<float>{14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(validation.ys()[0].to_vector<int64_t>(), (std::vector<int64_t>{70, 80, 90}));
  EXPECT_EQ(train.xs()[1].shape(), (Shape{7, 2}));
  expect_contains(error_of([] { (void)split(numbered_several(3), 1e-17); }),
                  {"validation set would be empty"});
}

}  // namespace
}  // namespace nabla::data
