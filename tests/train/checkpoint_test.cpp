// Model::save_checkpoint / load_checkpoint: a run stopped after epoch 2 and resumed from its
// checkpoint ends with the same weights, bit for bit, as the uninterrupted run; bad files throw.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla.h"
#include "tests/support/scratch_files.h"

namespace nabla::train {
namespace {

using nabla::testing::error_of;
using nabla::testing::read_bytes;
using nabla::testing::ScratchDir;
using nabla::testing::write_bytes;

constexpr int64_t kSamples = 24;
constexpr int64_t kBatch = 5;  // 5 batches per epoch, the last one short
constexpr int64_t kEpochs = 4;

struct Data {
  Tensor x;
  Tensor y;
};

Data make_data() {
  Generator generator(11);
  return {randn({kSamples, 4}, kFloat32, &generator), randn({kSamples, 3}, kFloat32, &generator)};
}

// Everything random in the run comes from the default generator: the initial weights, Dropout's
// seed and the shuffle seed fit draws.
struct TrainingRun {
  std::shared_ptr<nn::Sequential> network;
  std::unique_ptr<Model> model;
  std::shared_ptr<LearningRateScheduleCallback> schedule;
  std::vector<std::shared_ptr<Callback>> callbacks;
};

TrainingRun make_run(uint64_t seed) {
  manual_seed(seed);
  TrainingRun run;
  run.network = std::make_shared<nn::Sequential>();
  run.network->add<nn::Dense>(8, nn::DenseOptions{.activation = "relu", .input_dim = 4});
  run.network->add<nn::Dropout>(0.25);
  run.network->add<nn::Dense>(3);
  (void)run.network->build({1, 4});  // every parameter exists before the optimizer lists them
  run.model = std::make_unique<Model>(run.network);
  auto adam = std::make_shared<optim::Adam>(run.network->parameters(),
                                            optim::AdamOptions{.learning_rate = 0.01});
  run.model->compile(adam, "mse");
  run.schedule =
      std::make_shared<LearningRateScheduleCallback>(std::make_shared<optim::ExponentialDecay>(
          *adam, optim::ExponentialDecayOptions{.decay_steps = 7, .decay_rate = 0.5}));
  run.callbacks = {
      run.schedule,
      std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{
          .monitor = "loss", .factor = 0.5, .patience = 1, .min_delta = 10.0}),
      std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "loss", .patience = 100})};
  return run;
}

FitOptions fit_options(const TrainingRun& run, int64_t epochs, int64_t initial_epoch = 0) {
  return FitOptions{.epochs = epochs,
                    .batch_size = kBatch,
                    .callbacks = run.callbacks,
                    .verbose = 0,
                    .initial_epoch = initial_epoch};
}

// The bytes of every weight, so that equality means bit for bit.
std::vector<std::vector<float>> weights(const nn::Module& module) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, t] : module.state()) out.push_back(t.to_vector<float>());
  return out;
}

bool same_bits(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size() ||
        std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

TEST(Checkpoint, ResumedRunEndsBitIdenticalToTheUninterruptedOne) {
  const ScratchDir dir;
  const Data data = make_data();

  TrainingRun whole = make_run(5);
  const History full = whole.model->fit(data.x, data.y, fit_options(whole, kEpochs));
  ASSERT_EQ(full.epochs().size(), static_cast<size_t>(kEpochs));

  // The first process: two epochs, a full-state checkpoint after each.
  TrainingRun first = make_run(5);
  first.callbacks.push_back(std::make_shared<ModelCheckpoint>(
      dir.file("ckpt_{epoch}.safetensors"),
      ModelCheckpointOptions{.monitor = "loss", .save_training_state = true}));
  (void)first.model->fit(data.x, data.y, fit_options(first, 2));
  const std::vector<std::vector<float>> after_two = weights(*first.network);

  // The second process builds the same program from another seed: different initial weights,
  // Dropout seed and default generator, all of which the checkpoint must override.
  TrainingRun second = make_run(999);
  second.callbacks.push_back(std::make_shared<ModelCheckpoint>(
      dir.file("ckpt_{epoch}.safetensors"),
      ModelCheckpointOptions{.monitor = "loss", .save_training_state = true}));
  EXPECT_FALSE(same_bits(weights(*second.network), after_two));
  const int64_t initial_epoch = second.model->load_checkpoint(dir.file("ckpt_2.safetensors"));
  EXPECT_EQ(initial_epoch, 2);
  EXPECT_TRUE(same_bits(weights(*second.network), after_two));
  EXPECT_EQ(second.schedule->schedule().step_count(), 0);  // restored when fit starts
  const History rest =
      second.model->fit(data.x, data.y, fit_options(second, kEpochs, initial_epoch));

  EXPECT_TRUE(same_bits(weights(*second.network), weights(*whole.network)));
  EXPECT_EQ(second.model->optimizer().iterations(), whole.model->optimizer().iterations());
  EXPECT_EQ(second.model->optimizer().learning_rate(), whole.model->optimizer().learning_rate());
  EXPECT_EQ(second.schedule->schedule().step_count(), whole.schedule->schedule().step_count());
  ASSERT_EQ(rest.epochs().size(), 2U);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(rest.epochs()[e], full.epochs()[e + 2]);
    for (const std::string key : {"loss", "lr"}) {
      EXPECT_EQ(rest.values(key)[e], full.values(key)[e + 2]) << key << " epoch " << e + 2;
    }
  }
  // The Dropout generator went on from where the checkpoint left it.
  auto& dropout_whole = dynamic_cast<nn::Dropout&>(*whole.network->layers()[1]);
  auto& dropout_second = dynamic_cast<nn::Dropout&>(*second.network->layers()[1]);
  EXPECT_EQ(dropout_whole.generator().get_state(), dropout_second.generator().get_state());
  EXPECT_EQ(default_generator().get_state(), [&] {
    // The uninterrupted run's default generator, replayed: same seed, same draws.
    TrainingRun replay = make_run(5);
    (void)replay.model->fit(data.x, data.y, fit_options(replay, kEpochs));
    return default_generator().get_state();
  }());
}

TEST(Checkpoint, FitWithAnotherInitialEpochThrowsAndChangesNothing) {
  const ScratchDir dir;
  const Data data = make_data();
  TrainingRun whole = make_run(5);
  (void)whole.model->fit(data.x, data.y, fit_options(whole, kEpochs));
  const auto checkpointing = [&](TrainingRun& run) {
    run.callbacks.push_back(std::make_shared<ModelCheckpoint>(
        dir.file("ckpt_{epoch}.safetensors"),
        ModelCheckpointOptions{.monitor = "loss", .save_training_state = true}));
  };
  TrainingRun first = make_run(5);
  checkpointing(first);
  (void)first.model->fit(data.x, data.y, fit_options(first, 2));

  TrainingRun second = make_run(999);
  checkpointing(second);
  const std::string path = dir.file("ckpt_2.safetensors");
  ASSERT_EQ(second.model->load_checkpoint(path), 2);
  const auto loaded = weights(*second.network);
  const auto generator_loaded = default_generator().get_state();
  const std::string prefix = "fit: the checkpoint loaded from '" + path + "' resumes at epoch 2, ";
  // Another epoch, and a forgotten initial_epoch (0): clear errors that change nothing.
  EXPECT_CONTAINS(
      error_of([&] { (void)second.model->fit(data.x, data.y, fit_options(second, kEpochs, 3)); }),
      prefix +
          "but initial_epoch is 3; pass initial_epoch = 2 (what load_checkpoint returned) to "
          "resume it");
  EXPECT_CONTAINS(
      error_of([&] { (void)second.model->fit(data.x, data.y, fit_options(second, kEpochs)); }),
      prefix +
          "but initial_epoch is 0 (not set? starting at 0 would replay the shuffle order of "
          "trained epochs); pass initial_epoch = 2");
  EXPECT_TRUE(same_bits(weights(*second.network), loaded));
  EXPECT_EQ(default_generator().get_state(), generator_loaded);
  EXPECT_EQ(second.schedule->schedule().step_count(), 0);

  // The matching epoch still resumes bit for bit after the refused calls.
  const History rest = second.model->fit(data.x, data.y, fit_options(second, kEpochs, 2));
  EXPECT_EQ(rest.epochs(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(same_bits(weights(*second.network), weights(*whole.network)));
  EXPECT_EQ(second.schedule->schedule().step_count(), whole.schedule->schedule().step_count());

  // The resume is consumed: later fits take any initial_epoch.
  const History more = second.model->fit(data.x, data.y, fit_options(second, kEpochs + 1, kEpochs));
  EXPECT_EQ(more.epochs(), (std::vector<int64_t>{kEpochs}));
  const History again = second.model->fit(data.x, data.y, fit_options(second, 1));
  EXPECT_EQ(again.epochs(), (std::vector<int64_t>{0}));
}

TEST(Checkpoint, WithoutTheCheckpointTheRunWouldDiffer) {
  // The control for the test above: resuming from the weights alone does not reproduce the run.
  const ScratchDir dir;
  const Data data = make_data();
  TrainingRun whole = make_run(5);
  (void)whole.model->fit(data.x, data.y, fit_options(whole, kEpochs));
  TrainingRun first = make_run(5);
  (void)first.model->fit(data.x, data.y, fit_options(first, 2));
  nn::save_weights(*first.network, dir.file("weights.safetensors"));
  TrainingRun second = make_run(999);
  nn::load_weights(*second.network, dir.file("weights.safetensors"));
  (void)second.model->fit(data.x, data.y, fit_options(second, kEpochs, 2));
  EXPECT_FALSE(same_bits(weights(*second.network), weights(*whole.network)));
}

TEST(Checkpoint, RejectsAWeightsFileAndAnotherOptimizer) {
  const ScratchDir dir;
  const Data data = make_data();
  TrainingRun run = make_run(5);
  (void)run.model->fit(data.x, data.y, fit_options(run, 1));
  nn::save_weights(*run.network, dir.file("w.safetensors"));
  EXPECT_CONTAINS(error_of([&] { (void)run.model->load_checkpoint(dir.file("w.safetensors")); }),
                  "not a nabla checkpoint");
  run.model->save_checkpoint(dir.file("c.safetensors"));

  TrainingRun other = make_run(5);
  other.model->compile(std::make_shared<optim::SGD>(other.network->parameters()), "mse");
  EXPECT_CONTAINS(error_of([&] { (void)other.model->load_checkpoint(dir.file("c.safetensors")); }),
                  "belongs to a Adam optimizer, not SGD");
}

// Rewrites the checkpoint with one tensor replaced (or removed, for an undefined replacement).
void tamper(const std::string& from, const std::string& to, const std::string& key,
            const Tensor& replacement) {
  std::map<std::string, std::string> metadata;
  NamedTensors tensors = load_safetensors(from, &metadata);
  NamedTensors out;
  bool found = false;
  for (auto& [name, t] : tensors) {
    if (name != key) {
      out.emplace_back(name, t);
      continue;
    }
    found = true;
    if (replacement.defined()) out.emplace_back(name, replacement);
  }
  if (!found) out.emplace_back(key, replacement);
  save_safetensors(to, out, metadata);
}

TEST(Checkpoint, ABadEntryNamesItsKeyAndLeavesTheModelUnchanged) {
  const ScratchDir dir;
  const Data data = make_data();
  TrainingRun run = make_run(5);
  (void)run.model->fit(data.x, data.y, fit_options(run, 1));
  const std::string good = dir.file("good.safetensors");
  run.model->save_checkpoint(good);
  (void)run.model->fit(data.x, data.y, fit_options(run, 1));  // move away from the checkpoint
  const auto before = weights(*run.network);
  const auto generator_before = default_generator().get_state();
  const int64_t iterations_before = run.model->optimizer().iterations();

  struct Case {
    std::string key;
    Tensor replacement;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"optimizer.0.m", zeros({3, 2}),
       "'0.m' has float32 [3, 2], but parameter 0 is float32 [4, 8]"},
      {"optimizer.num_parameters", tensor(std::vector<int64_t>{3}, Shape{}),
       "'num_parameters' is 3 but the optimizer has 4 parameters"},
      {"optimizer.7.v", zeros({4, 8}), "key '7.v' names parameter 7, but there are 4"},
      {"optimizer.0.velocity", zeros({4, 8}), "'velocity' is unknown"},
      {"optimizer.learning_rate", Tensor(), "missing key 'learning_rate'"},
      {"model.0.kernel", zeros({5, 8}), "tensor '0.kernel': the module expects float32 [4, 8]"},
      {"generator.default", tensor(std::vector<int64_t>{0, 0, 0, 0, 0, 0}, Shape{6}),
       "'generator.default': Generator::set_state: the xoshiro256** state words are all zero"},
      {"generator.module.1", Tensor(), "missing 'generator.module.1'"},
      {"generator.module.5", zeros({6}, kInt64), "'generator.module.5' names no generator"},
      {"training.epoch", scalar_tensor(2.0, kFloat64), "'training.epoch' must be an int64 scalar"},
      {"callback.9.wait", zeros({}, kInt64), "'training.num_callbacks' (3) does not cover"},
      {"extra", zeros({1}), "unexpected tensor 'extra'"},
      // A hostile count must not be allocated from.
      {"training.num_callbacks", tensor(std::vector<int64_t>{int64_t{1} << 62}, Shape{}),
       "the metadata lists 3 callback types for 4611686018427387904 callbacks"},
  };
  for (const Case& c : cases) {
    const std::string bad = dir.file("bad.safetensors");
    tamper(good, bad, c.key, c.replacement);
    EXPECT_CONTAINS(error_of([&] { (void)run.model->load_checkpoint(bad); }), c.fragment);
    EXPECT_TRUE(same_bits(weights(*run.network), before)) << c.key;
    EXPECT_EQ(run.model->optimizer().iterations(), iterations_before) << c.key;
    EXPECT_EQ(default_generator().get_state(), generator_before) << c.key;
  }
  // A callback whose saved state is malformed fails when fit restores it.
  tamper(good, dir.file("cb.safetensors"), "callback.1.wait", scalar_tensor(1.0, kFloat64));
  EXPECT_EQ(run.model->load_checkpoint(dir.file("cb.safetensors")), 1);
  EXPECT_CONTAINS(error_of([&] { (void)run.model->fit(data.x, data.y, fit_options(run, 2, 1)); }),
                  "ReduceLROnPlateau.load_state_dict: 'wait' must be a int64 scalar");
}

TEST(Checkpoint, ResumingWithOtherCallbacksThrows) {
  const ScratchDir dir;
  const Data data = make_data();
  TrainingRun run = make_run(5);
  (void)run.model->fit(data.x, data.y, fit_options(run, 1));
  run.model->save_checkpoint(dir.file("c.safetensors"));
  // ReduceLROnPlateau and EarlyStopping swapped: their keys overlap, their types do not.
  std::swap(run.callbacks[1], run.callbacks[2]);
  EXPECT_EQ(run.model->load_checkpoint(dir.file("c.safetensors")), 1);
  EXPECT_CONTAINS(
      error_of([&] { (void)run.model->fit(data.x, data.y, fit_options(run, 2, 1)); }),
      "fit: callback 1 is a nabla::train::EarlyStopping, but the checkpoint saved the state of a "
      "nabla::train::ReduceLROnPlateau there");
  run.callbacks.pop_back();
  EXPECT_EQ(run.model->load_checkpoint(dir.file("c.safetensors")), 1);
  EXPECT_CONTAINS(error_of([&] { (void)run.model->fit(data.x, data.y, fit_options(run, 2, 1)); }),
                  "the checkpoint was saved with 3 callbacks, this fit has 2");
}

TEST(Checkpoint, CorruptOrTruncatedFilesThrowNeverCrash) {
  const ScratchDir dir;
  const Data data = make_data();
  TrainingRun run = make_run(5);
  (void)run.model->fit(data.x, data.y, fit_options(run, 1));
  const std::string good = dir.file("good.safetensors");
  run.model->save_checkpoint(good);
  const std::string bytes = read_bytes(good);
  const std::string bad = dir.file("bad.safetensors");
  int errors = 0;
  // Truncations (every 5th length through the header, then every 97th) and one flipped byte at
  // every other of the first 600 positions: nabla::Error or a load of plausible values, no crash.
  std::vector<std::string> variants;
  for (size_t n = 0; n < bytes.size(); n += (n < 700 ? 5 : 97)) {
    variants.push_back(bytes.substr(0, n));
  }
  for (size_t i = 0; i < 600 && i < bytes.size(); i += 2) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
    variants.push_back(flipped);
  }
  for (const std::string& variant : variants) {
    write_bytes(bad, variant);
    try {
      (void)run.model->load_checkpoint(bad);
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, static_cast<int>(variants.size()) / 2);
  // The good file still loads afterwards.
  EXPECT_EQ(run.model->load_checkpoint(good), 1);
}

TEST(Checkpoint, NeedsABuiltCompiledModel) {
  const ScratchDir dir;
  Model uncompiled(std::make_shared<nn::Sequential>());
  EXPECT_CONTAINS(error_of([&] { (void)uncompiled.load_checkpoint(dir.file("x")); }),
                  "call compile");
  auto lazy = std::make_shared<nn::Sequential>();
  lazy->add<nn::Dense>(2);
  Model model(lazy);
  model.compile(std::make_shared<optim::SGD>(std::vector<Tensor>{}), "mse");
  EXPECT_CONTAINS(error_of([&] { model.save_checkpoint(dir.file("x")); }),
                  "not created its weights yet");
}

TEST(Checkpoint, InitialEpochOutOfRangeThrows) {
  const Data data = make_data();
  TrainingRun run = make_run(5);
  EXPECT_CONTAINS(error_of([&] { (void)run.model->fit(data.x, data.y, fit_options(run, 2, 3)); }),
                  "initial_epoch must be in [0, epochs = 2], got 3");
}

}  // namespace
}  // namespace nabla::train
