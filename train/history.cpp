// History bookkeeping and CSV output.
#include "train/history.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "tensor/error.h"
#include "tensor/io/binary.h"
#include "train/plot.h"

namespace nabla::train {

void History::append(int64_t epoch, const Logs& logs) {
  const size_t previous = epochs_.size();
  epochs_.push_back(epoch);
  for (const auto& [key, value] : logs) {
    auto& column = values_[key];
    column.resize(previous, std::numeric_limits<double>::quiet_NaN());
    column.push_back(value);
  }
  for (auto& [key, column] : values_) {
    column.resize(epochs_.size(), std::numeric_limits<double>::quiet_NaN());
  }
}

std::vector<double> History::values(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    std::string known;
    for (const auto& [name, column] : values_) known += (known.empty() ? "" : ", ") + name;
    throw error("History: no values logged for '{}' (logged: {})", key, known);
  }
  return it->second;
}

std::vector<std::string> History::keys() const {
  std::vector<std::string> out;
  for (const auto& [key, column] : values_) out.push_back(key);
  return out;
}

std::string History::to_csv() const {
  std::string out = "epoch";
  for (const auto& [key, column] : values_) out += "," + key;
  out += "\n";
  for (size_t row = 0; row < epochs_.size(); ++row) {
    out += std::to_string(epochs_[row]);
    for (const auto& [key, column] : values_) {
      out += std::isnan(column[row]) ? std::string(",") : fmt::format(",{:.8g}", column[row]);
    }
    out += "\n";
  }
  return out;
}

void History::write_csv(const std::string& path) const {
  // Atomic: an interrupted or failed write leaves the previous file, never half a table.
  const std::string csv = to_csv();
  io::AtomicFile file(path, fmt::format("History::write_csv: {}: ", path));
  file.write(csv.data(), csv.size());
  file.commit();
}

std::string History::to_svg(const std::string& title) const {
  return plot::history_figure(*this, title).to_svg();
}

void History::write_svg(const std::string& path, const std::string& title) const {
  plot::history_figure(*this, title).save(path);
}

}  // namespace nabla::train
