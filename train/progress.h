// A Keras-like progress bar: "12/469 [>.....] - ETA: 3s - loss: 0.4821 - accuracy: 0.8612".
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "train/history.h"

namespace nabla::train {

class ProgressBar {
 public:
  // verbose 1: the bar, redrawn in place on a terminal (on a pipe, at most every 10%);
  // verbose 2: one line per epoch; 0: nothing.
  ProgressBar(int64_t total_steps, int verbose, std::FILE* out = stdout);
  void update(int64_t step, const Logs& logs);
  // Final line of the epoch, with validation values if any.
  void finish(const Logs& logs);

  // The bar's text at `step` of `total` after `elapsed` seconds (exposed for tests).
  static std::string render(int64_t step, int64_t total, double elapsed_seconds, const Logs& logs,
                            bool finished);

 private:
  int64_t total_;
  int verbose_;
  std::FILE* out_;
  bool interactive_;
  int64_t last_printed_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "3s", "450ms", "1:02" as Keras shows durations.
std::string format_duration(double seconds);

}  // namespace nabla::train
