// Progress bar rendering; drawing in place only when stdout is a terminal keeps CI logs short.
#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>

namespace nabla::train {
namespace {

constexpr int kBarWidth = 30;

std::string format_logs(const Logs& logs) {
  std::string out;
  // Keras order: loss first, then the rest; validation values last.
  auto append = [&out](const std::string& key, double value) {
    out += fmt::format(" - {}: {:.4f}", key, value);
  };
  if (auto it = logs.find("loss"); it != logs.end()) append(it->first, it->second);
  for (const auto& [key, value] : logs) {
    if (key != "loss" && key.rfind("val_", 0) != 0 && key != "lr") append(key, value);
  }
  for (const auto& [key, value] : logs) {
    if (key.rfind("val_", 0) == 0) append(key, value);
  }
  return out;
}

}  // namespace

std::string format_duration(double seconds) {
  if (seconds < 1.0) return fmt::format("{:.0f}ms", seconds * 1000.0);
  if (seconds < 60.0) return fmt::format("{:.0f}s", seconds);
  const auto whole = static_cast<int64_t>(seconds);
  if (whole < 3600) return fmt::format("{}:{:02}", whole / 60, whole % 60);
  return fmt::format("{}:{:02}:{:02}", whole / 3600, (whole / 60) % 60, whole % 60);
}

ProgressBar::ProgressBar(int64_t total_steps, int verbose, std::FILE* out)
    : total_(total_steps),
      verbose_(verbose),
      out_(out),
      interactive_(out == stdout && isatty(fileno(stdout)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressBar::render(int64_t step, int64_t total, double elapsed_seconds,
                                const Logs& logs, bool finished) {
  const int digits = static_cast<int>(std::to_string(total).size());
  std::string bar;
  const int64_t filled = total > 0 ? kBarWidth * step / total : kBarWidth;
  for (int64_t i = 0; i < kBarWidth; ++i) {
    if (i >= filled) {
      bar += '.';
    } else {
      bar += (i == filled - 1 && step < total) ? '>' : '=';
    }
  }
  std::string timing;
  if (finished) {
    const double per_step = step > 0 ? elapsed_seconds / static_cast<double>(step) : 0.0;
    timing =
        fmt::format(" - {} {}/step", format_duration(elapsed_seconds), format_duration(per_step));
  } else {
    const double eta =
        step > 0 ? elapsed_seconds / static_cast<double>(step) * static_cast<double>(total - step)
                 : 0.0;
    timing = fmt::format(" - ETA: {}", format_duration(eta));
  }
  return fmt::format("{:>{}}/{} [{}]{}{}", step, digits, total, bar, timing, format_logs(logs));
}

void ProgressBar::update(int64_t step, const Logs& logs) {
  if (verbose_ != 1) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (interactive_) {
    if (step < total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    fmt::print(out_, "\r{}", render(step, total_, elapsed, logs, false));
    std::fflush(out_);
    return;
  }
  const int64_t decile = total_ > 0 ? 10 * step / total_ : 10;
  if (decile == last_printed_decile_ || step >= total_) return;
  last_printed_decile_ = decile;
  fmt::print(out_, "{}\n", render(step, total_, elapsed, logs, false));
  std::fflush(out_);
}

void ProgressBar::finish(const Logs& logs) {
  if (verbose_ == 0) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (verbose_ == 2) {
    fmt::print(out_, "{}{}\n", format_duration(elapsed), format_logs(logs));
  } else {
    fmt::print(out_, "{}{}\n", interactive_ ? "\r" : "",
               render(total_, total_, elapsed, logs, true));
  }
  std::fflush(out_);
}

}  // namespace nabla::train
