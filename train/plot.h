// SVG pictures of training: line charts with named series and histograms laid out as panels of a
// Figure, the curves of a History, and the TrainingPlots callback that keeps both up to date.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nn/module.h"
#include "train/callbacks.h"
#include "train/history.h"

namespace nabla::train {

namespace plot {

// One named curve. Non-finite points are skipped: the line breaks there instead of dropping to
// zero, so a test curve sampled every N steps can share the x axis of a per-step train curve.
struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;  // as many values as x
  std::string color;      // empty: taken from the palette by position
  double width = 1.75;    // stroke width in pixels
  double opacity = 1.0;   // < 1 for noisy per-step curves drawn under smoother ones
  bool markers = false;   // a dot at each point (isolated points always get one)
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  // Fixed axis ends (finite, min <= max); absent ones come from the data (with a small margin
  // on y).
  std::optional<double> x_min, x_max, y_min, y_max;
};

// Bars over bins: counts[i] covers [edges[i], edges[i + 1]), so edges has one more entry.
struct Histogram {
  std::string title;
  std::string x_label;
  std::vector<double> edges;
  std::vector<double> counts;
  std::string color = "#4c72b0";
};

// Equal-width bins from the finite values' min to max; the maximum falls in the last bin, which
// is closed. A constant input gets a unit-wide range around its value (so it still shows as one
// bar), no finite value at all the range [0, 1). Non-finite values are not counted. Throws
// nabla::Error when bins <= 0.
[[nodiscard]] Histogram make_histogram(const std::vector<double>& values, int bins,
                                       std::string title = "", std::string x_label = "");

using Panel = std::variant<LineChart, Histogram>;

// Panels laid out row by row in a grid of `columns`, each panel_width x panel_height pixels,
// under an optional figure title. The SVG is a standalone document: text is escaped, ids are
// unique within it, and the same figure always gives the same bytes.
class Figure {
 public:
  // Throws nabla::Error when columns <= 0 or a panel size is not a positive finite number.
  explicit Figure(int columns = 1, double panel_width = 560.0, double panel_height = 360.0,
                  std::string title = "");

  Figure& add(Panel panel);
  [[nodiscard]] size_t size() const { return panels_.size(); }
  [[nodiscard]] const std::vector<Panel>& panels() const { return panels_; }

  // Throws nabla::Error naming the panel for a series whose x and y differ in length, a
  // non-finite or reversed fixed axis end, or a histogram whose edges are not counts + 1.
  [[nodiscard]] std::string to_svg() const;
  // Writes the SVG atomically (a temporary file renamed over `path`); throws nabla::Error naming
  // the path and the system's reason when that fails.
  void save(const std::string& path) const;

 private:
  int columns_;
  double panel_width_;
  double panel_height_;
  std::string title_;
  std::vector<Panel> panels_;
};

// One panel per logged value over the epochs, with its validation twin on the same axes ("loss"
// with "val_loss", "accuracy" with "val_accuracy"): "loss" first, then the others by name, the
// learning rate ("lr") last. Epochs that did not log a value (NaN) break its line.
[[nodiscard]] Figure history_figure(const History& history, const std::string& title = "");

// One histogram of `bins` bins per tensor, titled by its name and shape (a Module's
// named_parameters(), say). Throws nabla::Error when bins <= 0.
[[nodiscard]] Figure weight_histograms(const nn::NamedTensors& tensors, int bins,
                                       const std::string& title = "", int columns = 2);

}  // namespace plot

struct TrainingPlotsOptions {
  int bins = 30;           // per weight histogram
  bool histograms = true;  // false: the curves only
  std::string title;       // figure titles start with it (the model's name, a run id)
};

// Writes the curves of the epochs so far (plot::history_figure) and the histograms of the
// network's parameters (plot::weight_histograms) as SVG at each epoch end and at the end of
// training, atomically, so a browser can watch a long run. `prefix` is a directory (an existing
// one, or a path ending in '/') that gets "curves.svg" and "weights.svg", or else the start of
// the file names: "runs/mlp" writes "runs/mlp_curves.svg" and "runs/mlp_weights.svg" (beside a
// CSVLogger's "runs/mlp.csv"). Directories are not created; a file that cannot be written throws
// nabla::Error naming it.
class TrainingPlots : public Callback {
 public:
  explicit TrainingPlots(const std::string& prefix, TrainingPlotsOptions options = {});
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int64_t epoch, Logs& logs) override;
  void on_train_end(Model& model, const History& history) override;

  [[nodiscard]] const std::string& curves_path() const { return curves_path_; }
  [[nodiscard]] const std::string& weights_path() const { return weights_path_; }

 private:
  void write(Model& model, const History& history, int64_t epochs) const;

  TrainingPlotsOptions options_;
  std::string curves_path_;
  std::string weights_path_;
  History history_;  // the epochs of this fit so far (Model appends its own after the callbacks)
};

}  // namespace nabla::train
