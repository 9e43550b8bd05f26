// Tests for to_categorical, normalize, mean_std and the image reshapes.
#include "data/transforms.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"
#include "tests/data/test_util.h"

namespace nabla::data {
namespace {

using test_support::error_of;
using test_support::expect_contains;

TEST(ToCategorical, BuildsOneHotRows) {
  const Tensor labels = tensor(std::vector<int64_t>{2, 0, 1, 2}, {4});
  const Tensor one_hot = to_categorical(labels, 3);
  EXPECT_EQ(one_hot.shape(), (Shape{4, 3}));
  EXPECT_EQ(one_hot.dtype(), kFloat32);
  EXPECT_EQ(one_hot.to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(to_categorical(labels, 5, kFloat64).shape(), (Shape{4, 5}));
  EXPECT_EQ(to_categorical(labels, 5, kFloat64).dtype(), kFloat64);
}

TEST(ToCategorical, ReplacesATrailingColumnDimLikeKeras) {
  const Tensor column = tensor(std::vector<int64_t>{1, 0}, {2, 1});
  const Tensor one_hot = to_categorical(column, 2);
  EXPECT_EQ(one_hot.shape(), (Shape{2, 2}));
  EXPECT_EQ(one_hot.to_vector<float>(), (std::vector<float>{0, 1, 1, 0}));
  const Tensor grid = tensor(std::vector<int64_t>{0, 1, 1, 0}, {2, 2});
  EXPECT_EQ(to_categorical(grid, 2).shape(), (Shape{2, 2, 2}));
}

TEST(ToCategorical, NamesTheOutOfRangeLabelAndItsPosition) {
  const Tensor labels = tensor(std::vector<int64_t>{0, 1, 10, 3}, {4});
  expect_contains(error_of([&] { (void)to_categorical(labels, 10); }),
                  {"to_categorical", "label 10", "index [2]", "[0, 10)"});
  const Tensor grid = tensor(std::vector<int64_t>{0, 1, 2, -1, 0, 0}, {2, 3});
  expect_contains(error_of([&] { (void)to_categorical(grid, 3); }),
                  {"label -1", "index [1, 0]", "shape [2, 3]"});
  expect_contains(error_of([&] { (void)to_categorical(zeros({3}), 3); }),
                  {"to_categorical", "int64", "float32"});
  expect_contains(error_of([&] { (void)to_categorical(labels, 0); }),
                  {"to_categorical", "num_classes", "0"});
}

TEST(Normalize, SubtractsMeanAndDividesByStd) {
  const Tensor x = tensor({0.0, 0.5, 1.0});
  const Tensor y = normalize(x, 0.5, 0.25);
  EXPECT_EQ(y.dtype(), kFloat32);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-2.0f, 0.0f, 2.0f}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0.0f, 0.5f, 1.0f}));  // input untouched
  EXPECT_EQ(normalize(tensor({3.0}, kFloat64), 1.0, 4.0).item<double>(), 0.5);

  expect_contains(error_of([&] { (void)normalize(x, 0.0, 0.0); }), {"normalize", "stddev 0"});
  expect_contains(error_of([&] { (void)normalize(x, NAN, 1.0); }), {"normalize", "mean nan"});
  expect_contains(error_of([] { (void)normalize(arange(3.0), 0.0, 1.0); }), {"normalize", "int64"});
}

TEST(Normalize, WithMeanStdGivesZeroMeanUnitStd) {
  const Tensor x = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, kFloat64);
  const auto [mean, stddev] = mean_std(x);
  EXPECT_DOUBLE_EQ(mean, 3.5);
  EXPECT_DOUBLE_EQ(stddev, std::sqrt(17.5 / 6.0));  // population std, as NumPy's x.std()
  const auto [mean2, stddev2] = mean_std(normalize(x, mean, stddev));
  EXPECT_NEAR(mean2, 0.0, 1e-12);
  EXPECT_NEAR(stddev2, 1.0, 1e-12);
  EXPECT_EQ(mean_std(arange(4.0)).first, 1.5);
  expect_contains(error_of([] {
                    (void)mean_std(zeros({0, 3}));
                  }),
                  {"mean_std", "[0, 3]", "no elements"});
}

TEST(ImageShapes, FlattenAndAddChannelDim) {
  const Tensor images = arange(0.0, 24.0, 1.0, kFloat32);
  const Tensor nhw = tensor(images.to_vector<float>(), {2, 3, 4});
  const Tensor flat = flatten_images(nhw);
  EXPECT_EQ(flat.shape(), (Shape{2, 12}));
  EXPECT_EQ(flat.to_vector<float>(), nhw.to_vector<float>());
  EXPECT_EQ(flatten_images(zeros({0, 28, 28})).shape(), (Shape{0, 784}));
  EXPECT_EQ(flatten_images(zeros({5, 1, 2, 3})).shape(), (Shape{5, 6}));

  const Tensor nchw = add_channel_dim(nhw);
  EXPECT_EQ(nchw.shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(nchw.to_vector<float>(), nhw.to_vector<float>());

  expect_contains(error_of([] { (void)flatten_images(zeros({7})); }), {"flatten_images", "[7]"});
  expect_contains(error_of([] {
                    (void)add_channel_dim(zeros({2, 1, 3, 4}));
                  }),
                  {"add_channel_dim", "[N, H, W]", "[2, 1, 3, 4]"});
}

}  // namespace
}  // namespace nabla::data
