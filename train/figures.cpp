// history_figure and weight_histograms: History and module state drawn with train/plot.h.
#include "train/figures.h"

#include <set>
#include <utility>
#include <vector>

namespace nabla::train {

plot::Figure history_figure(const History& history, const std::string& title, int columns) {
  if (history.empty()) throw error("history_figure: the history has no epochs");
  std::vector<double> x;
  for (const int64_t epoch : history.epochs()) x.push_back(static_cast<double>(epoch + 1));
  const std::vector<std::string> keys = history.keys();
  const std::set<std::string> present(keys.begin(), keys.end());
  plot::Figure figure(columns, 560.0, 360.0, title);
  std::vector<std::string> panels;  // base names, "lr" last
  for (const std::string& key : keys) {
    if (key == "lr") continue;
    const std::string base = key.rfind("val_", 0) == 0 ? key.substr(4) : key;
    if (base != key && present.contains(base)) continue;  // drawn with its training twin
    panels.push_back(base);
  }
  if (present.contains("lr")) panels.emplace_back("lr");
  for (const std::string& base : panels) {
    plot::LineChart chart{base,         "epoch",      base,         {},
                          std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    for (const std::string& key : {base, "val_" + base}) {
      if (!present.contains(key) || (base == "lr" && key != base)) continue;
      plot::Series series{key, x, history.values(key)};
      series.markers = x.size() < 30;
      chart.series.push_back(std::move(series));
    }
    figure.add(std::move(chart));
  }
  return figure;
}

plot::Figure weight_histograms(const nn::Module& module, int bins, const std::string& title,
                               int columns, bool buffers) {
  const nn::NamedTensors tensors = buffers ? module.state() : module.named_parameters();
  if (tensors.empty()) {
    throw error("weight_histograms: the module has no {} (build it first)",
                buffers ? "parameters or buffers" : "parameters");
  }
  plot::Figure figure(columns, 420.0, 300.0, title);
  for (const auto& [name, tensor] : tensors) {
    figure.add(plot::make_histogram(tensor.to_vector<double>(), bins,
                                    fmt::format("{} {}", name, shape_str(tensor.shape())),
                                    "value"));
  }
  return figure;
}

}  // namespace nabla::train
