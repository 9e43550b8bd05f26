// The Keras MNIST MLP of examples/mlp.cpp trained data-parallel over MPI:
//   mpirun -np 2 build/release/examples/ddp_mlp        (one machine; see README, "Data-parallel
//   training over MPI", for a hostfile). Each rank reads the same files, fit() gives each rank
// 1/N of every epoch (batch-size is per rank: the global batch is N times it), DataParallel
// averages the gradients, and only rank 0 prints.
// NOTE: no try/catch in main: an exception escaping a rank reaches the terminate handler that
// dist::init installs, which prints it with the rank and aborts the whole job (MPI_Abort), so the
// other ranks do not wait forever in their next allreduce. --fail-on-rank R shows it.
#include "examples/common.h"
#include "nabla.h"

int main(int argc, char** argv) {
  using namespace nabla;
  const dist::Session session;  // MPI_Init ... MPI_Finalize
  const examples::Args args(argc, argv,
                            {{"data", data::default_data_dir()},
                             {"epochs", "5"},
                             {"batch-size", "64"},
                             {"seed", "0"},
                             {"limit", "0"},
                             {"bucket-kib", "4096"},
                             {"overlap", "1"},
                             {"fail-on-rank", "-1"}},
                            "ddp_mlp: the Keras MNIST MLP, data-parallel over MPI");
  const bool chief = dist::rank() == 0;
  if (dist::rank() == args.integer("fail-on-rank")) {
    throw error("ddp_mlp: --fail-on-rank {}: this rank fails on purpose", dist::rank());
  }
  manual_seed(static_cast<uint64_t>(args.integer("seed")));
  const auto train_split =
      examples::take_first(data::load_mnist(args.str("data"), true), args.integer("limit"));
  const auto test_split = data::load_mnist(args.str("data"), false);
  const Tensor x_train = data::flatten_images(train_split.images);
  const Tensor y_train = data::to_categorical(train_split.labels, 10);
  const Tensor x_test = data::flatten_images(test_split.images);
  const Tensor y_test = data::to_categorical(test_split.labels, 10);

  auto network = std::make_shared<nn::Sequential>();
  network->add<nn::Dense>(512, nn::DenseOptions{.activation = "relu", .input_dim = 784});
  network->add<nn::Dense>(10, nn::DenseOptions{.activation = "softmax"});
  network->build({1, 784});
  // Broadcasts rank 0's weights, then averages the gradients during every backward.
  dist::DataParallel replicated(network, {.bucket_bytes = args.integer("bucket-kib") * 1024,
                                          .overlap = args.integer("overlap") != 0});
  if (chief) {
    fmt::print(
        "{} processes, {} train samples ({} per rank per epoch), global batch {}, {} "
        "gradient buckets\n",
        dist::world_size(), x_train.size(0),
        (x_train.size(0) + dist::world_size() - 1) / dist::world_size(),
        args.integer("batch-size") * dist::world_size(), replicated.bucket_count());
  }

  train::Model model(network);
  model.compile(replicated.wrap(std::make_shared<optim::RMSprop>(std::vector<Tensor>{})),
                "categorical_crossentropy", {"accuracy"});
  model.fit(x_train, y_train,
            {.epochs = args.integer("epochs"),
             .batch_size = args.integer("batch-size"),
             .verbose = 1,
             .seed = static_cast<uint64_t>(args.integer("seed"))});
  // Every rank evaluates 1/N of the test set; the figures are the averages over all of it.
  const train::Logs score = model.evaluate(x_test, y_test, 1000);
  if (chief) {
    fmt::print("Test loss: {:.4f}\nTest accuracy: {:.4f}\n", score.at("loss"),
               score.at("accuracy"));
  }
  return 0;
}
