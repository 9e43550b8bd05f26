// The shared gradient-table test: every family's rows (INSTANTIATE_TEST_SUITE_P of GradTable in
// its own file) run through this one TEST_P.
#include "tests/support/gradcheck_support.h"

namespace nabla::testing {
namespace {

TEST_P(GradTable, MatchesNumericalDerivatives) {
  const GradCase& c = GetParam();
  expect_gradcheck(c.fn, c.inputs, c.name);
  if (c.second_order) expect_gradgradcheck(c.fn, c.inputs, c.name);
}

}  // namespace
}  // namespace nabla::testing
