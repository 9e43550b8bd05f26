// History: the per-epoch logs of fit (loss, metrics, validation values, learning rate).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace nabla::train {

using Logs = std::map<std::string, double>;

class History {
 public:
  void append(int64_t epoch, const Logs& logs);
  [[nodiscard]] const std::vector<int64_t>& epochs() const { return epochs_; }
  // The values of one key, one per epoch (NaN where an epoch did not log it).
  [[nodiscard]] std::vector<double> values(const std::string& key) const;
  [[nodiscard]] std::vector<std::string> keys() const;
  [[nodiscard]] bool empty() const { return epochs_.empty(); }
  // "epoch,accuracy,loss,...\n0,0.91,0.25,...\n" with keys in sorted order.
  [[nodiscard]] std::string to_csv() const;
  void write_csv(const std::string& path) const;
  // The curves as an SVG figure, one panel per value with its validation twin
  // (plot::history_figure in train/plot.h); write_svg writes it atomically.
  [[nodiscard]] std::string to_svg(const std::string& title = "") const;
  void write_svg(const std::string& path, const std::string& title = "") const;

 private:
  std::vector<int64_t> epochs_;
  std::map<std::string, std::vector<double>> values_;
};

}  // namespace nabla::train
