// DataParallel: N ranks with global batch / N each end with the parameters of one process
// trained on the global batch (20 SGD and 20 Adam steps, float32, within 1e-5 relative), and
// bit-identically when run twice. The one-process reference is computed on every rank, locally.
#include "dist/data_parallel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "dist/dist.h"
#include "nabla.h"
#include "tests/support/expect_error.h"

namespace nabla::dist {
namespace {

constexpr int64_t kGlobalBatch = 8;  // divisible by 1, 2 and 4 ranks
constexpr int64_t kSteps = 20;
constexpr int64_t kIn = 5;

struct Data {
  Tensor x;  // [kSteps * kGlobalBatch, kIn]
  Tensor y;  // [kSteps * kGlobalBatch, 3]
};

Data make_data() {
  Generator generator(2024);
  return {randn({kSteps * kGlobalBatch, kIn}, kFloat32, &generator),
          randn({kSteps * kGlobalBatch, 3}, kFloat32, &generator)};
}

// Every rank builds from `seed`; DataParallel must replace the others' weights with rank 0's.
std::shared_ptr<nn::Sequential> make_network(uint64_t seed, int64_t hidden = 16) {
  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(hidden,
                          nn::DenseOptions{.activation = "tanh", .input_dim = kIn, .seed = seed});
  network->add<nn::Dense>(3, nn::DenseOptions{.seed = seed + 1});
  network->build({kGlobalBatch, kIn});
  return network;
}

using OptimizerFactory = std::function<std::shared_ptr<optim::Optimizer>(std::vector<Tensor>)>;

std::shared_ptr<optim::Optimizer> sgd(std::vector<Tensor> params) {
  return std::make_shared<optim::SGD>(std::move(params),
                                      optim::SgdOptions{.learning_rate = 0.1, .momentum = 0.9});
}

std::shared_ptr<optim::Optimizer> adam(std::vector<Tensor> params) {
  return std::make_shared<optim::Adam>(std::move(params),
                                       optim::AdamOptions{.learning_rate = 0.01});
}

Tensor mse(const Tensor& prediction, const Tensor& target) {
  const Tensor diff = prediction - target;
  return (diff * diff).mean();
}

// One process, global batch: the reference.
std::vector<std::vector<float>> train_alone(const OptimizerFactory& make_optimizer) {
  const Data data = make_data();
  auto network = make_network(42);
  auto optimizer = make_optimizer(network->parameters());
  for (int64_t s = 0; s < kSteps; ++s) {
    optimizer->zero_grad();
    const int64_t begin = s * kGlobalBatch;
    mse((*network)(data.x.slice(0, begin, begin + kGlobalBatch)),
        data.y.slice(0, begin, begin + kGlobalBatch))
        .backward();
    optimizer->step();
  }
  std::vector<std::vector<float>> out;
  for (const Tensor& p : network->parameters()) out.push_back(p.to_vector<float>());
  return out;
}

// world_size() ranks, each on its contiguous global batch / N rows of every step.
std::vector<std::vector<float>> train_data_parallel(const OptimizerFactory& make_optimizer,
                                                    const DataParallelOptions& options) {
  const Data data = make_data();
  auto network = make_network(rank() == 0 ? 42 : 1000 + static_cast<uint64_t>(rank()));
  if (rank() != 0) {
    const NoGradGuard no_grad;
    for (Tensor& p : network->parameters()) p.add_(static_cast<double>(rank()));  // biases too
  }
  DataParallel model(network, options);
  auto optimizer = model.wrap(make_optimizer({}));
  const int64_t local = kGlobalBatch / world_size();
  for (int64_t s = 0; s < kSteps; ++s) {
    optimizer->zero_grad();
    const int64_t begin = s * kGlobalBatch + rank() * local;
    mse(model(data.x.slice(0, begin, begin + local)), data.y.slice(0, begin, begin + local))
        .backward();
    optimizer->step();
  }
  std::vector<std::vector<float>> out;
  for (const Tensor& p : network->parameters()) out.push_back(p.to_vector<float>());
  return out;
}

// max |a - b| / max |b| over each parameter tensor.
void expect_close(const std::vector<std::vector<float>>& got,
                  const std::vector<std::vector<float>>& reference, const char* what) {
  ASSERT_EQ(got.size(), reference.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].size(), reference[k].size());
    double diff = 0.0;
    double scale = 0.0;
    for (size_t i = 0; i < got[k].size(); ++i) {
      diff = std::max(diff, std::abs(static_cast<double>(got[k][i]) - reference[k][i]));
      scale = std::max(scale, std::abs(static_cast<double>(reference[k][i])));
    }
    EXPECT_LE(diff, 1e-5 * scale) << what << ", parameter " << k << " at N = " << world_size();
  }
}

struct Variant {
  const char* name;
  DataParallelOptions options;
};

const std::vector<Variant>& variants() {
  static const std::vector<Variant> all{
      {"one bucket, overlap", {}},
      {"64-byte buckets, overlap", {.bucket_bytes = 64}},
      {"64-byte buckets, no overlap", {.bucket_bytes = 64, .overlap = false}},
      {"64-byte buckets, rank-ordered sums", {.bucket_bytes = 64, .rank_ordered = true}}};
  return all;
}

TEST(DataParallel, TwentySgdStepsMatchOneProcessWithTheGlobalBatch) {
  const auto reference = train_alone(sgd);
  for (const Variant& variant : variants()) {
    expect_close(train_data_parallel(sgd, variant.options), reference, variant.name);
  }
}

TEST(DataParallel, TwentyAdamStepsMatchOneProcessWithTheGlobalBatch) {
  const auto reference = train_alone(adam);
  for (const Variant& variant : variants()) {
    expect_close(train_data_parallel(adam, variant.options), reference, variant.name);
  }
}

TEST(DataParallel, TwoRunsWithTheSameRanksAreBitIdentical) {
  for (const OptimizerFactory& factory : {OptimizerFactory(sgd), OptimizerFactory(adam)}) {
    const auto first = train_data_parallel(factory, {.bucket_bytes = 64});
    const auto second = train_data_parallel(factory, {.bucket_bytes = 64});
    EXPECT_EQ(first, second);
    const auto ordered = train_data_parallel(factory, {.rank_ordered = true});
    EXPECT_EQ(train_data_parallel(factory, {.bucket_bytes = 64, .rank_ordered = true}), ordered);
    // ... and every rank holds the same parameters, bit for bit.
    std::vector<double> mine;
    for (const auto& p : first) mine.insert(mine.end(), p.begin(), p.end());
    std::vector<double> summed = mine;
    sum_in_rank_order(summed);
    for (size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(summed[i], mine[i] * static_cast<double>(world_size())) << i;
    }
  }
}

TEST(DataParallel, BucketsFollowReverseParameterOrderAndTheByteLimit) {
  auto network = make_network(1);  // 0.kernel [5, 16], 0.bias [16], 1.kernel [16, 3], 1.bias [3]
  const DataParallel one(network);
  EXPECT_EQ(one.bucket_layout(), (std::vector<std::vector<size_t>>{{3, 2, 1, 0}}));
  // 100 bytes: 1.bias (12 B) + 1.kernel (192 B) overflow, so each gets its own bucket.
  const DataParallel small(network, {.bucket_bytes = 100});
  EXPECT_EQ(small.bucket_layout(), (std::vector<std::vector<size_t>>{{3}, {2}, {1}, {0}}));
  const DataParallel medium(network, {.bucket_bytes = 300});
  EXPECT_EQ(medium.bucket_layout(), (std::vector<std::vector<size_t>>{{3, 2, 1}, {0}}));
}

// Registered [a, b] but used as (x @ b) @ a: backward makes a's gradient first. After the first
// step the buckets follow that order, and the gradients stay right.
TEST(DataParallel, BucketsFollowTheObservedOrderAfterTheFirstStep) {
  Tensor a = full({2, 2}, 1.0).requires_grad_();
  Tensor b = full({2, 2}, 2.0).requires_grad_();
  DataParallel model({a, b}, {.bucket_bytes = 16});
  EXPECT_EQ(model.bucket_layout(), (std::vector<std::vector<size_t>>{{1}, {0}}));
  const Tensor x = full({1, 2}, static_cast<double>(rank() + 1));
  for (int step = 0; step < 2; ++step) {
    a.set_grad(Tensor());
    b.set_grad(Tensor());
    sum(matmul(matmul(x, b), a)).backward();
    model.synchronize();
    EXPECT_EQ(model.bucket_layout(), (std::vector<std::vector<size_t>>{{0}, {1}}));
    // d/da sum((x b) a) = (x b)^T 1 = 4 (r + 1) everywhere; d/db = x^T (a 1) = 2 (r + 1).
    // The mean of r + 1 over the ranks is (N + 1) / 2.
    const float mean = (static_cast<float>(world_size()) + 1.0F) / 2.0F;
    EXPECT_EQ(a.grad().to_vector<float>(), std::vector<float>(4, 4.0F * mean));
    EXPECT_EQ(b.grad().to_vector<float>(), std::vector<float>(4, 2.0F * mean));
  }
}

TEST(DataParallel, DifferentModelsOnTheRanksAreAnErrorOnEveryRank) {
  if (world_size() == 1) return;
  auto network = make_network(1, rank() == 0 ? 16 : 17);
  testing::expect_error_containing(
      [&] { const DataParallel model(network); },
      "DataParallel: parameter 0 (0.kernel) has shape [5, 16] and dtype float32 on rank 0 but "
      "shape [5, 17] and dtype float32 on rank 1; every rank must build the same model");
  auto deeper = make_network(1);
  if (rank() != 0) deeper->add<nn::Dense>(2, nn::DenseOptions{.input_dim = 3});
  deeper->build({kGlobalBatch, kIn});
  testing::expect_error_containing([&] { const DataParallel model(deeper); },
                                   "DataParallel: rank 0 has 4 parameters but rank 1 has 6");
}

TEST(DataParallel, UnusedParameterGetsZeroAndASecondBackwardIsRefused) {
  Tensor used = full({2}, 1.0).requires_grad_();
  Tensor unused = full({3}, 1.0).requires_grad_();
  DataParallel model({used, unused}, {.bucket_bytes = 8});
  // d/d used of sum(used * (rank + 1)) = rank + 1; the mean over ranks is (N + 1) / 2.
  sum(used * static_cast<double>(rank() + 1)).backward();
  testing::expect_error_containing([&] { sum(used * 2.0).backward(); },
                                   "DataParallel: parameter 0 got a second gradient before step()");
  model.synchronize();
  const auto n = static_cast<float>(world_size());
  // The bucket holds the first backward's gradient (r + 1); the refused one is overwritten by the
  // average of r + 1 over the ranks, (N + 1) / 2.
  EXPECT_EQ(used.grad().to_vector<float>(), std::vector<float>(2, (n + 1.0F) / 2.0F));
  EXPECT_EQ(unused.grad().to_vector<float>(), std::vector<float>(3, 0.0F));
  EXPECT_EQ(model.last_stats().buckets, 2);
}

TEST(DataParallel, NoSyncAccumulatesLocallyThenTheNextBackwardAverages) {
  Tensor w = full({2}, 0.0).requires_grad_();
  DataParallel model({w});
  {
    const DataParallel::NoSync local(model);
    sum(w * static_cast<double>(rank() + 1)).backward();
    model.synchronize();  // nothing pending: no communication
  }
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(2, static_cast<float>(rank() + 1)));
  sum(w * 10.0).backward();
  model.synchronize();
  const auto n = static_cast<float>(world_size());
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(2, (n + 1.0F) / 2.0F + 10.0F));
}

}  // namespace
}  // namespace nabla::dist
