// Views share storage and describe the right elements; copies happen only when they must.
#include <gtest/gtest.h>

#include "tensor/kernels/kernels.h"

namespace nabla {
namespace {

TEST(Views, ShareStorageWithoutCopying) {
  const Tensor t = kernels::reshape(arange(12), {3, 4});
  const Tensor tr = kernels::transpose(t, 0, 1);
  EXPECT_EQ(tr.storage(), t.storage());
  EXPECT_EQ(tr.shape(), (Shape{4, 3}));
  EXPECT_EQ(tr.strides(), (Shape{1, 4}));
  EXPECT_EQ(kernels::contiguous(tr).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  const Tensor p = kernels::permute(kernels::reshape(arange(24), {2, 3, 4}), {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.to_vector<int64_t>()[1], 4);
  EXPECT_EQ(kernels::squeeze(zeros({1, 3, 1}), std::nullopt).shape(), (Shape{3}));
  EXPECT_EQ(kernels::squeeze(zeros({1, 3, 1}), 0).shape(), (Shape{3, 1}));
  EXPECT_EQ(kernels::unsqueeze(zeros({3}), -1).shape(), (Shape{3, 1}));
  const Tensor e = kernels::expand(tensor({1, 2}), {3, 2});
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{1, 2, 1, 2, 1, 2}));
}

TEST(Views, SliceSelectNarrow) {
  const Tensor t = arange(10);
  EXPECT_EQ(kernels::slice(t, 0, 2, 8, 3).to_vector<int64_t>(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(kernels::slice(t, 0, -3, std::nullopt, 1).to_vector<int64_t>(),
            (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(kernels::slice(t, 0, 8, 2, 1).numel(), 0);
  EXPECT_EQ(kernels::slice(t, 0, -100, 100, 1).numel(), 10);
  const Tensor m = kernels::reshape(arange(12), {3, 4});
  EXPECT_EQ(kernels::select(m, 1, -1).to_vector<int64_t>(), (std::vector<int64_t>{3, 7, 11}));
  EXPECT_EQ(kernels::select(m, 0, 1).to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_THROW((void)kernels::select(m, 0, 3), Error);
  EXPECT_THROW((void)kernels::slice(m, 0, 0, 2, 0), Error);
  try {
    (void)kernels::select(m, 1, 4);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "select: index 4 is out of range for dim 1 of size 4 (shape [3, 4])");
  }
}

TEST(Views, ReshapeViewsWhenPossibleAndCopiesWhenItMust) {
  const Tensor t = kernels::reshape(arange(12), {3, 4});
  EXPECT_EQ(kernels::reshape(t, {2, -1}).storage(), t.storage());
  EXPECT_EQ(kernels::reshape(t, {-1}).shape(), (Shape{12}));
  const Tensor tr = kernels::transpose(t, 0, 1);
  EXPECT_FALSE(kernels::view_if_possible(tr, {12}).has_value());
  const Tensor flat = kernels::reshape(tr, {12});
  EXPECT_NE(flat.storage(), t.storage());
  EXPECT_EQ(flat.to_vector<int64_t>()[1], 4);
  // Splitting a dim of a transposed tensor is still a view.
  EXPECT_TRUE(kernels::view_if_possible(tr, {2, 2, 3}).has_value());
  EXPECT_EQ(kernels::reshape(tr, {2, 2, 3}).to_vector<int64_t>(),
            kernels::reshape(kernels::contiguous(tr), {2, 2, 3}).to_vector<int64_t>());
  EXPECT_THROW((void)kernels::reshape(t, {5, -1}), Error);
  EXPECT_THROW((void)kernels::reshape(t, {-1, -1}), Error);
  EXPECT_THROW((void)kernels::view(tr, {12}), Error);
}

TEST(CopyOps, CatStackToDtypeClone) {
  const Tensor a = tensor({{1, 2}});
  const Tensor b = tensor({{3, 4}, {5, 6}});
  EXPECT_EQ(kernels::cat({a, b}, 0).to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(kernels::cat({b, b}, 1).shape(), (Shape{2, 4}));
  EXPECT_EQ(kernels::stack({a, a}, 1).shape(), (Shape{1, 2, 2}));
  EXPECT_THROW((void)kernels::cat({a, zeros({1, 3})}, 0), Error);
  EXPECT_THROW((void)kernels::stack({a, b}, 0), Error);
  EXPECT_EQ(kernels::to_dtype(tensor({1.7, -1.7}), kInt64).to_vector<int64_t>(),
            (std::vector<int64_t>{1, -1}));
  const Tensor c = kernels::clone(b);
  EXPECT_NE(c.storage(), b.storage());
  EXPECT_EQ(c.to_vector<float>(), b.to_vector<float>());
}

TEST(Indexing, GatherScatterOneHot) {
  const Tensor t = tensor({{1, 2, 3}, {4, 5, 6}});
  const Tensor idx = tensor(std::vector<int64_t>{2, 0}, {2, 1});
  EXPECT_EQ(kernels::gather(t, 1, idx).to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(kernels::scatter_add({2, 3}, 1, idx, ones({2, 1})).to_vector<float>(),
            (std::vector<float>{0, 0, 1, 1, 0, 0}));
  EXPECT_THROW((void)kernels::gather(t, 1, tensor(std::vector<int64_t>{3, 0}, {2, 1})), Error);
  EXPECT_EQ(kernels::one_hot(tensor(std::vector<int64_t>{2, 0}, {2}), 3).to_vector<float>(),
            (std::vector<float>{0, 0, 1, 1, 0, 0}));
  EXPECT_THROW((void)kernels::one_hot(tensor(std::vector<int64_t>{3}, {1}), 3), Error);
  EXPECT_EQ(
      kernels::index_select(t, 0, tensor(std::vector<int64_t>{1, 1, 0}, {3})).to_vector<float>(),
      (std::vector<float>{4, 5, 6, 4, 5, 6, 1, 2, 3}));
}

}  // namespace
}  // namespace nabla
