// Gradient table for views, copies, concatenation and indexing.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "tests/support/expect_error.h"
#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::GradTable;
using testing::UnaryCase;

// Rows that must accept any of the layouts (0-d included) are written to adapt to the rank.
INSTANTIATE_TEST_SUITE_P(
    Shape, GradTable,
    ::testing::ValuesIn(testing::
                            on_every_layout(std::vector<UnaryCase>{UnaryCase{"reshape",
                                                                             [](const Tensor& a) {
                                                                               return reshape(
                                                                                          a, {-1}) *
                                                                                      2.0;
                                                                             }},
                                                                   UnaryCase{"flatten",
                                                                             [](const Tensor& a) {
                                                                               return flatten(a) *
                                                                                      flatten(a);
                                                                             }},
                                                                   UnaryCase{
                                                                       "transpose",
                                                                       [](const Tensor& a) {
                                                                         return a.dim() < 2
                                                                                    ? a * a
                                                                                    : transpose(
                                                                                          a, 0, 1) *
                                                                                          arange(
                                                                                              1.0,
                                                                                              1.0 +
                                                                                                  static_cast<
                                                                                                      double>(
                                                                                                      a.size(
                                                                                                          0)),
                                                                                              1.0,
                                                                                              kFloat64);
                                                                       }},
                                                                   UnaryCase{
                                                                       "permute",
                                                                       [](const Tensor& a) {
                                                                         std::vector<int64_t> order;
                                                                         for (int64_t d =
                                                                                  a.dim() - 1;
                                                                              d >= 0; --d)
                                                                           order.push_back(d);
                                                                         return permute(a, order) *
                                                                                permute(a, order);
                                                                       }},
                                                                   UnaryCase{"unsqueeze_squeeze",
                                                                             [](const Tensor& a) {
                                                                               return squeeze(
                                                                                   unsqueeze(a, 0) *
                                                                                   3.0);
                                                                             }},
                                                                   UnaryCase{
                                                                       "broadcast_to",
                                                                       [](const Tensor& a) {
                                                                         Shape shape = a.shape();
                                                                         shape.insert(shape.begin(),
                                                                                      3);
                                                                         return broadcast_to(
                                                                                    a, shape) *
                                                                                2.0;
                                                                       }},
                                                                   UnaryCase{
                                                                       "expand",
                                                                       [](const Tensor& a) {
                                                                         Shape shape = a.shape();
                                                                         shape.insert(shape.begin(),
                                                                                      2);
                                                                         Shape weight_shape(
                                                                             shape.size(), 1);
                                                                         weight_shape[0] = 2;
                                                                         return expand(a, shape) *
                                                                                tensor({1.0, 2.0},
                                                                                       kFloat64)
                                                                                    .reshape(
                                                                                        weight_shape);
                                                                       }},
                                                                   UnaryCase{
                                                                       "slice_step",
                                                                       [](const Tensor& a) {
                                                                         return a.dim() == 0
                                                                                    ? a * a
                                                                                    : slice(
                                                                                          a, -1, 0,
                                                                                          std::
                                                                                              nullopt,
                                                                                          2) *
                                                                                          5.0;
                                                                       }},
                                                                   UnaryCase{
                                                                       "slice_negative",
                                                                       [](const Tensor& a) {
                                                                         return a.dim() == 0
                                                                                    ? a * a
                                                                                    : slice(
                                                                                          a, 0, -1,
                                                                                          std::
                                                                                              nullopt,
                                                                                          1) *
                                                                                          a.select(
                                                                                              0, 0);
                                                                       }},
                                                                   UnaryCase{"select",
                                                                             [](const Tensor& a) {
                                                                               return a.dim() == 0
                                                                                          ? a
                                                                                          : select(
                                                                                                a,
                                                                                                -1,
                                                                                                0) *
                                                                                                2.0;
                                                                             }},
                                                                   UnaryCase{
                                                                       "narrow",
                                                                       [](const Tensor& a) {
                                                                         return a.dim() == 0
                                                                                    ? a
                                                                                    : narrow(a, -1,
                                                                                             0, 1) *
                                                                                          a;
                                                                       }},
                                                                   UnaryCase{"contiguous_clone",
                                                                             [](const Tensor& a) {
                                                                               return contiguous(
                                                                                          a) *
                                                                                      clone(a);
                                                                             }},
                                                                   UnaryCase{"cat",
                                                                             [](const Tensor& a) {
                                                                               const Tensor b =
                                                                                   a.dim() == 0
                                                                                       ? reshape(
                                                                                             a, {1})
                                                                                       : a;
                                                                               return cat({b, b * b,
                                                                                           b * 3.0},
                                                                                          0);
                                                                             }},
                                                                   UnaryCase{"stack",
                                                                             [](const Tensor& a) {
                                                                               return stack(
                                                                                   {a, a * a}, 0);
                                                                             }},
                                                                   UnaryCase{
                                                                       "gather",
                                                                       [](const Tensor& a) {
                                                                         const Tensor b =
                                                                             a.dim() == 0
                                                                                 ? reshape(a, {1})
                                                                                 : reshape(a, {-1});
                                                                         const Tensor index =
                                                                             tensor(
                                                                                 std::vector<
                                                                                     int64_t>{
                                                                                     0, 0,
                                                                                     b.numel() - 1},
                                                                                 {3});
                                                                         return gather(b, 0,
                                                                                       index) *
                                                                                2.0;
                                                                       }},
                                                                   UnaryCase{
                                                                       "index_select",
                                                                       [](const Tensor& a) {
                                                                         const Tensor b =
                                                                             a.dim() == 0
                                                                                 ? reshape(a, {1})
                                                                                 : a;
                                                                         const Tensor index =
                                                                             tensor(
                                                                                 std::vector<
                                                                                     int64_t>{0, 0},
                                                                                 {2});
                                                                         return index_select(
                                                                                    b, 0, index) *
                                                                                b.select(0, 0);
                                                                       }},
                                                                   UnaryCase{
                                                                       "index_add",
                                                                       [](const Tensor& a) {
                                                                         const Tensor b =
                                                                             a.dim() == 0
                                                                                 ? reshape(a, {1})
                                                                                 : a;
                                                                         std::vector<int64_t>
                                                                             positions;  // repeats,
                                                                                         // so
                                                                                         // slices
                                                                                         // add up
                                                                         for (int64_t i = 0;
                                                                              i < b.size(0); ++i)
                                                                           positions.push_back(
                                                                               (2 * i) % 3);
                                                                         const Tensor index =
                                                                             tensor(positions,
                                                                                    {b.size(0)});
                                                                         Shape shape = b.shape();
                                                                         shape[0] = 3;
                                                                         return index_add(shape, 0,
                                                                                          index,
                                                                                          b) *
                                                                                index_add(shape, 0,
                                                                                          index, b);
                                                                       }}})),
    testing::grad_case_name);

TEST(ShapeGrad, CatGradientGoesToEachPiece) {
  Tensor a = ones({2}).requires_grad_();
  Tensor b = ones({3}).requires_grad_();
  const Tensor weights = tensor({1, 2, 3, 4, 5});
  sum(cat({a, b}) * weights).backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{3, 4, 5}));
}

TEST(ShapeGrad, StridedSliceLeavesSkippedElementsAtZero) {
  Tensor a = ones({5}).requires_grad_();
  sum(slice(a, 0, 1, std::nullopt, 2)).backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{0, 1, 0, 1, 0}));
}

// Regression: slice and narrow with bounds near INT64_MAX returned wrong shapes (or overflowed).
TEST(ShapeOps, SliceAndNarrowHandleBoundsNearInt64Max) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const Tensor t = arange(10).reshape({2, 5});
  const Tensor first = t.slice(1, 0, 5, kMax);
  EXPECT_EQ(first.shape(), (Shape{2, 1}));
  EXPECT_EQ(first.to_vector<int64_t>(), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(t.slice(1, kMax, kMax, 1).shape(), (Shape{2, 0}));
  EXPECT_EQ(t.slice(1, std::numeric_limits<int64_t>::min(), kMax, kMax - 1).shape(), (Shape{2, 1}));
  EXPECT_EQ(t.slice(1, 1, kMax, 3).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 6, 9}));
  testing::expect_error_containing(
      [&] { (void)t.narrow(1, 1, kMax); },
      "narrow: start 1 and length 9223372036854775807 do not fit dim 1 of size 5");
  testing::expect_error_containing([&] { (void)t.narrow(1, kMax, 1); }, "narrow: start");
  testing::expect_error_containing([&] { (void)t.narrow(1, -1, kMax); }, "narrow: start");
  EXPECT_EQ(t.narrow(1, 5, 0).shape(), (Shape{2, 0}));
}

}  // namespace
}  // namespace nabla
