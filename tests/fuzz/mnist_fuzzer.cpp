// libFuzzer target for load_mnist_files: the input is a labels IDX file and an images IDX file
// (byte 0: options; bytes 1-4: big-endian length of the labels part; then labels, then images),
// each plain or gzip. Bad input must throw nabla::Error; a returned split must be consistent.
#include <cstddef>
#include <cstdint>

#include "data/mnist.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const uint8_t flags = data[0];
  const size_t declared =
      (size_t{data[1]} << 24) | (size_t{data[2]} << 16) | (size_t{data[3]} << 8) | size_t{data[4]};
  const size_t rest = size - 5;
  const size_t labels_size = declared < rest ? declared : rest;
  const std::string labels =
      nabla_fuzz::scratch().write("labels-idx1-ubyte", data + 5, labels_size);
  const std::string images =
      nabla_fuzz::scratch().write("images-idx3-ubyte", data + 5 + labels_size, rest - labels_size);

  nabla::data::MnistOptions options;
  options.scale = (flags & 1) != 0;
  options.image_dtype = (flags & 2) != 0 ? nabla::kFloat64 : nabla::kFloat32;
  options.num_classes = (flags & 4) != 0 ? 10 : 0;
  nabla::data::MnistSplit split;
  if (nabla_fuzz::accepts(
          [&] { split = nabla::data::load_mnist_files(images, labels, options); })) {
    NABLA_FUZZ_CHECK(split.images.dim() == 3 && split.labels.dim() == 1);
    NABLA_FUZZ_CHECK(split.images.shape()[0] == split.labels.shape()[0]);
    NABLA_FUZZ_CHECK(split.images.dtype() == options.image_dtype);
    NABLA_FUZZ_CHECK(split.labels.dtype() == nabla::kInt64);
  }
  return 0;
}
