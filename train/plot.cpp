// The SVG writer behind train/plot.h: axes with "nice" ticks, polylines broken at non-finite
// points, histogram bars, a legend placed where it hides the fewest points; and TrainingPlots.
#include "train/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string_view>
#include <utility>

#include "tensor/error.h"
#include "tensor/io/binary.h"
#include "tensor/shape.h"
#include "train/model.h"

namespace nabla::train {
namespace plot {
namespace {

const std::vector<std::string>& palette() {
  // Matplotlib's "tab10": distinct in colour and in lightness.
  static const std::vector<std::string> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                    "#bcbd22", "#17becf"};
  return kPalette;
}

std::string escape(std::string_view text) {
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

// Coordinates with two decimals: plenty for pixels and keeps files small. fmt, not printf, so
// the output does not depend on the C locale.
std::string num(double value) { return fmt::format("{:.2f}", value); }

using Attributes = std::vector<std::pair<std::string, std::string>>;

// Appends `<name a="v" ...` with the values escaped; the callers close the tag.
void write_start(std::string& out, const std::string& name, const Attributes& attributes) {
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
void open_element(std::string& out, const std::string& name, const Attributes& attributes) {
  write_start(out, name, attributes);
  out += ">\n";
}

// <name a="v" ...>text</name>, or <name a="v" .../> when text is empty; escapes both.
void element(std::string& out, const std::string& name, const Attributes& attributes,
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
std::string tick_label(double value, double spacing) {
  if (std::abs(value) < spacing * 1e-6) value = 0.0;  // -0.00 and 1e-17 noise read as 0
  const double magnitude = std::max(std::abs(value), spacing);
  if (magnitude >= 1e6 || spacing < 1e-3) return fmt::format("{:.3g}", value);
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(spacing) - 1e-9)));
  return fmt::format("{:.{}f}", value, decimals);
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals over `span`.
double nice_step(double span, int target) {
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
Axis make_axis(double lo, double hi, int target_ticks) {
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

std::vector<double> ticks(const Axis& axis) {
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

// Data coordinates to pixels inside a plot area.
struct Mapping {
  Axis xa;
  Axis ya;
  Box area;
  [[nodiscard]] double px(double v) const {
    return area.x + (v - xa.lo) / (xa.hi - xa.lo) * area.width;
  }
  [[nodiscard]] double py(double v) const {
    return area.y + area.height - (v - ya.lo) / (ya.hi - ya.lo) * area.height;
  }
};

struct Labels {
  const std::string& title;
  const std::string& x_label;
  const std::string& y_label;
};

// Frame, grid, tick labels, axis labels and title; returns the mapping into the plot area.
Mapping frame(std::string& s, const Box& box, const Labels& labels, const Axis& xa,
              const Axis& ya) {
  const Mapping m{
      xa, ya, Box{box.x + 62.0, box.y + 30.0, box.width - 62.0 - 16.0, box.height - 30.0 - 46.0}};
  const Box& area = m.area;
  const Attributes plot_rect = {{"x", num(area.x)},
                                {"y", num(area.y)},
                                {"width", num(area.width)},
                                {"height", num(area.height)}};
  Attributes background = plot_rect;
  background.insert(background.end(), {{"fill", "#ffffff"}, {"stroke", "#444444"}});
  element(s, "rect", background);
  for (const double t : ticks(xa)) {
    const std::string x = num(m.px(t));
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
    const std::string y = num(m.py(t));
    element(s, "line",
            {{"x1", num(area.x)},
             {"y1", y},
             {"x2", num(area.x + area.width)},
             {"y2", y},
             {"stroke", "#e5e5e5"}});
    element(s, "text",
            {{"x", num(area.x - 5.0)}, {"y", num(m.py(t) + 4.0)}, {"text-anchor", "end"}},
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
          labels.title);
  element(s, "text",
          {{"x", center_x}, {"y", num(box.y + box.height - 10.0)}, {"text-anchor", "middle"}},
          labels.x_label);
  const std::string label_x = num(box.x + 14.0);
  const std::string label_y = num(area.y + area.height / 2);
  element(s, "text",
          {{"x", label_x},
           {"y", label_y},
           {"text-anchor", "middle"},
           {"transform", "rotate(-90 " + label_x + " " + label_y + ")"}},
          labels.y_label);
  return m;
}

using Point = std::pair<double, double>;

// Draws one series: runs of finite points become polylines, a run of one point a dot. Appends
// every drawn point (and points every few pixels along long segments) to `points`.
void draw_series(std::string& s, const Series& series, const std::string& color, const Mapping& m,
                 std::vector<Point>& points) {
  std::vector<Point> run;
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
  for (size_t i = 0; i < series.x.size(); ++i) {
    if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
      flush();
      continue;
    }
    const Point point{m.px(series.x[i]), m.py(series.y[i])};
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
  }
  flush();
}

// The legend goes in the corner of the plot area that covers the fewest data points.
void draw_legend(std::string& s, const LineChart& chart, const std::vector<std::string>& colors,
                 const Box& area, const std::vector<Point>& points) {
  size_t longest = 0;
  for (const Series& series : chart.series) longest = std::max(longest, series.name.size());
  const double w = 40.0 + 7.0 * static_cast<double>(longest);
  const double h = 8.0 + 16.0 * static_cast<double>(chart.series.size());
  const std::vector<Point> corners = {
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

// `clip_id` names the chart's clip path, unique within the document.
std::string render_line_chart(const LineChart& chart, const Box& box, const std::string& clip_id) {
  double x_lo = std::numeric_limits<double>::infinity();
  double x_hi = -x_lo;
  double y_lo = x_lo;
  double y_hi = -x_lo;
  for (const Series& series : chart.series) {
    for (size_t i = 0; i < series.x.size(); ++i) {
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
  std::string s;
  const Mapping m = frame(s, box, {chart.title, chart.x_label, chart.y_label}, xa, ya);
  const Box& area = m.area;
  // Points outside fixed axis ends are clipped to the plot area.
  open_element(s, "clipPath", {{"id", clip_id}});
  element(s, "rect",
          {{"x", num(area.x)},
           {"y", num(area.y)},
           {"width", num(area.width)},
           {"height", num(area.height)}});
  s += "</clipPath>\n";
  open_element(s, "g", {{"clip-path", "url(#" + clip_id + ")"}});
  std::vector<std::string> colors;
  std::vector<Point> points;  // every drawn point, for the legend's placement
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& series = chart.series[k];
    colors.push_back(series.color.empty() ? palette()[k % palette().size()] : series.color);
    draw_series(s, series, colors.back(), m, points);
  }
  s += "</g>\n";
  if (!chart.series.empty()) draw_legend(s, chart, colors, area, points);
  return s;
}

std::string render_histogram(const Histogram& hist, const Box& box) {
  const size_t bins = hist.counts.size();
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
  std::string s;
  const std::string y_label = "count";
  const Mapping m = frame(s, box, {hist.title, hist.x_label, y_label}, xa, ya);
  const Box& area = m.area;
  for (size_t i = 0; i < bins; ++i) {
    const double count = hist.counts[i];
    if (!std::isfinite(count) || count <= 0.0 || !std::isfinite(hist.edges[i]) ||
        !std::isfinite(hist.edges[i + 1])) {
      continue;
    }
    const double left = m.px(hist.edges[i]);
    const double right = m.px(hist.edges[i + 1]);
    const double top = m.py(count);
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

void check_axis_end(const std::string& where, const char* name, const std::optional<double>& v) {
  if (v && !std::isfinite(*v)) {
    throw error("{}: {} is {}; a fixed axis end must be finite", where, name, *v);
  }
}

void check_range(const std::string& where, const char* lo_name, const std::optional<double>& lo,
                 const char* hi_name, const std::optional<double>& hi) {
  check_axis_end(where, lo_name, lo);
  check_axis_end(where, hi_name, hi);
  if (lo && hi && *lo > *hi) {
    throw error("{}: {} {} is above {} {}", where, lo_name, *lo, hi_name, *hi);
  }
}

// Everything to_svg would otherwise draw wrongly or index out of range, checked before drawing.
void check_panel(const Panel& panel, size_t index) {
  if (const auto* chart = std::get_if<LineChart>(&panel)) {
    const std::string where =
        fmt::format("plot::Figure::to_svg: panel {} (line chart '{}')", index, chart->title);
    check_range(where, "x_min", chart->x_min, "x_max", chart->x_max);
    check_range(where, "y_min", chart->y_min, "y_max", chart->y_max);
    for (const Series& series : chart->series) {
      if (series.x.size() != series.y.size()) {
        throw error("{}: series '{}' has {} x values but {} y values", where, series.name,
                    series.x.size(), series.y.size());
      }
    }
    return;
  }
  const auto& hist = std::get<Histogram>(panel);
  if (hist.edges.size() != hist.counts.size() + 1 && !(hist.edges.empty() && hist.counts.empty())) {
    throw error(
        "plot::Figure::to_svg: panel {} (histogram '{}') has {} counts and {} edges; bins need "
        "counts + 1 edges",
        index, hist.title, hist.counts.size(), hist.edges.size());
  }
}

}  // namespace

Histogram make_histogram(const std::vector<double>& values, int bins, std::string title,
                         std::string x_label) {
  if (bins <= 0) throw error("plot::make_histogram: bins must be positive, got {}", bins);
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
  // NOTE: hi - lo overflows to inf when the values span more than DBL_MAX; both ends are then
  // halved first (exact, so no rounding changes), or every position would be inf or NaN.
  const bool halve = !std::isfinite(hi - lo);
  const double base = halve ? lo * 0.5 : lo;
  const double span = halve ? hi * 0.5 - lo * 0.5 : hi - lo;
  const double scale = halve ? 2.0 : 1.0;
  h.edges.resize(n + 1);
  for (size_t i = 0; i <= n; ++i) {
    h.edges[i] = (base + span * static_cast<double>(i) / static_cast<double>(n)) * scale;
  }
  h.edges[0] = lo;
  h.edges[n] = hi;  // exactly, so the maximum falls in the last bin below
  h.counts.assign(n, 0.0);
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    const double position = ((halve ? v * 0.5 : v) - base) / span * static_cast<double>(n);
    const auto bin = position > 0.0 ? static_cast<size_t>(position) : size_t{0};
    h.counts[std::min(bin, n - 1)] += 1.0;  // the maximum belongs to the last, closed bin
  }
  return h;
}

Figure::Figure(int columns, double panel_width, double panel_height, std::string title)
    : columns_(columns),
      panel_width_(panel_width),
      panel_height_(panel_height),
      title_(std::move(title)) {
  if (columns <= 0) throw error("plot::Figure: columns must be positive, got {}", columns);
  if (!std::isfinite(panel_width) || !std::isfinite(panel_height) || panel_width <= 0.0 ||
      panel_height <= 0.0) {
    throw error("plot::Figure: the panel size must be positive and finite, got {} x {}",
                panel_width, panel_height);
  }
}

Figure& Figure::add(Panel panel) {
  panels_.push_back(std::move(panel));
  return *this;
}

std::string Figure::to_svg() const {
  for (size_t i = 0; i < panels_.size(); ++i) check_panel(panels_[i], i);
  const auto columns = static_cast<size_t>(columns_);
  const size_t used_columns = std::max<size_t>(std::min(columns, panels_.size()), 1);
  const size_t rows = std::max<size_t>((panels_.size() + columns - 1) / columns, 1);
  const double top = title_.empty() ? 0.0 : 34.0;
  const double width = panel_width_ * static_cast<double>(used_columns);
  const double height = top + panel_height_ * static_cast<double>(rows);
  std::string s;
  open_element(s, "svg",
               {{"xmlns", "http://www.w3.org/2000/svg"},
                {"width", num(width)},
                {"height", num(height)},
                {"viewBox", "0 0 " + num(width) + " " + num(height)},
                {"font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"},
                {"font-size", "11"},
                {"fill", "#222222"}});
  element(s, "rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
  if (!title_.empty()) {
    element(s, "text",
            {{"x", num(width / 2)},
             {"y", "23"},
             {"text-anchor", "middle"},
             {"font-size", "17"},
             {"font-weight", "bold"}},
            title_);
  }
  int charts = 0;
  for (size_t i = 0; i < panels_.size(); ++i) {
    const size_t row = i / columns;
    const size_t column = i % columns;
    const Box box{panel_width_ * static_cast<double>(column),
                  top + panel_height_ * static_cast<double>(row), panel_width_, panel_height_};
    if (const auto* chart = std::get_if<LineChart>(&panels_[i])) {
      s += render_line_chart(*chart, box, fmt::format("clip{}", charts++));
    } else {
      s += render_histogram(std::get<Histogram>(panels_[i]), box);
    }
  }
  s += "</svg>\n";
  return s;
}

void Figure::save(const std::string& path) const {
  const std::string svg = to_svg();
  io::AtomicFile file(path, fmt::format("plot::Figure::save: {}: ", path));
  file.write(svg.data(), svg.size());
  file.commit();
}

namespace {

// "loss" first, then the other keys by name, "lr" last.
int panel_rank(const std::string& key) {
  if (key == "loss") return 0;
  if (key == "lr") return 2;
  return 1;
}

}  // namespace

Figure history_figure(const History& history, const std::string& title) {
  const std::vector<std::string> keys = history.keys();  // sorted
  const auto has = [&](const std::string& key) {
    return std::binary_search(keys.begin(), keys.end(), key);
  };
  std::vector<std::string> bases;  // a panel each; "val_x" joins "x" when both were logged
  for (const std::string& key : keys) {
    if (key.rfind("val_", 0) == 0 && has(key.substr(4))) continue;
    bases.push_back(key);
  }
  std::stable_sort(bases.begin(), bases.end(), [](const std::string& a, const std::string& b) {
    return panel_rank(a) < panel_rank(b);
  });
  std::vector<double> epochs;
  for (const int64_t epoch : history.epochs()) epochs.push_back(static_cast<double>(epoch));
  // Markers show each epoch's value while there are few; hundreds would hide the line.
  const bool markers = epochs.size() <= 50;
  Figure figure(2, 460.0, 320.0, title);
  for (const std::string& base : bases) {
    LineChart chart{base, "epoch", base, {}};
    chart.series.push_back(Series{base, epochs, history.values(base), "", 2.0, 1.0, markers});
    const std::string twin = "val_" + base;
    if (has(twin)) {
      chart.series.push_back(Series{twin, epochs, history.values(twin), "", 2.0, 1.0, markers});
    }
    if (base == "lr") chart.y_min = 0.0;
    figure.add(std::move(chart));
  }
  return figure;
}

Figure weight_histograms(const nn::NamedTensors& tensors, int bins, const std::string& title,
                         int columns) {
  if (bins <= 0) throw error("plot::weight_histograms: bins must be positive, got {}", bins);
  Figure figure(columns, 420.0, 250.0, title);
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) continue;
    figure.add(make_histogram(tensor.to_vector<double>(), bins,
                              fmt::format("{} {}", name, shape_str(tensor.shape())), "value"));
  }
  return figure;
}

}  // namespace plot

TrainingPlots::TrainingPlots(const std::string& prefix, TrainingPlotsOptions options)
    : options_(std::move(options)) {
  if (prefix.empty()) {
    throw error("TrainingPlots: the path prefix is empty (give a directory or a file name start)");
  }
  if (options_.bins <= 0) {
    throw error("TrainingPlots: bins must be positive, got {}", options_.bins);
  }
  if (prefix.back() == '/' || std::filesystem::is_directory(prefix)) {
    const std::filesystem::path dir(prefix);
    curves_path_ = (dir / "curves.svg").string();
    weights_path_ = (dir / "weights.svg").string();
  } else {
    curves_path_ = prefix + "_curves.svg";
    weights_path_ = prefix + "_weights.svg";
  }
}

void TrainingPlots::on_train_begin(Model& /*model*/) { history_ = History(); }

void TrainingPlots::on_epoch_end(Model& model, int64_t epoch, Logs& logs) {
  history_.append(epoch, logs);
  write(model, history_, static_cast<int64_t>(history_.epochs().size()));
}

void TrainingPlots::on_train_end(Model& model, const History& history) {
  write(model, history, static_cast<int64_t>(history.epochs().size()));
}

void TrainingPlots::write(Model& model, const History& history, int64_t epochs) const {
  const std::string lead = options_.title.empty() ? "" : options_.title + ": ";
  plot::history_figure(history, fmt::format("{}training curves, {} epochs", lead, epochs))
      .save(curves_path_);
  if (options_.histograms) {
    plot::weight_histograms(model.network().named_parameters(), options_.bins,
                            fmt::format("{}parameters after {} epochs", lead, epochs))
        .save(weights_path_);
  }
}

}  // namespace nabla::train
