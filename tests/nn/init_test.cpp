// Initializer fans, statistics, bounds, reproducibility and name lookup.
#include "nn/init.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nabla.h"

namespace nabla::nn {
namespace {

struct Stats {
  double mean = 0.0;
  double stddev = 0.0;
  double max_abs = 0.0;
};

Stats stats_of(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  Stats s;
  for (const double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  double sq = 0.0;
  for (const double x : v) {
    sq += (x - s.mean) * (x - s.mean);
    s.max_abs = std::max(s.max_abs, std::abs(x));
  }
  s.stddev = std::sqrt(sq / static_cast<double>(v.size()));
  return s;
}

// Draws with `fill` into a fresh tensor and checks mean 0, the expected stddev within 2% and
// every value within `bound`.
template <typename Fill>
void expect_distribution(const Shape& shape, Fill fill, double expected_std, double bound,
                         const std::string& what) {
  Generator generator(1234);
  Tensor t = Tensor::empty(shape, kFloat64);
  fill(t, &generator);
  const Stats s = stats_of(t);
  EXPECT_NEAR(s.mean, 0.0, 0.02 * expected_std) << what;
  EXPECT_NEAR(s.stddev, expected_std, 0.02 * expected_std) << what;
  EXPECT_LE(s.max_abs, bound) << what;
  // The bound is reached closely: a uniform fills its interval, a truncated normal reaches 2 std.
  EXPECT_GT(s.max_abs, 0.95 * bound) << what;
}

TEST(Init, FansFollowKerasForDenseAndPyTorchLayoutForConv) {
  const init::Fans dense = init::compute_fans({784, 512});
  EXPECT_EQ(dense.fan_in, 784.0);
  EXPECT_EQ(dense.fan_out, 512.0);
  const init::Fans conv = init::compute_fans({32, 3, 5, 3});  // [OC, C, KH, KW]
  EXPECT_EQ(conv.fan_in, 3.0 * 15.0);
  EXPECT_EQ(conv.fan_out, 32.0 * 15.0);
  EXPECT_EQ(init::compute_fans({7}).fan_in, 7.0);
  EXPECT_EQ(init::compute_fans({7}).fan_out, 7.0);
  EXPECT_EQ(init::compute_fans({}).fan_in, 1.0);
}

TEST(Init, GlorotUniformHasKerasLimitAndVariance) {
  const double limit = std::sqrt(6.0 / (400.0 + 600.0));
  expect_distribution(
      {400, 600}, [](Tensor t, Generator* g) { init::glorot_uniform(t, g); },
      limit / std::sqrt(3.0), limit, "glorot_uniform");
}

TEST(Init, GlorotNormalIsTruncatedWithTheIntendedStddev) {
  const double stddev = std::sqrt(2.0 / (400.0 + 600.0));
  expect_distribution(
      {400, 600}, [](Tensor t, Generator* g) { init::glorot_normal(t, g); }, stddev,
      2.0 * stddev / 0.87962566103423978, "glorot_normal");
}

TEST(Init, HeAndLecunUseTheConvFanIn) {
  const Shape shape{128, 64, 3, 3};  // fan_in = 576
  const double fan_in = 576.0;
  expect_distribution(
      shape, [](Tensor t, Generator* g) { init::he_uniform(t, g); }, std::sqrt(2.0 / fan_in),
      std::sqrt(6.0 / fan_in), "he_uniform");
  expect_distribution(
      shape, [](Tensor t, Generator* g) { init::he_normal(t, g); }, std::sqrt(2.0 / fan_in),
      2.0 * std::sqrt(2.0 / fan_in) / 0.87962566103423978, "he_normal");
  expect_distribution(
      shape, [](Tensor t, Generator* g) { init::lecun_uniform(t, g); }, std::sqrt(1.0 / fan_in),
      std::sqrt(3.0 / fan_in), "lecun_uniform");
  expect_distribution(
      shape, [](Tensor t, Generator* g) { init::lecun_normal(t, g); }, std::sqrt(1.0 / fan_in),
      2.0 * std::sqrt(1.0 / fan_in) / 0.87962566103423978, "lecun_normal");
}

TEST(Init, PlainDistributionsUseKerasDefaults) {
  expect_distribution(
      {300, 300}, [](Tensor t, Generator* g) { init::random_uniform(t, -0.05, 0.05, g); },
      0.05 / std::sqrt(3.0), 0.05, "random_uniform");
  // A plain normal is not bounded; 6 stddev is never exceeded in 90000 draws in practice.
  Generator generator(5);
  Tensor normal_values = Tensor::empty({300, 300}, kFloat64);
  init::random_normal(normal_values, 1.0, 0.5, &generator);
  const Stats s = stats_of(normal_values);
  EXPECT_NEAR(s.mean, 1.0, 0.01);
  EXPECT_NEAR(s.stddev, 0.5, 0.01);
  // truncated_normal: a plain normal truncated at 2 stddev has stddev 0.8796 * stddev.
  Tensor truncated = Tensor::empty({300, 300}, kFloat64);
  init::truncated_normal(truncated, 0.0, 0.05, &generator);
  const Stats t = stats_of(truncated);
  EXPECT_LE(t.max_abs, 0.1);
  EXPECT_NEAR(t.stddev, 0.05 * 0.87962566103423978, 0.001);
}

TEST(Init, ConstantsFillEveryElement) {
  Tensor t = Tensor::empty({3, 4});
  init::ones(t);
  for (const float v : t.to_vector<float>()) EXPECT_EQ(v, 1.0F);
  init::zeros(t);
  for (const float v : t.to_vector<float>()) EXPECT_EQ(v, 0.0F);
  init::constant(t, 2.5);
  for (const float v : t.to_vector<float>()) EXPECT_EQ(v, 2.5F);
}

TEST(Init, SameSeedSameValuesAndFloat32Works) {
  Generator a(77);
  Generator b(77);
  Generator c(78);
  Tensor x = Tensor::empty({10, 20});
  Tensor y = Tensor::empty({10, 20});
  Tensor z = Tensor::empty({10, 20});
  init::glorot_normal(x, &a);
  init::glorot_normal(y, &b);
  init::glorot_normal(z, &c);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  EXPECT_NE(x.to_vector<float>(), z.to_vector<float>());
}

TEST(Init, FillsParametersThatRequireGrad) {
  Tensor p = zeros({4, 4}, kFloat64);
  p.requires_grad_();
  EXPECT_NO_THROW(init::initialize("he_uniform", p));
  EXPECT_GT(stats_of(p).max_abs, 0.0);
  EXPECT_TRUE(p.requires_grad());
}

TEST(Init, ByNameAndUnknownNames) {
  Tensor t = Tensor::empty({2, 2});
  init::initialize("ones", t);
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(4, 1.0F));
  EXPECT_TRUE(init::is_known("glorot_uniform"));
  EXPECT_TRUE(init::is_known("xavier_normal"));
  try {
    init::initialize("glorot_uniformm", t);
    FAIL() << "expected nabla::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown initializer 'glorot_uniformm'"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("he_normal"), std::string::npos) << e.what();
  }
  Tensor labels = zeros({3}, kInt64);
  EXPECT_THROW(init::glorot_uniform(labels), Error);
}

// Rows (or columns, whichever are fewer) of the matrix [prod(shape[:-1]), shape[-1]] are
// orthonormal: the Gram matrix, computed here with plain double loops, is the identity.
void expect_orthonormal(const Shape& shape, double gain) {
  Generator generator(77);
  Tensor t = Tensor::empty(shape, kFloat64);
  init::orthogonal(t, gain, &generator);
  const int64_t cols = shape.back();
  const int64_t rows = t.numel() / cols;
  const std::vector<double> v = t.to_vector<double>();
  const bool by_rows = rows <= cols;
  const int64_t count = by_rows ? rows : cols;
  const int64_t length = by_rows ? cols : rows;
  const auto at = [&](int64_t vec, int64_t k) {
    return by_rows ? v[static_cast<size_t>(vec * cols + k)]
                   : v[static_cast<size_t>(k * cols + vec)];
  };
  for (int64_t a = 0; a < count; ++a) {
    for (int64_t b = 0; b < count; ++b) {
      double dot = 0.0;
      for (int64_t k = 0; k < length; ++k) dot += at(a, k) * at(b, k);
      EXPECT_NEAR(dot, a == b ? gain * gain : 0.0, 1e-12) << shape_str(shape) << " " << a << b;
    }
  }
}

TEST(Init, OrthogonalGivesOrthonormalRowsOrColumns) {
  expect_orthonormal({5, 20}, 1.0);    // a recurrent kernel [units, 4 * units]: rows
  expect_orthonormal({20, 5}, 1.0);    // columns
  expect_orthonormal({7, 7}, 2.0);     // square, with gain
  expect_orthonormal({2, 3, 4}, 1.0);  // [6, 4] seen as a matrix
  expect_orthonormal({1, 1}, 1.0);
  // Reproducible, by name, refuses vectors.
  Tensor a = Tensor::empty({4, 8}, kFloat64);
  Tensor b = Tensor::empty({4, 8}, kFloat64);
  Generator ga(5);
  Generator gb(5);
  init::initialize("orthogonal", a, &ga);
  init::orthogonal(b, 1.0, &gb);
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
  Tensor vec = Tensor::empty({4});
  EXPECT_THROW(init::orthogonal(vec), Error);
}

TEST(Init, UniformIsKerasEmbeddingDefault) {
  Tensor t = Tensor::empty({50, 40}, kFloat64);
  init::initialize("uniform", t);
  const Stats s = stats_of(t);
  EXPECT_LE(s.max_abs, 0.05);
  EXPECT_GT(s.max_abs, 0.045);
}

}  // namespace
}  // namespace nabla::nn
