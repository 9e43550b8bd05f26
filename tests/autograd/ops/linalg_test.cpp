// matmul: forward values against hand-computed products, gradients for every rank combination.
#include <gtest/gtest.h>

#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::GradCase;
using testing::GradTable;
using testing::leaf;
using testing::transposed_leaf;

// Every rank combination and layout of matmul, first and second derivatives.
GradCase matmul_case(const std::string& name, const Tensor& a, const Tensor& b) {
  return {name, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b}};
}

INSTANTIATE_TEST_SUITE_P(
    Matmul, GradTable,
    ::testing::Values(matmul_case("2d_2d", leaf({3, 4}, 1), leaf({4, 2}, 2)),
                      matmul_case("1d_1d", leaf({4}, 3), leaf({4}, 4)),
                      matmul_case("1d_2d", leaf({3}, 5), leaf({3, 2}, 6)),
                      matmul_case("2d_1d", leaf({2, 3}, 7), leaf({3}, 8)),
                      matmul_case("batched", leaf({2, 3, 4}, 9), leaf({2, 4, 2}, 10)),
                      matmul_case("broadcast_batch", leaf({2, 1, 2, 3}, 11), leaf({3, 3, 2}, 12)),
                      matmul_case("batched_1d", leaf({2, 3, 4}, 13), leaf({4}, 14)),
                      matmul_case("1d_batched", leaf({3}, 15), leaf({2, 3, 2}, 16)),
                      matmul_case("transposed", transposed_leaf({3, 4}, 17),
                                  transposed_leaf({4, 2}, 18)),
                      matmul_case("strided", testing::strided_leaf({2, 3}, 19), leaf({3, 3}, 20)),
                      matmul_case("size_one", leaf({1, 1}, 21), leaf({1, 3}, 22))),
    testing::grad_case_name);

TEST(MatmulForward, MatchesHandComputedProducts) {
  const Tensor a = tensor({{1, 2, 3}, {4, 5, 6}});
  const Tensor b = tensor({{7, 8}, {9, 10}, {11, 12}});
  EXPECT_EQ(matmul(a, b).to_vector<float>(), (std::vector<float>{58, 64, 139, 154}));
  EXPECT_EQ(matmul(b.t(), a.t()).to_vector<float>(), (std::vector<float>{58, 139, 64, 154}));
  EXPECT_EQ(matmul(tensor({1, 2, 3}), tensor({4, 5, 6})).item(), 32.0);
  EXPECT_EQ(matmul(tensor({1, 1}), a).to_vector<float>(), (std::vector<float>{5, 7, 9}));
  const Tensor batched = matmul(stack({a, a * 2.0}), b);
  EXPECT_EQ(batched.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(batched.to_vector<float>(), (std::vector<float>{58, 64, 139, 154, 116, 128, 278, 308}));
  const Tensor ints = matmul(tensor(std::vector<int64_t>{1, 2, 3, 4}, {2, 2}),
                             tensor(std::vector<int64_t>{5, 6, 7, 8}, {2, 2}));
  EXPECT_EQ(ints.to_vector<int64_t>(), (std::vector<int64_t>{19, 22, 43, 50}));
}

TEST(MatmulForward, EmptyInnerDimGivesZeros) {
  EXPECT_EQ(matmul(zeros({2, 0}), zeros({0, 3})).to_vector<float>(), std::vector<float>(6, 0.0F));
}

TEST(MatmulErrors, NameShapes) {
  try {
    (void)matmul(zeros({2, 3}), zeros({4, 5}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  }
  EXPECT_THROW((void)matmul(zeros({}), zeros({2})), Error);
  EXPECT_THROW((void)matmul(zeros({2, 2, 3}), zeros({3, 3, 2})), Error);
  // Regression: the batched error named only the batch dims ("shapes [2] and [3]").
  try {
    (void)matmul(zeros({2, 2, 3}), zeros({3, 3, 4}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "matmul: shapes [2, 2, 3] and [3, 3, 4] cannot be multiplied: batch dims [2] and "
                 "[3] do not broadcast");
  }
}

}  // namespace
}  // namespace nabla
