// Training pictures: histogram counts, the panels and curves of a History's figure, weight
// histograms, and the errors.
#include "train/figures.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "nabla.h"
#include "tests/support/scratch_files.h"

namespace nabla::train {
namespace {

using nabla::testing::error_of;
using nabla::testing::read_bytes;
using nabla::testing::ScratchDir;

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

TEST(Figures, HistogramCountsEachFiniteValueInItsBin) {
  std::vector<double> values;
  for (int i = 0; i <= 20; ++i) values.push_back(0.05 * i * i);  // 0 .. 20, denser near 0
  values.push_back(std::numeric_limits<double>::quiet_NaN());
  values.push_back(std::numeric_limits<double>::infinity());
  const plot::Histogram h = plot::make_histogram(values, 4, "t", "x");
  ASSERT_EQ(h.edges.size(), 5U);
  EXPECT_EQ(h.edges.front(), 0.0);
  EXPECT_EQ(h.edges.back(), 20.0);
  // Independently: a value belongs to [lo + 5k, lo + 5(k + 1)), the maximum to the last bin.
  std::vector<double> expected(4, 0.0);
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    for (int k = 0; k < 4; ++k) {
      if ((v >= 5.0 * k && v < 5.0 * (k + 1)) || (k == 3 && v == 20.0)) expected[k] += 1.0;
    }
  }
  EXPECT_EQ(h.counts, expected);
  EXPECT_CONTAINS(error_of([&] { (void)plot::make_histogram(values, 0); }),
                  "bins must be positive, got 0");
}

TEST(Figures, HistoryFigureHasAPanelPerQuantityWithItsValidationTwin) {
  History history;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto e = static_cast<double>(epoch);
    history.append(epoch, {{"loss", 1.0 / (e + 1)},
                           {"val_loss", 1.2 / (e + 1)},
                           {"accuracy", 0.5 + 0.1 * e},
                           {"val_accuracy", 0.45 + 0.1 * e},
                           {"lr", 0.01}});
  }
  const plot::Figure figure = history_figure(history, "run");
  EXPECT_EQ(figure.size(), 3U);  // accuracy, loss, lr
  const std::string svg = figure.to_svg();
  EXPECT_EQ(svg.rfind("<svg", 0), 0U);
  EXPECT_EQ(count_of(svg, "<polyline"), 5U);  // one per series
  for (const std::string name : {"accuracy", "val_accuracy", "loss", "val_loss", "lr", "run"}) {
    EXPECT_CONTAINS(svg, ">" + name + "<");
  }
  const ScratchDir dir;
  figure.save(dir.file("curves.svg"));
  // NOTE: clip-path ids are unique per process, so two renderings differ only in them.
  const std::string saved = read_bytes(dir.file("curves.svg"));
  EXPECT_EQ(saved.rfind("<svg", 0), 0U);
  EXPECT_EQ(count_of(saved, "<polyline"), 5U);
  EXPECT_CONTAINS(error_of([&] { (void)history_figure(History()); }), "the history has no epochs");
}

TEST(Figures, WeightHistogramsDrawEveryParameter) {
  nn::Sequential model;
  model.add<nn::Dense>(3, nn::DenseOptions{.input_dim = 2}).add<nn::BatchNormalization>();
  (void)model.build({1, 2});
  const std::string parameters = weight_histograms(model, 10).to_svg();
  for (const std::string name : {"0.kernel [2, 3]", "0.bias [3]", "1.gamma [3]", "1.beta [3]"}) {
    EXPECT_CONTAINS(parameters, name);
  }
  EXPECT_EQ(parameters.find("moving_mean"), std::string::npos);
  EXPECT_EQ(weight_histograms(model, 10).size(), 4U);
  EXPECT_EQ(weight_histograms(model, 10, "", 2, /*buffers=*/true).size(), 6U);
  EXPECT_CONTAINS(error_of([&] { (void)weight_histograms(nn::Sequential()); }),
                  "the module has no parameters");
}

}  // namespace
}  // namespace nabla::train
