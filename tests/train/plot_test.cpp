// SVG plots (train/plot.cpp): histogram bins against a plain loop, well-formed and escaped XML
// (checked by a small parser written here), history curves counted in the SVG text, and the
// TrainingPlots callback during a real fit.
#include "train/plot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nabla.h"
#include "optim/sgd.h"
#include "tests/support/scratch_files.h"

namespace nabla::train {
namespace {

using nabla::testing::error_of;
using nabla::testing::read_bytes;
using nabla::testing::ScratchDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- A tiny XML checker, sharing nothing with the writer
// -----------------------------------------

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;  // raw (still escaped) values
  std::string text;                               // raw text directly inside
};

struct XmlReport {
  std::string error;  // empty when well-formed
  std::vector<XmlElement> elements;
  [[nodiscard]] std::vector<const XmlElement*> named(const std::string& name) const {
    std::vector<const XmlElement*> out;
    for (const XmlElement& e : elements) {
      if (e.name == name) out.push_back(&e);
    }
    return out;
  }
};

// An '&' must start one of XML's five entities or a character reference; '<' never appears in
// text or attribute values.
bool escaped_properly(const std::string& raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '<') return false;
    if (raw[i] != '&') continue;
    const size_t end = raw.find(';', i);
    if (end == std::string::npos) return false;
    const std::string entity = raw.substr(i + 1, end - i - 1);
    if (entity != "amp" && entity != "lt" && entity != "gt" && entity != "quot" &&
        entity != "apos" && (entity.empty() || entity[0] != '#')) {
      return false;
    }
  }
  return true;
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == ':' ||
         c == '.';
}

// Checks balanced tags, one root element, quoted attributes and escaped text; lists elements.
XmlReport check_xml(const std::string& doc) {
  XmlReport report;
  std::vector<size_t> open;  // indices into report.elements
  size_t roots = 0;
  size_t i = 0;
  const auto fail = [&](const std::string& what) {
    report.error = what + " at offset " + std::to_string(i);
    return report;
  };
  while (i < doc.size()) {
    if (doc[i] != '<') {
      const size_t next = std::min(doc.find('<', i), doc.size());
      const std::string text = doc.substr(i, next - i);
      if (!escaped_properly(text)) return fail("badly escaped text '" + text + "'");
      const bool blank = text.find_first_not_of(" \n\r\t") == std::string::npos;
      if (!blank) {
        if (open.empty()) return fail("text outside the root element");
        report.elements[open.back()].text += text;
      }
      i = next;
      continue;
    }
    if (doc.compare(i, 2, "</") == 0) {
      const size_t end = doc.find('>', i);
      if (end == std::string::npos) return fail("unterminated closing tag");
      const std::string name = doc.substr(i + 2, end - i - 2);
      if (open.empty() || report.elements[open.back()].name != name) {
        return fail("closing tag </" + name + "> does not match");
      }
      open.pop_back();
      i = end + 1;
      continue;
    }
    ++i;
    XmlElement element;
    while (i < doc.size() && is_name_char(doc[i])) element.name += doc[i++];
    if (element.name.empty()) return fail("tag without a name");
    bool self_closing = false;
    while (true) {
      while (i < doc.size() && doc[i] == ' ') ++i;
      if (i >= doc.size()) return fail("unterminated tag");
      if (doc[i] == '>') {
        ++i;
        break;
      }
      if (doc.compare(i, 2, "/>") == 0) {
        self_closing = true;
        i += 2;
        break;
      }
      std::string key;
      while (i < doc.size() && is_name_char(doc[i])) key += doc[i++];
      if (key.empty() || doc.compare(i, 2, "=\"") != 0) return fail("malformed attribute");
      i += 2;
      const size_t close = doc.find('"', i);
      if (close == std::string::npos) return fail("unterminated attribute value");
      const std::string value = doc.substr(i, close - i);
      if (!escaped_properly(value)) return fail("badly escaped attribute '" + value + "'");
      if (!element.attributes.emplace(key, value).second) return fail("duplicate attribute");
      i = close + 1;
    }
    if (open.empty() && ++roots > 1) return fail("a second root element");
    report.elements.push_back(element);
    if (!self_closing) open.push_back(report.elements.size() - 1);
  }
  if (!open.empty()) return fail("unclosed <" + report.elements[open.back()].name + ">");
  if (roots != 1) return fail("no root element");
  return report;
}

// The (x, y) pairs of a polyline's points attribute.
std::vector<std::pair<double, double>> polyline_points(const XmlElement& polyline) {
  std::vector<std::pair<double, double>> out;
  const std::string& text = polyline.attributes.at("points");
  size_t i = 0;
  while (i < text.size()) {
    const size_t space = std::min(text.find(' ', i), text.size());
    const std::string pair = text.substr(i, space - i);
    if (!pair.empty()) {
      const size_t comma = pair.find(',');
      out.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
    }
    i = space + 1;
  }
  return out;
}

std::vector<std::string> texts(const XmlReport& report) {
  std::vector<std::string> out;
  for (const XmlElement* e : report.named("text")) out.push_back(e->text);
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

TEST(XmlChecker, RejectsUnbalancedTagsAndUnescapedText) {
  EXPECT_EQ(check_xml("<a x=\"1\"><b/>t &amp; u</a>").error, "");
  EXPECT_NE(check_xml("<a><b></a></b>").error, "");
  EXPECT_NE(check_xml("<a>x & y</a>").error, "");
  EXPECT_NE(check_xml("<a t=\"<\"/>").error, "");
  EXPECT_NE(check_xml("<a>").error, "");
  EXPECT_NE(check_xml("<a/><b/>").error, "");
}

// ---- make_histogram
// ------------------------------------------------------------------------------

struct ReferenceHistogram {
  std::vector<double> edges;
  std::vector<double> counts;
};

// Finds each value's bin by comparing it with the edges (the code under test divides instead).
ReferenceHistogram reference_histogram(const std::vector<double>& values, int bins) {
  double lo = kInf;
  double hi = -kInf;
  bool any = false;
  for (const double v : values) {
    if (std::isnan(v) || std::isinf(v)) continue;
    any = true;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!any) {
    lo = 0.0;
    hi = 1.0;
  } else if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  ReferenceHistogram ref;
  for (int i = 0; i <= bins; ++i) ref.edges.push_back(lo + (hi - lo) * i / bins);
  ref.counts.assign(static_cast<size_t>(bins), 0.0);
  for (const double v : values) {
    if (std::isnan(v) || std::isinf(v)) continue;
    int bin = bins - 1;  // the last bin is closed: it keeps the maximum
    for (int i = 0; i < bins - 1; ++i) {
      if (v < ref.edges[static_cast<size_t>(i) + 1]) {
        bin = i;
        break;
      }
    }
    ref.counts[static_cast<size_t>(bin)] += 1.0;
  }
  return ref;
}

void expect_matches_reference(const std::vector<double>& values, int bins) {
  const plot::Histogram h = plot::make_histogram(values, bins, "t", "x");
  const ReferenceHistogram ref = reference_histogram(values, bins);
  ASSERT_EQ(h.counts.size(), ref.counts.size()) << "bins " << bins;
  ASSERT_EQ(h.edges.size(), ref.edges.size());
  for (size_t i = 0; i < ref.edges.size(); ++i) {
    EXPECT_NEAR(h.edges[i], ref.edges[i], 1e-12 * (1.0 + std::abs(ref.edges[i]))) << "edge " << i;
  }
  for (size_t i = 0; i < ref.counts.size(); ++i) {
    EXPECT_EQ(h.counts[i], ref.counts[i]) << "bin " << i << " of " << bins;
  }
}

// Uniform doubles in [lo, hi) from the raw 64-bit engine (std:: distributions differ by library).
std::vector<double> random_values(uint64_t seed, size_t n, double lo, double hi) {
  std::mt19937_64 engine(seed);
  std::vector<double> out(n);
  for (double& v : out) {
    v = lo + (hi - lo) * static_cast<double>(engine() >> 11) * 0x1.0p-53;
  }
  return out;
}

TEST(PlotHistogram, BinCountsMatchAPlainLoopOnRandomDataWithNonFiniteValues) {
  int cases = 0;
  for (const int bins : {1, 2, 3, 7, 10, 40, 64}) {
    for (const uint64_t seed : {1U, 2U, 3U}) {
      std::vector<double> values =
          random_values(seed * 100 + static_cast<uint64_t>(bins), 200 + seed * 37,
                        -3.0 * static_cast<double>(seed), 5.0);
      values[5] = kNaN;
      values[17] = kInf;
      values[42] = -kInf;
      values.push_back(kNaN);
      expect_matches_reference(values, bins);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 21);
}

TEST(PlotHistogram, MaximumFallsInTheLastBinAndEveryFiniteValueIsCounted) {
  const std::vector<double> values = {0.0, 1.0, 2.0, 3.0, 4.0, 10.0, kNaN, -kInf};
  const plot::Histogram h = plot::make_histogram(values, 5);
  EXPECT_EQ(h.edges.front(), 0.0);
  EXPECT_EQ(h.edges.back(), 10.0);
  // Bins of width 2: [0,2) holds 0 and 1, [2,4) holds 2 and 3, [4,6) holds 4, [8,10] holds 10.
  EXPECT_EQ(h.counts, (std::vector<double>{2.0, 2.0, 1.0, 0.0, 1.0}));
  expect_matches_reference(values, 5);
}

TEST(PlotHistogram, ConstantInputOneBinAndNoFiniteValues) {
  // A constant gets [v - 0.5, v + 0.5]: its value sits in the middle bin.
  const plot::Histogram constant = plot::make_histogram({3.0, 3.0, 3.0, kNaN}, 4);
  EXPECT_EQ(constant.edges.front(), 2.5);
  EXPECT_EQ(constant.edges.back(), 3.5);
  EXPECT_EQ(constant.counts, (std::vector<double>{0.0, 0.0, 3.0, 0.0}));
  expect_matches_reference({3.0, 3.0, 3.0, kNaN}, 4);
  // One bin holds every finite value.
  const plot::Histogram one = plot::make_histogram({-1.0, 0.5, 2.0, kInf}, 1);
  EXPECT_EQ(one.edges, (std::vector<double>{-1.0, 2.0}));
  EXPECT_EQ(one.counts, (std::vector<double>{3.0}));
  // Nothing finite (or nothing at all): the range [0, 1] with empty bins.
  for (const std::vector<double>& values :
       {std::vector<double>{kNaN, kInf, -kInf}, std::vector<double>{}}) {
    const plot::Histogram empty = plot::make_histogram(values, 3);
    EXPECT_EQ(empty.edges.front(), 0.0);
    EXPECT_EQ(empty.edges.back(), 1.0);
    EXPECT_EQ(empty.counts, (std::vector<double>{0.0, 0.0, 0.0}));
  }
  // Values spanning more than the largest double do not overflow into NaN positions.
  const double big = std::numeric_limits<double>::max();
  const plot::Histogram huge = plot::make_histogram({-big, 0.0, big}, 2);
  EXPECT_EQ(huge.counts, (std::vector<double>{1.0, 2.0}));
  EXPECT_TRUE(std::isfinite(huge.edges[1]));
}

TEST(PlotHistogram, NonPositiveBinsThrowNamingTheValue) {
  for (const int bins : {0, -3}) {
    const std::string message = error_of([&] { (void)plot::make_histogram({1.0}, bins); });
    EXPECT_CONTAINS(message, "make_histogram");
    EXPECT_CONTAINS(message, std::to_string(bins));
  }
}

// ---- Figure
// --------------------------------------------------------------------------------------

TEST(PlotFigure, OutputIsWellFormedXmlWithEscapedText) {
  const std::string nasty = "a <b> & \"c\"";
  plot::Figure figure(2, 400.0, 300.0, "figure " + nasty);
  figure.add(plot::LineChart{"chart " + nasty,
                             "x " + nasty,
                             "y " + nasty,
                             {plot::Series{"s " + nasty, {0.0, 1.0, 2.0}, {1.0, 3.0, 2.0}},
                              plot::Series{"t", {0.0, 2.0}, {0.5, kNaN}}}});
  figure.add(plot::make_histogram({1.0, 2.0, 2.5}, 3, "hist " + nasty, "v " + nasty));
  plot::LineChart empty{"empty", "x", "y", {}};
  figure.add(empty);
  const std::string svg = figure.to_svg();
  const XmlReport report = check_xml(svg);
  ASSERT_EQ(report.error, "") << svg;
  ASSERT_FALSE(report.elements.empty());
  EXPECT_EQ(report.elements.front().name, "svg");
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  const std::string escaped = "a &lt;b&gt; &amp; &quot;c&quot;";
  const std::vector<std::string> labels = texts(report);
  for (const char* label : {"figure ", "chart ", "x ", "y ", "s ", "hist ", "v "}) {
    EXPECT_TRUE(contains(labels, std::string(label) + escaped)) << label;
  }
  // Clip paths: one per line chart, ids unique within the document, and every use refers to one.
  const auto clips = report.named("clipPath");
  ASSERT_EQ(clips.size(), 2U);
  EXPECT_NE(clips[0]->attributes.at("id"), clips[1]->attributes.at("id"));
  for (const XmlElement* g : report.named("g")) {
    const std::string& ref = g->attributes.at("clip-path");
    EXPECT_TRUE(ref == "url(#" + clips[0]->attributes.at("id") + ")" ||
                ref == "url(#" + clips[1]->attributes.at("id") + ")")
        << ref;
  }
  // The same figure gives the same bytes.
  EXPECT_EQ(figure.to_svg(), svg);
}

TEST(PlotFigure, BadInputThrowsNamingTheValue) {
  EXPECT_CONTAINS(error_of([] { plot::Figure(0); }), "columns must be positive, got 0");
  EXPECT_CONTAINS(error_of([] { plot::Figure(1, -5.0, 10.0); }), "-5");
  EXPECT_CONTAINS(error_of([] { plot::Figure(1, 10.0, kNaN); }), "nan");

  plot::LineChart chart{"acc", "x", "y", {plot::Series{"s", {0.0, 1.0}, {1.0, 2.0}}}};
  chart.y_min = kNaN;
  std::string message = error_of([&] { (void)plot::Figure().add(chart).to_svg(); });
  EXPECT_CONTAINS(message, "'acc'");
  EXPECT_CONTAINS(message, "y_min is nan");
  chart.y_min = 3.0;
  chart.y_max = 1.0;
  EXPECT_CONTAINS(error_of([&] { (void)plot::Figure().add(chart).to_svg(); }),
                  "y_min 3 is above y_max 1");
  chart.y_max = std::nullopt;
  chart.x_max = kInf;
  EXPECT_CONTAINS(error_of([&] { (void)plot::Figure().add(chart).to_svg(); }), "x_max is inf");

  const plot::LineChart ragged{"r", "x", "y", {plot::Series{"s", {0.0, 1.0, 2.0}, {1.0, 2.0}}}};
  EXPECT_CONTAINS(error_of([&] { (void)plot::Figure().add(ragged).to_svg(); }),
                  "series 's' has 3 x values but 2 y values");
  plot::Histogram hist{"h", "v", {0.0, 1.0}, {1.0, 2.0}};
  EXPECT_CONTAINS(error_of([&] { (void)plot::Figure().add(hist).to_svg(); }),
                  "(histogram 'h') has 2 counts and 2 edges");
}

TEST(PlotFigure, SaveWritesAtomicallyAndNamesAnUnwritablePath) {
  const ScratchDir dir;
  plot::Figure figure;
  figure.add(plot::make_histogram({1.0, 2.0}, 2));
  figure.save(dir.file("h.svg"));
  EXPECT_EQ(read_bytes(dir.file("h.svg")), figure.to_svg());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"h.svg"});  // no temporary left behind
  const std::string bad = dir.file("no/such/dir/h.svg");
  const std::string message = error_of([&] { figure.save(bad); });
  EXPECT_CONTAINS(message, "plot::Figure::save");
  EXPECT_CONTAINS(message, bad);
  EXPECT_CONTAINS(message, "No such file or directory");
}

// ---- History curves
// ------------------------------------------------------------------------------

History five_epochs() {
  History history;
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    const auto e = static_cast<double>(epoch);
    history.append(epoch, {{"loss", 2.0 - 0.3 * e},
                           {"val_loss", 2.2 - 0.25 * e},
                           {"accuracy", 0.5 + 0.1 * e},
                           {"val_accuracy", 0.45 + 0.1 * e},
                           {"lr", 0.01}});
  }
  return history;
}

TEST(PlotHistory, OnePanelPerValueWithItsValidationTwin) {
  const History history = five_epochs();
  const plot::Figure figure = plot::history_figure(history, "run");
  ASSERT_EQ(figure.size(), 3U);
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> series;
  for (const plot::Panel& panel : figure.panels()) {
    const auto& chart = std::get<plot::LineChart>(panel);
    titles.push_back(chart.title);
    series.emplace_back();
    for (const plot::Series& s : chart.series) series.back().push_back(s.name);
  }
  EXPECT_EQ(titles, (std::vector<std::string>{"loss", "accuracy", "lr"}));
  EXPECT_EQ(series[0], (std::vector<std::string>{"loss", "val_loss"}));
  EXPECT_EQ(series[1], (std::vector<std::string>{"accuracy", "val_accuracy"}));
  EXPECT_EQ(series[2], (std::vector<std::string>{"lr"}));

  const std::string svg = history.to_svg("run");
  EXPECT_EQ(svg, figure.to_svg());
  const XmlReport report = check_xml(svg);
  ASSERT_EQ(report.error, "");
  const auto polylines = report.named("polyline");
  ASSERT_EQ(polylines.size(), 5U);  // loss, val_loss, accuracy, val_accuracy, lr
  for (const XmlElement* line : polylines) {
    const auto points = polyline_points(*line);
    ASSERT_EQ(points.size(), 5U) << line->attributes.at("points");
    for (size_t i = 1; i < points.size(); ++i) EXPECT_GT(points[i].first, points[i - 1].first);
  }
  // The loss falls, so its line goes down the page: SVG y grows downwards.
  const auto loss = polyline_points(*polylines[0]);
  for (size_t i = 1; i < loss.size(); ++i) EXPECT_GT(loss[i].second, loss[i - 1].second);
  // The accuracy rises.
  const auto accuracy = polyline_points(*polylines[2]);
  for (size_t i = 1; i < accuracy.size(); ++i) {
    EXPECT_LT(accuracy[i].second, accuracy[i - 1].second);
  }
  const std::vector<std::string> labels = texts(report);
  for (const char* name : {"loss", "val_loss", "accuracy", "val_accuracy", "lr", "run"}) {
    EXPECT_TRUE(contains(labels, name)) << name;
  }
}

TEST(PlotHistory, NaNValuesBreakTheLineInsteadOfCrashing) {
  History history;
  const std::vector<double> loss = {1.0, 2.0, kNaN, 4.0, 5.0, kInf, 7.0};
  for (size_t epoch = 0; epoch < loss.size(); ++epoch) {
    Logs logs{{"loss", loss[epoch]}};
    if (epoch == 3) logs["val_loss"] = 0.5;  // logged once: NaN in every other epoch
    history.append(static_cast<int64_t>(epoch), logs);
  }
  const std::string svg = history.to_svg();
  const XmlReport report = check_xml(svg);
  ASSERT_EQ(report.error, "");
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  // loss: runs {1, 2} and {4, 5} are lines, 7 alone a dot; val_loss is a single dot.
  const auto polylines = report.named("polyline");
  ASSERT_EQ(polylines.size(), 2U);
  EXPECT_EQ(polyline_points(*polylines[0]).size(), 2U);
  EXPECT_EQ(polyline_points(*polylines[1]).size(), 2U);
  // Markers: one dot per finite value (5 of loss, 1 of val_loss).
  EXPECT_EQ(report.named("circle").size(), 6U);

  // A history of NaN only, and an empty one, still give a document.
  History nothing;
  nothing.append(0, {{"loss", kNaN}});
  EXPECT_EQ(check_xml(nothing.to_svg()).error, "");
  EXPECT_EQ(check_xml(History().to_svg()).error, "");
}

TEST(PlotHistory, WriteSvgWritesTheFigure) {
  const ScratchDir dir;
  const History history = five_epochs();
  history.write_svg(dir.file("curves.svg"), "t");
  EXPECT_EQ(read_bytes(dir.file("curves.svg")), history.to_svg("t"));
}

// ---- weight histograms and TrainingPlots
// ---------------------------------------------------------

TEST(PlotWeights, OneHistogramPerParameterWithItsCounts) {
  const Tensor a = tensor({{1.0, 2.0}, {3.0, 4.0}});
  const Tensor b = tensor({0.5, 0.5, 0.5});
  const plot::Figure figure = plot::weight_histograms({{"0.kernel", a}, {"0.bias", b}}, 4, "w");
  ASSERT_EQ(figure.size(), 2U);
  const auto& ha = std::get<plot::Histogram>(figure.panels()[0]);
  const auto& hb = std::get<plot::Histogram>(figure.panels()[1]);
  EXPECT_EQ(ha.title, "0.kernel [2, 2]");
  EXPECT_EQ(ha.counts, (std::vector<double>{1.0, 1.0, 1.0, 1.0}));
  EXPECT_EQ(hb.title, "0.bias [3]");
  EXPECT_EQ(hb.counts, (std::vector<double>{0.0, 0.0, 3.0, 0.0}));
  EXPECT_CONTAINS(error_of([&] {
                    (void)plot::weight_histograms({{"a", a}}, 0);
                  }),
                  "bins must be positive, got 0");
}

// A two-layer regression model on a few samples.
Model tiny_model() {
  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(4, nn::DenseOptions{.activation = "relu"});
  network->add<nn::Dense>(1);
  Model model(network);
  model.compile(
      std::make_shared<optim::SGD>(std::vector<Tensor>{}, optim::SgdOptions{.learning_rate = 0.05}),
      "mse", {"mae"});
  return model;
}

struct TinyData {
  Tensor x;
  Tensor y;
};

TinyData tiny_data() {
  Generator generator(7);
  const Tensor x = uniform({16, 3}, -1.0, 1.0, kFloat32, &generator);
  const NoGradGuard no_grad;
  return {x, sum(x, {1}, /*keepdim=*/true) * 0.5};
}

// Reads the curves file at each epoch end, after TrainingPlots wrote it.
class CurvesWatcher : public Callback {
 public:
  explicit CurvesWatcher(std::string path) : path_(std::move(path)) {}
  void on_epoch_end(Model& /*model*/, int64_t epoch, Logs& /*logs*/) override {
    const XmlReport report = check_xml(read_bytes(path_));
    EXPECT_EQ(report.error, "") << "epoch " << epoch;
    size_t lines_with_all_epochs = 0;
    for (const XmlElement* line : report.named("polyline")) {
      if (polyline_points(*line).size() == static_cast<size_t>(epoch) + 1) ++lines_with_all_epochs;
    }
    // From the second epoch on: loss, val_loss, mae, val_mae and lr are lines.
    if (epoch >= 1) {
      EXPECT_EQ(lines_with_all_epochs, 5U) << "epoch " << epoch;
    }
    ++epochs_seen_;
  }
  [[nodiscard]] int epochs_seen() const { return epochs_seen_; }

 private:
  std::string path_;
  int epochs_seen_ = 0;
};

TEST(TrainingPlots, WritesCurvesAndWeightsAtEachEpochOfAFit) {
  const ScratchDir dir;
  Model model = tiny_model();
  const TinyData data = tiny_data();
  auto plots = std::make_shared<TrainingPlots>(dir.file("run"),
                                               TrainingPlotsOptions{.bins = 8, .title = "tiny"});
  EXPECT_EQ(plots->curves_path(), dir.file("run_curves.svg"));
  EXPECT_EQ(plots->weights_path(), dir.file("run_weights.svg"));
  auto watcher = std::make_shared<CurvesWatcher>(plots->curves_path());
  const History history = model.fit(data.x, data.y,
                                    {.epochs = 3,
                                     .batch_size = 4,
                                     .validation_split = 0.25,
                                     .callbacks = {plots, watcher},
                                     .verbose = 0});
  EXPECT_EQ(watcher->epochs_seen(), 3);
  std::vector<std::string> entries = dir.entries();
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"run_curves.svg", "run_weights.svg"}));

  EXPECT_EQ(read_bytes(plots->curves_path()),
            plot::history_figure(history, "tiny: training curves, 3 epochs").to_svg());
  const XmlReport weights = check_xml(read_bytes(plots->weights_path()));
  ASSERT_EQ(weights.error, "");
  const std::vector<std::string> labels = texts(weights);
  EXPECT_TRUE(contains(labels, "tiny: parameters after 3 epochs"));
  for (const char* title : {"0.kernel [3, 4]", "0.bias [4]", "1.kernel [4, 1]", "1.bias [1]"}) {
    EXPECT_TRUE(contains(labels, title)) << title;
  }
}

TEST(TrainingPlots, ADirectoryGetsFixedNamesAndHistogramsCanBeOff) {
  const ScratchDir dir;
  Model model = tiny_model();
  const TinyData data = tiny_data();
  const std::string folder = dir.file("");  // ends with '/'
  auto plots = std::make_shared<TrainingPlots>(folder, TrainingPlotsOptions{.histograms = false});
  EXPECT_EQ(plots->curves_path(), dir.file("curves.svg"));
  (void)model.fit(data.x, data.y,
                  {.epochs = 2, .batch_size = 8, .callbacks = {plots}, .verbose = 0});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"curves.svg"});
  // An existing directory named without the slash works the same way.
  const std::string without_slash = folder.substr(0, folder.size() - 1);
  EXPECT_EQ(TrainingPlots(without_slash).weights_path(), dir.file("weights.svg"));
}

TEST(TrainingPlots, AnUnwritableDirectoryThrowsNamingThePath) {
  const ScratchDir dir;
  Model model = tiny_model();
  const TinyData data = tiny_data();
  const std::string prefix = dir.file("missing/run");
  auto plots = std::make_shared<TrainingPlots>(prefix);
  const std::string message = error_of([&] {
    (void)model.fit(data.x, data.y,
                    {.epochs = 1, .batch_size = 8, .callbacks = {plots}, .verbose = 0});
  });
  EXPECT_CONTAINS(message, prefix + "_curves.svg");
  EXPECT_CONTAINS(message, "No such file or directory");
  EXPECT_CONTAINS(error_of([] { TrainingPlots(""); }), "prefix is empty");
  EXPECT_CONTAINS(error_of([] { TrainingPlots("x", {.bins = -1}); }),
                  "bins must be positive, got -1");
}

}  // namespace
}  // namespace nabla::train
