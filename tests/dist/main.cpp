// main() of dist_tests: joins the MPI job, runs the suite on every rank (rank 0 prints the usual
// report, the other ranks only their failures) and leaves the job. Every test is a collective:
// all ranks run the same tests in the same order.
#include <gtest/gtest.h>

#include <cstdio>

#include "dist/dist.h"

namespace {

class FailuresOnly : public testing::EmptyTestEventListener {
 public:
  explicit FailuresOnly(int64_t rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %lld] %s:%d: failure\n%s\n", static_cast<long long>(rank_),
                 result.file_name() != nullptr ? result.file_name() : "?", result.line_number(),
                 result.message());
  }

 private:
  int64_t rank_;
};

}  // namespace

int main(int argc, char** argv) {
  nabla::dist::init();
  testing::InitGoogleTest(&argc, argv);
  const int64_t rank = nabla::dist::rank();
  if (rank != 0) {
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailuresOnly(rank));
  }
  const int result = RUN_ALL_TESTS();
  nabla::dist::finalize();
  return result;
}
