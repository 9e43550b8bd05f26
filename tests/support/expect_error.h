// The one helper every suite uses to assert an error: it needs only tensor/error.h, so suites of
// any layer (tensor/ included) can use it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tensor/error.h"

namespace nabla::testing {

// Runs `fn`, expecting a nabla::Error whose message contains `fragment`.
template <typename Fn>
void expect_error_containing(Fn fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected a nabla::Error containing \"" << fragment << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace nabla::testing
