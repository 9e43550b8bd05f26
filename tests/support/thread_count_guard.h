// Restores the thread count (nabla::set_num_threads) a test changes, also when an assertion or an
// exception leaves the test early. Needs only tensor/, so suites of any layer can use it.
#pragma once

#include "tensor/parallel.h"

namespace nabla::testing {

class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(get_num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;
  ThreadCountGuard(ThreadCountGuard&&) = delete;
  ThreadCountGuard& operator=(ThreadCountGuard&&) = delete;

 private:
  int saved_;
};

}  // namespace nabla::testing
