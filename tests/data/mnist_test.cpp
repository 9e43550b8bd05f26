// Tests for load_mnist on tiny synthetic IDX directories (plain and gzipped) and, when Debian's
// dataset-fashion-mnist is installed, on the real Fashion-MNIST test split.
#include "data/mnist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "data/idx.h"
#include "data/transforms.h"
#include "tensor/error.h"
#include "tests/data/test_util.h"

namespace nabla::data {
namespace {

using test_support::error_of;
using test_support::expect_contains;
using test_support::TempDir;

IdxArray uint8_array(std::vector<int64_t> dims, std::vector<uint8_t> values) {
  IdxArray array;
  array.type = IdxType::UInt8;
  array.dims = std::move(dims);
  array.bytes = std::move(values);
  return array;
}

// n images of rows x cols whose pixel (i, r, c) is (i * 31 + r * cols + c) % 256, label i % 10.
struct SyntheticMnist {
  IdxArray images;
  IdxArray labels;
};

SyntheticMnist synthetic(int64_t n, int64_t rows, int64_t cols) {
  std::vector<uint8_t> pixels;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < rows * cols; ++p)
      pixels.push_back(static_cast<uint8_t>((i * 31 + p) % 256));
  }
  std::vector<uint8_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  return {uint8_array({n, rows, cols}, pixels), uint8_array({n}, labels)};
}

void write_split(const TempDir& tmp, const std::string& prefix, const SyntheticMnist& data,
                 bool gzip) {
  const std::string suffix = gzip ? ".gz" : "";
  write_idx(tmp.file(prefix + "-images-idx3-ubyte" + suffix), data.images, gzip);
  write_idx(tmp.file(prefix + "-labels-idx1-ubyte" + suffix), data.labels, gzip);
}

TEST(Mnist, LoadsPlainAndGzippedSplitsScaledToUnitRange) {
  for (const bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    const TempDir tmp;
    write_split(tmp, "train", synthetic(12, 4, 3), gzip);
    write_split(tmp, "t10k", synthetic(5, 4, 3), gzip);

    const MnistSplit train = load_mnist(tmp.dir(), /*train=*/true);
    EXPECT_EQ(train.images.shape(), (Shape{12, 4, 3}));
    EXPECT_EQ(train.images.dtype(), kFloat32);
    EXPECT_EQ(train.labels.shape(), (Shape{12}));
    EXPECT_EQ(train.labels.dtype(), kInt64);
    const std::vector<float> pixels = train.images.to_vector<float>();
    for (int64_t i = 0; i < 12; ++i) {
      for (int64_t p = 0; p < 12; ++p) {
        const auto raw = static_cast<float>((i * 31 + p) % 256);
        ASSERT_EQ(pixels[static_cast<size_t>(i * 12 + p)], raw / 255.0f) << i << ", " << p;
      }
    }
    const std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(labels[static_cast<size_t>(i)], i % 10);

    const MnistSplit test = load_mnist(tmp.dir(), /*train=*/false);
    EXPECT_EQ(test.images.shape(), (Shape{5, 4, 3}));
    EXPECT_EQ(test.labels.shape(), (Shape{5}));
  }
}

TEST(Mnist, KeepsRawPixelsAndFloat64OnRequest) {
  const TempDir tmp;
  SyntheticMnist data = synthetic(2, 2, 2);
  data.images.bytes[0] = 255;
  data.images.bytes[1] = 0;
  write_split(tmp, "train", data, false);

  MnistOptions raw;
  raw.scale = false;
  const MnistSplit unscaled = load_mnist(tmp.dir(), true, raw);
  EXPECT_EQ(unscaled.images.to_vector<float>()[0], 255.0f);
  EXPECT_EQ(unscaled.images.to_vector<float>()[1], 0.0f);

  MnistOptions wide;
  wide.image_dtype = kFloat64;
  const MnistSplit scaled = load_mnist(tmp.dir(), true, wide);
  EXPECT_EQ(scaled.images.dtype(), kFloat64);
  EXPECT_EQ(scaled.images.to_vector<double>()[0], 1.0);
  EXPECT_EQ(scaled.images.to_vector<double>()[2],
            static_cast<double>(data.images.bytes[2]) / 255.0);

  MnistOptions integer;
  integer.image_dtype = kInt64;
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true, integer); }),
                  {"load_mnist", "image_dtype", "int64"});
}

TEST(Mnist, FindsTheDottedSpellingOfFileNames) {
  const TempDir tmp;
  const SyntheticMnist data = synthetic(3, 2, 2);
  write_idx(tmp.file("t10k-images.idx3-ubyte"), data.images, false);
  write_idx(tmp.file("t10k-labels.idx1-ubyte.gz"), data.labels, true);
  EXPECT_EQ(load_mnist(tmp.dir(), false).labels.shape(), (Shape{3}));
}

TEST(Mnist, RejectsMismatchedCountsNamingBothFiles) {
  const TempDir tmp;
  const SyntheticMnist data = synthetic(6, 2, 2);
  write_idx(tmp.file("train-images-idx3-ubyte"), data.images, false);
  write_idx(tmp.file("train-labels-idx1-ubyte"), synthetic(5, 2, 2).labels, false);
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true); }),
                  {"load_mnist", tmp.file("train-images-idx3-ubyte"), "6 images",
                   tmp.file("train-labels-idx1-ubyte"), "5 labels"});
}

TEST(Mnist, RejectsWrongRanksAndTypesNamingTheFile) {
  const TempDir tmp;
  const SyntheticMnist data = synthetic(4, 2, 2);
  const std::string images = tmp.file("train-images-idx3-ubyte");
  const std::string labels = tmp.file("train-labels-idx1-ubyte");

  // Images flattened to [N, rows * cols]: a file for another loader, not 3-D.
  write_idx(images, uint8_array({4, 4}, data.images.bytes), false);
  write_idx(labels, data.labels, false);
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true); }),
                  {"image file", images, "[4, 4]", "expected 3 dims"});

  // Labels as a column [N, 1].
  write_idx(images, data.images, false);
  write_idx(labels, uint8_array({4, 1}, data.labels.bytes), false);
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true); }),
                  {"label file", labels, "[4, 1]", "expected 1 dims"});

  // The two files swapped.
  write_idx(images, data.labels, false);
  write_idx(labels, data.images, false);
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true); }),
                  {"label file", labels, "expected 1 dims"});

  // int32 labels.
  IdxArray wide;
  wide.type = IdxType::Int32;
  wide.dims = {4};
  wide.bytes.assign(16, 0);
  write_idx(images, data.images, false);
  write_idx(labels, wide, false);
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true); }),
                  {"label file", labels, "int32", "expected uint8"});
}

TEST(Mnist, ChecksLabelsAgainstNumClassesWhenAsked) {
  const TempDir tmp;
  SyntheticMnist data = synthetic(4, 2, 2);
  data.labels.bytes[2] = 200;
  write_split(tmp, "train", data, false);
  EXPECT_EQ(load_mnist(tmp.dir(), true).labels.to_vector<int64_t>()[2], 200);
  MnistOptions ten;
  ten.num_classes = 10;
  expect_contains(error_of([&] { (void)load_mnist(tmp.dir(), true, ten); }),
                  {"label 200", "position 2", "< 10", tmp.file("train-labels-idx1-ubyte")});
}

TEST(Mnist, MissingFileErrorListsThePathsTried) {
  const TempDir tmp;
  write_idx(tmp.file("train-images-idx3-ubyte"), synthetic(2, 2, 2).images, false);
  const std::string message = error_of([&] { (void)load_mnist(tmp.dir(), true); });
  expect_contains(message,
                  {"train-labels-idx1-ubyte", tmp.file("train-labels-idx1-ubyte"),
                   tmp.file("train-labels-idx1-ubyte.gz"), tmp.file("train-labels.idx1-ubyte")});
  expect_contains(error_of([&] { (void)load_mnist(tmp.file("nowhere"), false); }),
                  {"t10k-images-idx3-ubyte", "no such directory"});
}

TEST(Mnist, FashionClassNamesAndDefaultDir) {
  ASSERT_EQ(fashion_mnist_class_names().size(), 10U);
  EXPECT_EQ(fashion_mnist_class_names()[0], "T-shirt/top");
  EXPECT_EQ(fashion_mnist_class_names()[9], "Ankle boot");
  EXPECT_EQ(default_data_dir(), "/usr/share/datasets/fashion-mnist");
}

// The real files from Debian's dataset-fashion-mnist; skipped where the package is absent.
TEST(Mnist, ReadsTheRealFashionMnistTestSplit) {
  const std::string dir = default_data_dir();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) GTEST_SKIP() << dir << " is not installed";
  MnistOptions options;
  options.num_classes = 10;
  const MnistSplit test = load_mnist(dir, /*train=*/false, options);
  ASSERT_EQ(test.images.shape(), (Shape{10000, 28, 28}));
  ASSERT_EQ(test.labels.shape(), (Shape{10000}));

  const std::vector<float> pixels = test.images.to_vector<float>();
  float low = 1.0f;
  float high = 0.0f;
  for (const float p : pixels) {
    low = std::min(low, p);
    high = std::max(high, p);
  }
  EXPECT_EQ(low, 0.0f);
  EXPECT_EQ(high, 1.0f);

  // The test split is balanced: 1000 images of each class.
  std::vector<int64_t> counts(10, 0);
  for (const int64_t label : test.labels.to_vector<int64_t>()) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++counts[static_cast<size_t>(label)];
  }
  for (size_t c = 0; c < counts.size(); ++c) EXPECT_EQ(counts[c], 1000) << "class " << c;
  const std::vector<int64_t> labels = test.labels.to_vector<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.begin() + 10),
            (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));

  // Reference values computed in double by a Python script over the same file.
  const auto [mean, stddev] = mean_std(test.images);
  EXPECT_NEAR(mean, 0.2868492807, 1e-6);
  EXPECT_NEAR(stddev, 0.3524441533, 1e-6);
}

}  // namespace
}  // namespace nabla::data
