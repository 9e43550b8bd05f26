// The codelab "TensorFlow and deep learning, without a PhD" stage by stage on Fashion-MNIST (or any
// MNIST-format --data DIR): from softmax regression to a conv net, with curves and histograms.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "examples/common.h"
#include "nabla.h"

namespace {

using nabla::Tensor;
namespace nn = nabla::nn;
namespace optim = nabla::optim;
namespace plot = nabla::plot;

constexpr int64_t kBatchSize = 100;  // the codelab's mini-batch
constexpr int64_t kClasses = 10;
constexpr int64_t kEvalBatch = 1000;  // evaluation batches only bound memory (conv im2col)
constexpr int kHistogramBins = 40;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// The codelab's decay: lr = 0.0001 + 0.003 * exp(-step / 2000).
constexpr double kDecayMin = 1e-4;
constexpr double kDecayRange = 3e-3;
constexpr int64_t kDecaySteps = 2000;

// The codelab initializes weights with truncated_normal(stddev 0.1) and biases with zeros
// (sigmoid) or 0.1 (relu, so that no unit starts dead). Keras' defaults (glorot_uniform, zeros)
// train as well; we keep the codelab's so its curves are comparable.
void codelab_init(const nn::Sequential& network, double weight_stddev, double bias_value) {
  for (const auto& layer : network.layers()) {
    Tensor kernel;
    Tensor bias;
    if (const auto dense = std::dynamic_pointer_cast<nn::Dense>(layer)) {
      kernel = dense->kernel();
      bias = dense->bias();
    } else if (const auto conv = std::dynamic_pointer_cast<nn::Conv2D>(layer)) {
      kernel = conv->kernel();
      bias = conv->bias();
    } else {
      continue;
    }
    if (weight_stddev > 0.0) {
      nn::init::truncated_normal(kernel, 0.0, weight_stddev);
    } else {
      nn::init::zeros(kernel);
    }
    nn::init::constant(bias, bias_value);
  }
}

// 1.0: one Dense(10, softmax) on the 784 pixels, all parameters zero as in the codelab.
std::shared_ptr<nn::Sequential> softmax_regression() {
  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(kClasses, nn::DenseOptions{.activation = "softmax", .input_dim = 784});
  network->build({1, 784});
  codelab_init(*network, 0.0, 0.0);
  return network;
}

// 2.x: 784-200-100-60-30-10, with Dropout(rate) after each hidden layer when rate > 0.
std::shared_ptr<nn::Sequential> five_layers(const std::string& activation, double dropout_rate) {
  auto network = std::make_shared<nn::Sequential>();
  const std::array<int64_t, 4> hidden = {200, 100, 60, 30};
  for (size_t i = 0; i < hidden.size(); ++i) {
    network->add<nn::Dense>(
        hidden[i],
        nn::DenseOptions{.activation = activation,
                         .input_dim = i == 0 ? std::optional<int64_t>(784) : std::nullopt});
    if (dropout_rate > 0.0) network->add<nn::Dropout>(dropout_rate);
  }
  network->add<nn::Dense>(kClasses, nn::DenseOptions{.activation = "softmax"});
  network->build({1, 784});
  codelab_init(*network, 0.1, activation == "relu" ? 0.1 : 0.0);
  return network;
}

// 3.x: three "same" convolutions (strides 1, 2, 2: 28x28 -> 14x14 -> 7x7), Dense(200, relu) with
// optional dropout, Dense(10, softmax). NCHW, so images are [N, 1, 28, 28].
std::shared_ptr<nn::Sequential> conv_net(std::array<int64_t, 3> filters,
                                         std::array<int64_t, 3> kernels, double dropout_rate) {
  auto network = std::make_shared<nn::Sequential>();
  const std::array<int64_t, 3> strides = {1, 2, 2};
  for (size_t i = 0; i < filters.size(); ++i) {
    network->add<nn::Conv2D>(
        filters[i], kernels[i],
        nn::Conv2DOptions{
            .strides = {strides[i], strides[i]}, .padding = "same", .activation = "relu"});
  }
  network->add<nn::Flatten>();
  network->add<nn::Dense>(200, nn::DenseOptions{.activation = "relu"});
  if (dropout_rate > 0.0) network->add<nn::Dropout>(dropout_rate);
  network->add<nn::Dense>(kClasses, nn::DenseOptions{.activation = "softmax"});
  network->build({1, 1, 28, 28});
  codelab_init(*network, 0.1, 0.1);
  return network;
}

enum class OptimizerKind { Sgd, Adam };

struct Stage {
  std::string id;
  std::string title;
  bool convolutional;  // takes [N, 1, 28, 28] images rather than [N, 784]
  std::function<std::shared_ptr<nn::Sequential>()> build;
  OptimizerKind optimizer;
  double learning_rate;  // the initial rate; with decay, 0.0001 + 0.003 at step 0
  bool decay;
};

std::vector<Stage> codelab_stages() {
  return {
      // Mean loss with SGD 0.5 is the codelab's GradientDescentOptimizer(0.005) on the loss
      // summed over the batch of 100 (-reduce_mean(Y_ * log Y) * 1000): gradients 100x larger.
      {"1.0", "softmax regression, SGD lr 0.5", false, softmax_regression, OptimizerKind::Sgd, 0.5,
       false},
      {"2.0", "five layers sigmoid, Adam lr 0.003", false,
       [] { return five_layers("sigmoid", 0.0); }, OptimizerKind::Adam, 0.003, false},
      {"2.1", "five layers relu, Adam lr 0.003", false, [] { return five_layers("relu", 0.0); },
       OptimizerKind::Adam, 0.003, false},
      {"2.2", "five layers relu, lr decay", false, [] { return five_layers("relu", 0.0); },
       OptimizerKind::Adam, kDecayMin + kDecayRange, true},
      {"2.3", "five layers relu, lr decay, dropout 0.25", false,
       [] { return five_layers("relu", 0.25); }, OptimizerKind::Adam, kDecayMin + kDecayRange,
       true},
      {"3.0", "conv 4-8-12 + dense 200, lr decay", true,
       [] {
         return conv_net({4, 8, 12}, {5, 4, 4}, 0.0);
       },
       OptimizerKind::Adam, kDecayMin + kDecayRange, true},
      // The codelab's bigger net: 6x6, 5x5 and 4x4 kernels, dropout (pkeep 0.75) on the dense
      // layer.
      {"3.1", "conv 6-12-24 + dense 200, lr decay, dropout 0.25", true,
       [] {
         return conv_net({6, 12, 24}, {6, 5, 4}, 0.25);
       },
       OptimizerKind::Adam, kDecayMin + kDecayRange, true},
  };
}

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
};

// Mean loss and accuracy over the whole of (x, y) in eval mode (dropout off), without a graph.
Evaluation evaluate(nn::Module& network, const Tensor& x, const Tensor& y) {
  const nabla::NoGradGuard no_grad;
  network.eval();
  const int64_t n = x.size(0);
  double loss_sum = 0.0;
  double correct = 0.0;
  for (int64_t begin = 0; begin < n; begin += kEvalBatch) {
    const int64_t end = std::min(n, begin + kEvalBatch);
    const auto count = static_cast<double>(end - begin);
    const Tensor x_batch = x.slice(0, begin, end);
    const Tensor y_batch = y.slice(0, begin, end);
    const Tensor y_pred = network(x_batch);
    loss_sum += nn::categorical_crossentropy(y_pred, y_batch).item() * count;
    correct += nn::categorical_accuracy(y_pred, y_batch) * count;
  }
  network.train();
  return {loss_sum / static_cast<double>(n), correct / static_cast<double>(n)};
}

// One row per training step: the batch's loss and accuracy as it was trained on (before the
// update, in training mode), the test values after the update when measured, and the rate used.
struct CurveRow {
  int64_t step = 0;
  double train_loss = kNaN;
  double train_accuracy = kNaN;
  double test_loss = kNaN;
  double test_accuracy = kNaN;
  double learning_rate = kNaN;
};

struct StageResult {
  std::string id;
  std::string title;
  int64_t steps = 0;
  double seconds = 0.0;
  Evaluation train;
  Evaluation test;
  double best_test_accuracy = 0.0;
  std::vector<CurveRow> curve;
};

struct Split {
  Tensor x;  // [N, 784] or [N, 1, 28, 28]
  Tensor y;  // one-hot [N, 10]
};

struct Config {
  int64_t steps = 0;  // 0: the stage's default
  int64_t test_every = 100;
  uint64_t seed = 0;
  std::filesystem::path out;
};

// A CSV number; NaN (a value not measured at that step) is an empty field.
std::string csv_number(double value) {
  return std::isnan(value) ? std::string() : fmt::format("{:.6g}", value);
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw nabla::error("cannot write {}", path.string());
  fmt::print("  wrote {}\n", path.string());
}

std::string stage_prefix(const std::string& id) { return "stage_" + id; }

void write_curves(const StageResult& result, const std::filesystem::path& out) {
  std::string csv = "step,train_loss,train_accuracy,test_loss,test_accuracy,lr\n";
  for (const CurveRow& row : result.curve) {
    csv += fmt::format("{},{},{},{},{},{}\n", row.step, csv_number(row.train_loss),
                       csv_number(row.train_accuracy), csv_number(row.test_loss),
                       csv_number(row.test_accuracy), csv_number(row.learning_rate));
  }
  write_text(out / (stage_prefix(result.id) + "_curves.csv"), csv);

  std::vector<double> steps;
  std::vector<double> train_loss;
  std::vector<double> train_accuracy;
  std::vector<double> test_steps;
  std::vector<double> test_loss;
  std::vector<double> test_accuracy;
  std::vector<double> learning_rate;
  for (const CurveRow& row : result.curve) {
    steps.push_back(static_cast<double>(row.step));
    train_loss.push_back(row.train_loss);
    train_accuracy.push_back(row.train_accuracy);
    learning_rate.push_back(row.learning_rate);
    // The test curve keeps only its measured points, so they join into one line.
    if (!std::isnan(row.test_accuracy)) {
      test_steps.push_back(static_cast<double>(row.step));
      test_loss.push_back(row.test_loss);
      test_accuracy.push_back(row.test_accuracy);
    }
  }
  // Per-batch train values are noisy: drawn thin and faint under the test curve.
  const auto train_series = [&](std::vector<double> y) {
    return plot::Series{"train (batch)", steps, std::move(y), "#1f77b4", 1.0, 0.35};
  };
  const auto test_series = [&](std::vector<double> y) {
    return plot::Series{"test", test_steps, std::move(y), "#ff7f0e", 2.25, 1.0, true};
  };
  plot::Figure figure(
      3, 470.0, 340.0,
      fmt::format("Stage {}: {} ({} steps)", result.id, result.title, result.steps));
  figure.add(plot::LineChart{
      "accuracy", "step", "accuracy", {train_series(train_accuracy), test_series(test_accuracy)}});
  figure.add(plot::LineChart{
      "cross-entropy loss", "step", "loss", {train_series(train_loss), test_series(test_loss)}});
  plot::LineChart lr_chart{
      "learning rate", "step", "lr", {plot::Series{"lr", steps, learning_rate, "#2ca02c"}}};
  lr_chart.y_min = 0.0;
  figure.add(lr_chart);
  const std::filesystem::path svg = out / (stage_prefix(result.id) + "_curves.svg");
  figure.save(svg.string());
  fmt::print("  wrote {}\n", svg.string());
}

// Histograms of each Dense/Conv2D layer's kernel and bias after training.
void write_histograms(const StageResult& result, const nn::Sequential& network,
                      const std::filesystem::path& out) {
  std::string csv = "layer,parameter,bin_left,bin_right,count\n";
  plot::Figure figure(
      2, 420.0, 250.0,
      fmt::format("Stage {}: weights and biases after {} steps", result.id, result.steps));
  const auto add = [&](const std::string& layer, const std::string& parameter, const Tensor& t,
                       const std::string& color) {
    if (!t.defined()) return;
    plot::Histogram hist = plot::make_histogram(
        t.to_vector<double>(), kHistogramBins,
        fmt::format("{} {} {}", layer, parameter, nabla::shape_str(t.shape())), "value");
    hist.color = color;
    for (size_t i = 0; i < hist.counts.size(); ++i) {
      csv += fmt::format("{},{},{:.6g},{:.6g},{}\n", layer, parameter, hist.edges[i],
                         hist.edges[i + 1], hist.counts[i]);
    }
    figure.add(std::move(hist));
  };
  for (const auto& layer : network.layers()) {
    if (const auto dense = std::dynamic_pointer_cast<nn::Dense>(layer)) {
      add(dense->name(), "kernel", dense->kernel(), "#4c72b0");
      add(dense->name(), "bias", dense->bias(), "#dd8452");
    } else if (const auto conv = std::dynamic_pointer_cast<nn::Conv2D>(layer)) {
      add(conv->name(), "kernel", conv->kernel(), "#4c72b0");
      add(conv->name(), "bias", conv->bias(), "#dd8452");
    }
  }
  write_text(out / (stage_prefix(result.id) + "_histograms.csv"), csv);
  const std::filesystem::path svg = out / (stage_prefix(result.id) + "_histograms.svg");
  figure.save(svg.string());
  fmt::print("  wrote {}\n", svg.string());
}

StageResult run_stage(const Stage& stage, const Split& train, const Split& test,
                      const Config& config) {
  // Each stage starts from the same seed, so any one of them can be rerun alone.
  nabla::manual_seed(config.seed);
  nn::reset_layer_names();
  const auto start = std::chrono::steady_clock::now();
  const std::shared_ptr<nn::Sequential> network = stage.build();
  fmt::print("\n=== Stage {}: {} ===\n{}\n", stage.id, stage.title,
             network->summary(stage.convolutional ? nabla::Shape{1, 28, 28} : nabla::Shape{784}));

  std::unique_ptr<optim::Optimizer> optimizer;
  if (stage.optimizer == OptimizerKind::Sgd) {
    optimizer = std::make_unique<optim::SGD>(
        network->parameters(), optim::SgdOptions{.learning_rate = stage.learning_rate});
  } else {
    optimizer = std::make_unique<optim::Adam>(
        network->parameters(), optim::AdamOptions{.learning_rate = stage.learning_rate});
  }
  // min + (initial - min) * exp(-1)^(step / 2000) with initial = min + 0.003: the codelab's rate.
  std::unique_ptr<optim::ExponentialDecay> schedule;
  if (stage.decay) {
    schedule = std::make_unique<optim::ExponentialDecay>(
        *optimizer, optim::ExponentialDecayOptions{.decay_steps = kDecaySteps,
                                                   .decay_rate = std::exp(-1.0),
                                                   .min_learning_rate = kDecayMin});
  }

  StageResult result{stage.id, stage.title};
  result.steps = config.steps > 0 ? config.steps : (stage.convolutional ? 1000 : 2000);
  const int64_t steps = result.steps;
  nabla::data::DataLoader loader(nabla::data::TensorDataset(train.x, train.y), kBatchSize,
                                 /*shuffle=*/true, /*drop_last=*/true, config.seed);
  network->train();
  int64_t step = 0;
  while (step < steps) {
    for (const nabla::data::Batch& batch : loader) {
      if (step == steps) break;
      // The training step, written out: forward, loss, backward, update, schedule.
      CurveRow row;
      row.learning_rate = optimizer->learning_rate();
      optimizer->zero_grad();
      const Tensor y_pred = (*network)(batch.x);
      const Tensor loss = nn::categorical_crossentropy(y_pred, batch.y);
      loss.backward();
      optimizer->step();
      if (schedule) schedule->step();
      row.step = ++step;
      row.train_loss = loss.item();
      row.train_accuracy = nn::categorical_accuracy(y_pred, batch.y);
      if (step % config.test_every == 0 || step == steps) {
        const Evaluation score = evaluate(*network, test.x, test.y);
        row.test_loss = score.loss;
        row.test_accuracy = score.accuracy;
        result.best_test_accuracy = std::max(result.best_test_accuracy, score.accuracy);
        fmt::print(
            "  step {:5}/{}  batch loss {:.4f} acc {:.3f}  test loss {:.4f} acc {:.4f}"
            "  lr {:.6f}\n",
            step, steps, row.train_loss, row.train_accuracy, score.loss, score.accuracy,
            row.learning_rate);
      }
      result.curve.push_back(row);
    }
  }
  // The last step always measured the test set; the train set is measured once, at the end, in
  // eval mode: per-batch accuracies are noisy, and lowered by dropout in training mode.
  result.test = {result.curve.back().test_loss, result.curve.back().test_accuracy};
  result.train = evaluate(*network, train.x, train.y);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "Stage {}: train accuracy {:.4f} (loss {:.4f}), test accuracy {:.4f} (loss {:.4f}), "
      "best test {:.4f}, {:.1f} s\n",
      stage.id, result.train.accuracy, result.train.loss, result.test.accuracy, result.test.loss,
      result.best_test_accuracy, result.seconds);
  write_curves(result, config.out);
  write_histograms(result, *network, config.out);
  return result;
}

// The test-accuracy and test-loss curves of every stage run, on one pair of axes each.
void write_comparison(const std::vector<StageResult>& results, const std::filesystem::path& out) {
  plot::LineChart accuracy{"test accuracy", "step", "accuracy", {}};
  plot::LineChart loss{"test loss", "step", "loss", {}};
  std::string csv =
      "stage,title,steps,seconds,train_loss,train_accuracy,test_loss,test_accuracy,"
      "best_test_accuracy\n";
  for (const StageResult& result : results) {
    plot::Series acc_series{result.id, {}, {}};
    plot::Series loss_series{result.id, {}, {}};
    for (const CurveRow& row : result.curve) {
      if (std::isnan(row.test_accuracy)) continue;
      acc_series.x.push_back(static_cast<double>(row.step));
      acc_series.y.push_back(row.test_accuracy);
      loss_series.x.push_back(static_cast<double>(row.step));
      loss_series.y.push_back(row.test_loss);
    }
    accuracy.series.push_back(std::move(acc_series));
    loss.series.push_back(std::move(loss_series));
    csv += fmt::format("{},\"{}\",{},{:.2f},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", result.id,
                       result.title, result.steps, result.seconds, result.train.loss,
                       result.train.accuracy, result.test.loss, result.test.accuracy,
                       result.best_test_accuracy);
  }
  write_text(out / "summary.csv", csv);
  plot::Figure figure(2, 560.0, 380.0, "Codelab stages compared on the test set");
  figure.add(std::move(accuracy));
  figure.add(std::move(loss));
  const std::filesystem::path svg = out / "summary_test_curves.svg";
  figure.save(svg.string());
  fmt::print("  wrote {}\n", svg.string());
}

}  // namespace

int main(int argc, char** argv) try {
  namespace data = nabla::data;
  const examples::Args args(
      argc, argv,
      {{"data", data::default_data_dir()},
       {"stage", "all"},
       {"steps", "0"},
       {"test-every", "100"},
       {"test-limit", "0"},
       {"limit", "0"},
       {"seed", "0"},
       {"out", "codelab_out"}},
      "codelab: \"TensorFlow and deep learning, without a PhD\" stage by stage.\n"
      "  --stage all|1.0|2.0|2.1|2.2|2.3|3.0|3.1   --steps 0 = 2000 (dense) / 1000 (conv)\n"
      "  --test-every N evaluates the test set (all of it, or the first --test-limit samples)\n"
      "  --limit N trains on the first N training samples; outputs go to --out DIR");
  Config config;
  config.steps = args.integer("steps");
  config.test_every = args.integer("test-every");
  config.seed = static_cast<uint64_t>(args.integer("seed"));
  config.out = args.str("out");
  if (config.steps < 0) throw nabla::error("--steps must be >= 0, got {}", config.steps);
  if (config.test_every <= 0) {
    throw nabla::error("--test-every must be positive, got {}", config.test_every);
  }

  const std::vector<Stage> all_stages = codelab_stages();
  std::vector<Stage> stages;
  const std::string wanted = args.str("stage");
  for (const Stage& stage : all_stages) {
    if (wanted == "all" || wanted == stage.id) stages.push_back(stage);
  }
  if (stages.empty()) {
    throw nabla::error("unknown --stage '{}' (all, 1.0, 2.0, 2.1, 2.2, 2.3, 3.0, 3.1)", wanted);
  }

  const auto train_split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const auto test_split =
      examples::take_first(data::load_mnist(args.str("data"), false), args.integer("test-limit"));
  fmt::print("{} train samples, {} test samples from {}\n", train_split.images.size(0),
             test_split.images.size(0), args.str("data"));
  const Tensor y_train = data::to_categorical(train_split.labels, kClasses);
  const Tensor y_test = data::to_categorical(test_split.labels, kClasses);
  // Both layouts are views of the same pixels.
  const Split dense_train{data::flatten_images(train_split.images), y_train};
  const Split dense_test{data::flatten_images(test_split.images), y_test};
  const Split conv_train{data::add_channel_dim(train_split.images), y_train};
  const Split conv_test{data::add_channel_dim(test_split.images), y_test};

  std::filesystem::create_directories(config.out);
  std::vector<StageResult> results;
  results.reserve(stages.size());
  for (const Stage& stage : stages) {
    results.push_back(stage.convolutional ? run_stage(stage, conv_train, conv_test, config)
                                          : run_stage(stage, dense_train, dense_test, config));
  }
  if (results.size() > 1) {
    fmt::print("\n");
    write_comparison(results, config.out);
  }

  fmt::print("\n{:<5} {:<48} {:>6} {:>9} {:>9} {:>9} {:>8}\n", "stage", "model", "steps",
             "train acc", "test acc", "best test", "seconds");
  for (const StageResult& result : results) {
    fmt::print("{:<5} {:<48} {:>6} {:>9.4f} {:>9.4f} {:>9.4f} {:>8.1f}\n", result.id, result.title,
               result.steps, result.train.accuracy, result.test.accuracy, result.best_test_accuracy,
               result.seconds);
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "codelab: {}\n", e.what());
  return 1;
}
