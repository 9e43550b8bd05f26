// Resuming training: a Fashion-MNIST MLP with Dropout, Adam and a one-cycle schedule is trained
// once without a break, and once stopped after --stop-after epochs and resumed from its checkpoint
// in a new process; the two final weights are compared bit for bit.
//
//   resume                      runs the three phases below as child processes, then compares
//   resume --phase reference    trains --epochs epochs uninterrupted, saves the final weights
//   resume --phase first        trains --stop-after epochs, ModelCheckpoint saving the full state
//   resume --phase second       loads that checkpoint, continues to --epochs, saves the weights
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "examples/common.h"
#include "nabla.h"

namespace {

using namespace nabla;  // NOLINT(google-build-using-namespace): an example reads like user code

struct Setup {
  std::shared_ptr<nn::Sequential> network;
  std::unique_ptr<train::Model> model;
  std::vector<std::shared_ptr<train::Callback>> callbacks;
};

// The same program in every phase: whatever the checkpoint restores is built fresh first.
Setup build(const examples::Args& args, int64_t steps_per_epoch) {
  manual_seed(static_cast<uint64_t>(args.integer("seed")));
  Setup s;
  s.network = std::make_shared<nn::Sequential>();
  s.network->add<nn::Dense>(128, nn::DenseOptions{.activation = "relu", .input_dim = 784});
  s.network->add<nn::Dropout>(0.2);
  s.network->add<nn::Dense>(10, nn::DenseOptions{.activation = "softmax"});
  (void)s.network->build({1, 784});
  s.model = std::make_unique<train::Model>(s.network);
  auto adam = std::make_shared<optim::Adam>(s.network->parameters());
  s.model->compile(adam, "categorical_crossentropy", {"accuracy"});
  auto one_cycle = std::make_shared<optim::OneCycle>(
      *adam, optim::OneCycleOptions{.max_learning_rate = 0.005,
                                    .total_steps = args.integer("epochs") * steps_per_epoch});
  s.callbacks.push_back(std::make_shared<train::LearningRateScheduleCallback>(one_cycle));
  return s;
}

std::string file_in(const examples::Args& args, const std::string& name) {
  return (std::filesystem::path(args.str("out")) / name).string();
}

int run_phase(const examples::Args& args, const std::string& phase) {
  const auto split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const Tensor x = data::flatten_images(split.images);
  const Tensor y = data::to_categorical(split.labels, 10);
  const int64_t batch_size = args.integer("batch-size");
  const int64_t steps_per_epoch = (x.size(0) + batch_size - 1) / batch_size;
  Setup s = build(args, steps_per_epoch);
  train::FitOptions options{.epochs = args.integer("epochs"),
                            .batch_size = batch_size,
                            .callbacks = s.callbacks,
                            .verbose = 2};
  // Both phases of the interrupted run keep checkpointing (the resumed fit must be given the same
  // callbacks, in the same order, to restore their state).
  const auto checkpoint_callback = std::make_shared<train::ModelCheckpoint>(
      file_in(args, "checkpoint_{epoch}.safetensors"),
      train::ModelCheckpointOptions{.monitor = "loss", .save_training_state = true});
  if (phase == "reference") {
    fmt::print("[reference] {} epochs without a break\n", options.epochs);
    (void)s.model->fit(x, y, options);
    nn::save_weights(*s.network, file_in(args, "reference.safetensors"));
  } else if (phase == "first") {
    options.epochs = args.integer("stop-after");
    options.callbacks.push_back(checkpoint_callback);
    fmt::print("[first] {} epochs, a full checkpoint after each\n", options.epochs);
    (void)s.model->fit(x, y, options);
  } else if (phase == "second") {
    const std::string checkpoint =
        file_in(args, fmt::format("checkpoint_{}.safetensors", args.integer("stop-after")));
    options.callbacks.push_back(checkpoint_callback);
    options.initial_epoch = s.model->load_checkpoint(checkpoint);
    fmt::print("[second] a new process resumes {} at epoch {}\n", checkpoint,
               options.initial_epoch + 1);
    (void)s.model->fit(x, y, options);
    nn::save_weights(*s.network, file_in(args, "resumed.safetensors"));
  } else {
    throw error("unknown --phase '{}' (all, reference, first or second)", phase);
  }
  return 0;
}

// Bit-for-bit comparison of two weight files, tensor by tensor.
bool same_weights(const std::string& a, const std::string& b, int64_t& tensors, int64_t& values) {
  const NamedTensors left = load_safetensors(a);
  const NamedTensors right = load_safetensors(b);
  if (left.size() != right.size()) return false;
  tensors = static_cast<int64_t>(left.size());
  values = 0;
  for (size_t i = 0; i < left.size(); ++i) {
    const Tensor& l = left[i].second;
    const Tensor& r = right[i].second;
    if (left[i].first != right[i].first || l.shape() != r.shape() || l.dtype() != r.dtype()) {
      return false;
    }
    const std::vector<float> lv = l.to_vector<float>();
    const std::vector<float> rv = r.to_vector<float>();
    if (std::memcmp(lv.data(), rv.data(), lv.size() * sizeof(float)) != 0) return false;
    values += l.numel();
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args(argc, argv,
                            {{"data", data::default_data_dir()},
                             {"epochs", "4"},
                             {"stop-after", "2"},
                             {"batch-size", "64"},
                             {"seed", "0"},
                             {"limit", "6000"},
                             {"threads", "0"},
                             {"phase", "all"},
                             {"out", "resume_out"}},
                            "resume: stop after --stop-after epochs, resume in a new process, "
                            "and compare with the uninterrupted run");
  if (args.integer("threads") > 0) set_num_threads(static_cast<int>(args.integer("threads")));
  if (args.integer("stop-after") < 1 || args.integer("stop-after") >= args.integer("epochs")) {
    throw error("--stop-after must be in [1, --epochs), got {}", args.integer("stop-after"));
  }
  std::filesystem::create_directories(args.str("out"));
  const std::string phase = args.str("phase");
  if (phase != "all") return run_phase(args, phase);

  // Each phase in a process of its own, as a job that is killed and restarted would be.
  std::string flags;
  for (int i = 1; i < argc; ++i) flags += fmt::format(" '{}'", argv[i]);
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();
  for (const char* child : {"reference", "first", "second"}) {
    const std::string command = fmt::format("'{}'{} --phase {}", self, flags, child);
    std::fflush(stdout);
    if (std::system(command.c_str()) != 0) throw error("phase {} failed: {}", child, command);
  }
  int64_t tensors = 0;
  int64_t values = 0;
  const bool same = same_weights(file_in(args, "reference.safetensors"),
                                 file_in(args, "resumed.safetensors"), tensors, values);
  if (same) {
    fmt::print(
        "The resumed run equals the uninterrupted run: {} tensors, {} weights, bit for bit.\n",
        tensors, values);
    return 0;
  }
  fmt::print("The resumed run DIFFERS from the uninterrupted run.\n");
  return 1;
} catch (const std::exception& e) {
  fmt::print(stderr, "resume: {}\n", e.what());
  return 1;
}
