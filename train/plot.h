// A small SVG writer: line charts with named series and histograms, laid out as panels of a
// Figure. It needs nothing of nabla but its Error; train/figures.h draws a History's curves and a
// module's weight histograms with it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tensor/error.h"

namespace nabla::plot {

// One named curve. NaN points are skipped: the line breaks there instead of dropping to zero, so
// a test curve sampled every N steps can share the x axis of a per-step train curve.
struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::string color;     // empty: taken from the palette by position
  double width = 1.75;   // stroke width in pixels
  double opacity = 1.0;  // < 1 for noisy per-step curves drawn under smoother ones
  bool markers = false;  // a dot at each point (isolated points always get one)
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  // Fixed axis ends; absent ones come from the data (with a small margin on y).
  std::optional<double> x_min, x_max, y_min, y_max;
};

// Bars over bins: counts[i] covers [edges[i], edges[i + 1]).
struct Histogram {
  std::string title;
  std::string x_label;
  std::vector<double> edges;
  std::vector<double> counts;
  std::string color = "#4c72b0";
};

// Equal-width bins from the finite values' min to max (a constant input gets a unit-wide range
// around its value, so it still shows as one bar). Non-finite values are not counted.
inline Histogram make_histogram(const std::vector<double>& values, int bins, std::string title = "",
                                std::string x_label = "") {
  if (bins <= 0) throw error("make_histogram: bins must be positive, got {}", bins);
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(lo <= hi)) {  // no finite value at all
    lo = 0.0;
    hi = 1.0;
  } else if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  Histogram h;
  h.title = std::move(title);
  h.x_label = std::move(x_label);
  const auto n = static_cast<size_t>(bins);
  h.edges.resize(n + 1);
  for (size_t i = 0; i <= n; ++i) {
    h.edges[i] = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n);
  }
  h.edges[n] = hi;  // exactly, so the maximum falls in the last bin below
  h.counts.assign(n, 0.0);
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    auto bin = static_cast<size_t>((v - lo) / (hi - lo) * static_cast<double>(n));
    h.counts[std::min(bin, n - 1)] += 1.0;  // the maximum belongs to the last, closed bin
  }
  return h;
}

namespace detail {

inline const std::vector<std::string>& palette() {
  // Matplotlib's "tab10": distinct in colour and in lightness.
  static const std::vector<std::string> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                    "#bcbd22", "#17becf"};
  return kPalette;
}

inline std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Coordinates with two decimals: plenty for pixels and keeps files small.
inline std::string num(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return buffer;
}

using Attributes = std::vector<std::pair<std::string, std::string>>;

// Appends <name a="v" ...>text</name>, or <name a="v" .../> when text is empty; escapes both.
inline void write_start(std::string& out, const std::string& name, const Attributes& attributes) {
  out += '<';
  out += name;
  for (const auto& [key, value] : attributes) {
    out += ' ';
    out += key;
    out += "=\"";
    out += escape(value);
    out += '"';
  }
}

// An opening tag <name a="v" ...> for an element with children; the caller closes it.
inline void open_element(std::string& out, const std::string& name, const Attributes& attributes) {
  write_start(out, name, attributes);
  out += ">\n";
}

inline void element(std::string& out, const std::string& name, const Attributes& attributes,
                    const std::string& text = "") {
  write_start(out, name, attributes);
  if (text.empty()) {
    out += "/>\n";
    return;
  }
  out += '>';
  out += escape(text);
  out += "</";
  out += name;
  out += ">\n";
}

// A tick label: as many decimals as the tick spacing needs, scientific for tiny or huge values.
inline std::string tick_label(double value, double spacing) {
  char buffer[32];
  if (std::abs(value) < spacing * 1e-6) value = 0.0;  // -0.00 and 1e-17 noise read as 0
  const double magnitude = std::max(std::abs(value), spacing);
  if (magnitude >= 1e6 || spacing < 1e-3) {
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
  } else {
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(spacing) - 1e-9)));
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  }
  return buffer;
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals over `span`.
inline double nice_step(double span, int target) {
  const double raw = span / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  const double nice = fraction < 1.5 ? 1.0 : fraction < 3.0 ? 2.0 : fraction < 7.0 ? 5.0 : 10.0;
  return nice * power;
}

struct Axis {
  double lo = 0.0;
  double hi = 1.0;
  double step = 0.2;
};

// Widens [lo, hi] so that it is never empty, and picks the tick spacing.
inline Axis make_axis(double lo, double hi, int target_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0.0;
    hi = 1.0;
  }
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo <= std::abs(hi) * 1e-12) {  // a single value: center it in a unit-ish range
    const double half = lo == 0.0 ? 0.5 : std::abs(lo) * 0.1;
    lo -= half;
    hi += half;
  }
  return {lo, hi, nice_step(hi - lo, target_ticks)};
}

inline std::vector<double> ticks(const Axis& axis) {
  std::vector<double> out;
  const double first = std::ceil(axis.lo / axis.step - 1e-9) * axis.step;
  for (int i = 0; i < 100; ++i) {
    const double t = first + i * axis.step;
    if (t > axis.hi + axis.step * 1e-9) break;
    out.push_back(t);
  }
  return out;
}

// The drawing box of a panel, in pixels of the whole document.
struct Box {
  double x, y, width, height;
};

// Frame, grid, tick labels, axis labels and title; returns the plot area inside the margins.
inline std::string frame(const Box& box, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const Axis& xa, const Axis& ya, Box& area) {
  area = {box.x + 62.0, box.y + 30.0, box.width - 62.0 - 16.0, box.height - 30.0 - 46.0};
  const auto px = [&](double v) { return area.x + (v - xa.lo) / (xa.hi - xa.lo) * area.width; };
  const auto py = [&](double v) {
    return area.y + area.height - (v - ya.lo) / (ya.hi - ya.lo) * area.height;
  };
  std::string s;
  const Attributes plot_rect = {{"x", num(area.x)},
                                {"y", num(area.y)},
                                {"width", num(area.width)},
                                {"height", num(area.height)}};
  Attributes background = plot_rect;
  background.insert(background.end(), {{"fill", "#ffffff"}, {"stroke", "#444444"}});
  element(s, "rect", background);
  for (const double t : ticks(xa)) {
    const std::string x = num(px(t));
    element(s, "line",
            {{"x1", x},
             {"y1", num(area.y)},
             {"x2", x},
             {"y2", num(area.y + area.height)},
             {"stroke", "#e5e5e5"}});
    element(s, "text",
            {{"x", x}, {"y", num(area.y + area.height + 15.0)}, {"text-anchor", "middle"}},
            tick_label(t, xa.step));
  }
  for (const double t : ticks(ya)) {
    const std::string y = num(py(t));
    element(s, "line",
            {{"x1", num(area.x)},
             {"y1", y},
             {"x2", num(area.x + area.width)},
             {"y2", y},
             {"stroke", "#e5e5e5"}});
    element(s, "text", {{"x", num(area.x - 5.0)}, {"y", num(py(t) + 4.0)}, {"text-anchor", "end"}},
            tick_label(t, ya.step));
  }
  // The frame again, on top of the grid lines.
  Attributes border = plot_rect;
  border.insert(border.end(), {{"fill", "none"}, {"stroke", "#444444"}});
  element(s, "rect", border);
  const std::string center_x = num(area.x + area.width / 2);
  element(s, "text",
          {{"x", center_x},
           {"y", num(box.y + 18.0)},
           {"text-anchor", "middle"},
           {"font-size", "14"},
           {"font-weight", "bold"}},
          title);
  element(s, "text",
          {{"x", center_x}, {"y", num(box.y + box.height - 10.0)}, {"text-anchor", "middle"}},
          x_label);
  const std::string label_x = num(box.x + 14.0);
  const std::string label_y = num(area.y + area.height / 2);
  element(s, "text",
          {{"x", label_x},
           {"y", label_y},
           {"text-anchor", "middle"},
           {"transform", "rotate(-90 " + label_x + " " + label_y + ")"}},
          y_label);
  return s;
}

inline std::string render_line_chart(const LineChart& chart, const Box& box) {
  double x_lo = std::numeric_limits<double>::infinity();
  double x_hi = -x_lo;
  double y_lo = x_lo;
  double y_hi = -x_lo;
  for (const Series& series : chart.series) {
    const size_t n = std::min(series.x.size(), series.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      x_lo = std::min(x_lo, series.x[i]);
      x_hi = std::max(x_hi, series.x[i]);
      y_lo = std::min(y_lo, series.y[i]);
      y_hi = std::max(y_hi, series.y[i]);
    }
  }
  // A 4% margin keeps curves off the frame (a constant curve too, when one end is fixed); fixed
  // ends are taken as they are.
  const double y_lo_end = chart.y_min.value_or(y_lo);
  const double y_hi_end = chart.y_max.value_or(y_hi);
  const double margin = std::isfinite(y_hi_end - y_lo_end) ? (y_hi_end - y_lo_end) * 0.04 : 0.0;
  const Axis xa = make_axis(chart.x_min.value_or(x_lo), chart.x_max.value_or(x_hi), 6);
  const Axis ya = make_axis(chart.y_min ? y_lo_end : y_lo_end - margin,
                            chart.y_max ? y_hi_end : y_hi_end + margin, 5);
  Box area{};
  std::string s = frame(box, chart.title, chart.x_label, chart.y_label, xa, ya, area);
  const auto px = [&](double v) { return area.x + (v - xa.lo) / (xa.hi - xa.lo) * area.width; };
  const auto py = [&](double v) {
    return area.y + area.height - (v - ya.lo) / (ya.hi - ya.lo) * area.height;
  };
  // Points outside fixed axis ends are clipped to the plot area.
  static int clip_counter = 0;
  const std::string clip_id = "clip" + std::to_string(clip_counter++);
  open_element(s, "clipPath", {{"id", clip_id}});
  element(s, "rect",
          {{"x", num(area.x)},
           {"y", num(area.y)},
           {"width", num(area.width)},
           {"height", num(area.height)}});
  s += "</clipPath>\n";
  open_element(s, "g", {{"clip-path", "url(#" + clip_id + ")"}});
  std::vector<std::string> colors;
  std::vector<std::pair<double, double>> points;  // every drawn point, for the legend's placement
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& series = chart.series[k];
    const std::string color = series.color.empty() ? palette()[k % palette().size()] : series.color;
    colors.push_back(color);
    // Runs of finite points become polylines; a run of one point becomes a dot.
    std::vector<std::pair<double, double>> run;
    const auto flush = [&] {
      if (run.size() >= 2) {
        std::string coordinates;
        for (const auto& [x, y] : run) {
          coordinates += num(x);
          coordinates += ',';
          coordinates += num(y);
          coordinates += ' ';
        }
        element(s, "polyline",
                {{"fill", "none"},
                 {"stroke", color},
                 {"stroke-width", num(series.width)},
                 {"stroke-opacity", num(series.opacity)},
                 {"stroke-linejoin", "round"},
                 {"points", coordinates}});
      }
      if (run.size() == 1 || series.markers) {
        for (const auto& [x, y] : run) {
          element(s, "circle",
                  {{"cx", num(x)},
                   {"cy", num(y)},
                   {"r", num(std::max(2.5, series.width * 1.5))},
                   {"fill", color},
                   {"fill-opacity", num(series.opacity)}});
        }
      }
      run.clear();
    };
    const size_t n = std::min(series.x.size(), series.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (std::isfinite(series.x[i]) && std::isfinite(series.y[i])) {
        const std::pair<double, double> point{px(series.x[i]), py(series.y[i])};
        if (!run.empty()) {
          // Long segments (a step, sparse test points) are sampled every few pixels too.
          const auto [x_prev, y_prev] = run.back();
          const double length = std::hypot(point.first - x_prev, point.second - y_prev);
          const int pieces = std::min(static_cast<int>(length / 4.0), 1000);
          for (int j = 1; j < pieces; ++j) {
            const double f = static_cast<double>(j) / pieces;
            points.emplace_back(x_prev + f * (point.first - x_prev),
                                y_prev + f * (point.second - y_prev));
          }
        }
        run.push_back(point);
        points.push_back(point);
      } else {
        flush();
      }
    }
    flush();
  }
  s += "</g>\n";
  // The legend goes in the corner of the plot area that covers the fewest data points.
  if (!chart.series.empty()) {
    size_t longest = 0;
    for (const Series& series : chart.series) longest = std::max(longest, series.name.size());
    const double w = 40.0 + 7.0 * static_cast<double>(longest);
    const double h = 8.0 + 16.0 * static_cast<double>(chart.series.size());
    const std::vector<std::pair<double, double>> corners = {
        {area.x + area.width - w - 6.0, area.y + 6.0},
        {area.x + 6.0, area.y + 6.0},
        {area.x + area.width - w - 6.0, area.y + area.height - h - 6.0},
        {area.x + 6.0, area.y + area.height - h - 6.0}};
    size_t best = 0;
    size_t best_covered = std::numeric_limits<size_t>::max();
    for (size_t c = 0; c < corners.size(); ++c) {
      const auto [cx, cy] = corners[c];
      size_t covered = 0;
      for (const auto& [x, y] : points) {
        // A margin around the card, so that lines passing just beside it also count.
        if (x >= cx - 8.0 && x <= cx + w + 8.0 && y >= cy - 8.0 && y <= cy + h + 8.0) ++covered;
      }
      if (covered < best_covered) {
        best = c;
        best_covered = covered;
      }
    }
    const auto [x0, y0] = corners[best];
    element(s, "rect",
            {{"x", num(x0)},
             {"y", num(y0)},
             {"width", num(w)},
             {"height", num(h)},
             {"fill", "#ffffff"},
             {"fill-opacity", "0.85"},
             {"stroke", "#bbbbbb"}});
    for (size_t k = 0; k < chart.series.size(); ++k) {
      const double y = y0 + 12.0 + 16.0 * static_cast<double>(k);
      element(s, "line",
              {{"x1", num(x0 + 6.0)},
               {"y1", num(y)},
               {"x2", num(x0 + 26.0)},
               {"y2", num(y)},
               {"stroke", colors[k]},
               {"stroke-width", "3"}});
      element(s, "text", {{"x", num(x0 + 30.0)}, {"y", num(y + 4.0)}}, chart.series[k].name);
    }
  }
  return s;
}

inline std::string render_histogram(const Histogram& hist, const Box& box) {
  const size_t bins = std::min(hist.counts.size(), hist.edges.empty() ? 0 : hist.edges.size() - 1);
  double x_lo = std::numeric_limits<double>::infinity();
  double x_hi = -x_lo;
  double c_hi = 0.0;
  for (size_t i = 0; i < bins; ++i) {
    if (!std::isfinite(hist.edges[i]) || !std::isfinite(hist.edges[i + 1])) continue;
    x_lo = std::min(x_lo, hist.edges[i]);
    x_hi = std::max(x_hi, hist.edges[i + 1]);
    if (std::isfinite(hist.counts[i])) c_hi = std::max(c_hi, hist.counts[i]);
  }
  const Axis xa = make_axis(x_lo, x_hi, 5);
  Axis ya = make_axis(0.0, c_hi > 0.0 ? c_hi * 1.05 : 1.0, 4);
  // Counts are whole numbers: no 0.2 ticks when the tallest bar is 1.
  if (c_hi >= 1.0) ya.step = std::max(ya.step, 1.0);
  Box area{};
  std::string s = frame(box, hist.title, hist.x_label, "count", xa, ya, area);
  const auto px = [&](double v) { return area.x + (v - xa.lo) / (xa.hi - xa.lo) * area.width; };
  const auto py = [&](double v) {
    return area.y + area.height - (v - ya.lo) / (ya.hi - ya.lo) * area.height;
  };
  for (size_t i = 0; i < bins; ++i) {
    const double count = hist.counts[i];
    if (!std::isfinite(count) || count <= 0.0 || !std::isfinite(hist.edges[i]) ||
        !std::isfinite(hist.edges[i + 1])) {
      continue;
    }
    const double left = px(hist.edges[i]);
    const double right = px(hist.edges[i + 1]);
    const double top = py(count);
    element(s, "rect",
            {{"x", num(left)},
             {"y", num(top)},
             {"width", num(std::max(right - left, 0.5))},
             {"height", num(area.y + area.height - top)},
             {"fill", hist.color},
             {"stroke", "#ffffff"},
             {"stroke-width", "0.5"}});
  }
  return s;
}

}  // namespace detail

using Panel = std::variant<LineChart, Histogram>;

// Panels laid out row by row in a grid of `columns`, each panel_width x panel_height pixels,
// under an optional figure title.
class Figure {
 public:
  explicit Figure(int columns = 1, double panel_width = 560.0, double panel_height = 360.0,
                  std::string title = "")
      : columns_(std::max(columns, 1)),
        panel_width_(panel_width),
        panel_height_(panel_height),
        title_(std::move(title)) {}

  Figure& add(Panel panel) {
    panels_.push_back(std::move(panel));
    return *this;
  }
  [[nodiscard]] size_t size() const { return panels_.size(); }

  [[nodiscard]] std::string to_svg() const {
    const auto columns = static_cast<size_t>(columns_);
    const size_t used_columns = std::max<size_t>(std::min(columns, panels_.size()), 1);
    const size_t rows = std::max<size_t>((panels_.size() + columns - 1) / columns, 1);
    const double top = title_.empty() ? 0.0 : 34.0;
    const double width = panel_width_ * static_cast<double>(used_columns);
    const double height = top + panel_height_ * static_cast<double>(rows);
    std::string s;
    detail::open_element(s, "svg",
                         {{"xmlns", "http://www.w3.org/2000/svg"},
                          {"width", detail::num(width)},
                          {"height", detail::num(height)},
                          {"viewBox", "0 0 " + detail::num(width) + " " + detail::num(height)},
                          {"font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"},
                          {"font-size", "11"},
                          {"fill", "#222222"}});
    detail::element(s, "rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
    if (!title_.empty()) {
      detail::element(s, "text",
                      {{"x", detail::num(width / 2)},
                       {"y", "23"},
                       {"text-anchor", "middle"},
                       {"font-size", "17"},
                       {"font-weight", "bold"}},
                      title_);
    }
    for (size_t i = 0; i < panels_.size(); ++i) {
      const size_t row = i / columns;
      const size_t column = i % columns;
      const detail::Box box{panel_width_ * static_cast<double>(column),
                            top + panel_height_ * static_cast<double>(row), panel_width_,
                            panel_height_};
      if (const auto* chart = std::get_if<LineChart>(&panels_[i])) {
        s += detail::render_line_chart(*chart, box);
      } else {
        s += detail::render_histogram(std::get<Histogram>(panels_[i]), box);
      }
    }
    s += "</svg>\n";
    return s;
  }

  // Writes the SVG document; throws nabla::Error naming the path if that fails.
  void save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary);
    out << to_svg();
    if (!out.flush()) throw error("Figure::save: cannot write {}", path);
  }

 private:
  int columns_;
  double panel_width_;
  double panel_height_;
  std::string title_;
  std::vector<Panel> panels_;
};

}  // namespace nabla::plot
