// Gradient table for reductions and the softmax family, plus their forward values.
#include <gtest/gtest.h>

#include "tests/support/gradcheck_support.h"

namespace nabla {
namespace {

using testing::GradTable;
using testing::UnaryCase;

// Each op is applied over the last dim when the input has one, else over all dims, so the same row
// works for 0-d inputs.
int64_t last(const Tensor& a) { return a.dim() == 0 ? 0 : -1; }
std::vector<int64_t> last_dims(const Tensor& a) {
  return a.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{-1};
}
// Ops whose value is constant over a single element (var, log_softmax) get a new last dim of
// two distinct functions of `a`, so that no layout makes the check vacuous.
Tensor pair(const Tensor& a) { return stack({a, a * a + 0.5}, -1); }

INSTANTIATE_TEST_SUITE_P(
    Reduce, GradTable,
    ::testing::ValuesIn(testing::on_every_layout(std::vector<UnaryCase>{
        UnaryCase{"sum_all", [](const Tensor& a) { return sum(a * a); }},
        UnaryCase{"sum_last_keepdim",
                  [](const Tensor& a) { return sum(a, last_dims(a), true) * a; }},
        UnaryCase{"sum_first", [](const Tensor& a) { return a.dim() < 2 ? sum(a) : sum(a, {0}); }},
        UnaryCase{"mean_all", [](const Tensor& a) { return mean(a * a); }},
        UnaryCase{"mean_last", [](const Tensor& a) { return mean(a, last_dims(a)); }},
        UnaryCase{"amax_all", [](const Tensor& a) { return amax(a); }},
        UnaryCase{"amax_last", [](const Tensor& a) { return amax(a, last_dims(a)); }},
        UnaryCase{"amin_last_keepdim", [](const Tensor& a) { return amin(a, last_dims(a), true); }},
        UnaryCase{"var_all", [](const Tensor& a) { return var(pair(a)); }},
        UnaryCase{"var_last_biased", [](const Tensor& a) { return var(pair(a), {-1}, 0, true); }},
        UnaryCase{"std_last", [](const Tensor& a) { return std(pair(a), {-1}); }},
        UnaryCase{"logsumexp_last", [](const Tensor& a) { return logsumexp(a, last_dims(a)); }},
        UnaryCase{"logsumexp_all_keepdim", [](const Tensor& a) { return logsumexp(a, {}, true); }},
        UnaryCase{"softmax_last", [](const Tensor& a) { return softmax(a, last(a)) * a; }},
        UnaryCase{"softmax_first", [](const Tensor& a) { return softmax(a, 0) * a; }},
        UnaryCase{"log_softmax_last", [](const Tensor& a) { return log_softmax(pair(a), -1); }},
        UnaryCase{
            "sum_to",
            [](const Tensor&
                   a) { return a.dim() == 2 ? sum_to(a * a, {1, a.size(1)}) : sum_to(a * a, {}); }}})),
    testing::grad_case_name);

TEST(ReduceForward, MatchesHandComputedValues) {
  const Tensor a = tensor({{1, 5, 3}, {4, 2, 6}});
  EXPECT_EQ(sum(a).item(), 21.0);
  EXPECT_EQ(sum(a, {0}).to_vector<float>(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(sum(a, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(mean(a, {1}).to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(amax(a, {1}).to_vector<float>(), (std::vector<float>{5, 6}));
  EXPECT_EQ(amin(a, {0}).to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(argmax(a, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(argmax(a).item<int64_t>(), 5);
  EXPECT_EQ(argmin(a, 0, true).shape(), (Shape{1, 3}));
  EXPECT_NEAR(var(a).item(), 3.5, 1e-6);
  EXPECT_NEAR(var(a, {1}, 0).to_vector<float>()[0], 8.0F / 3.0F, 1e-6);
  EXPECT_NEAR(std(tensor({2, 4, 4, 4, 5, 5, 7, 9}), {}, 0).item(), 2.0, 1e-6);
  const Tensor lse = logsumexp(tensor({{1000.0, 1000.0}}, kFloat64), {1});
  EXPECT_NEAR(lse.item(), 1000.0 + std::log(2.0), 1e-9);
  const Tensor sm = softmax(tensor({{1000.0, 0.0, -1000.0}}, kFloat64), 1);
  EXPECT_EQ(sm.to_vector<double>(), (std::vector<double>{1.0, 0.0, 0.0}));
  const Tensor lsm = log_softmax(tensor({{0.0, -2000.0}}, kFloat64), 1);
  EXPECT_EQ(lsm.to_vector<double>(), (std::vector<double>{0.0, -2000.0}));
}

TEST(ReduceGrad, MaxTiesShareTheGradient) {
  Tensor a = tensor({{1.0, 3.0, 3.0}}, kFloat64).requires_grad_();
  amax(a).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.0, 0.5, 0.5}));
}

TEST(ReduceErrors, NameOpAndDims) {
  const Tensor a = zeros({2, 3});
  try {
    (void)sum(a, {2});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "sum: dim 2 is out of range for a tensor with 2 dims (expected -2 to 1)");
  }
  EXPECT_THROW((void)sum(a, {1, -1}), Error);
  EXPECT_THROW((void)amax(zeros({0, 3}), {0}), Error);
  EXPECT_THROW((void)softmax(a, 5), Error);
  EXPECT_THROW((void)argmax(zeros({0})), Error);
}

}  // namespace
}  // namespace nabla
