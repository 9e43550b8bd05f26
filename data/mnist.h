// MNIST and Fashion-MNIST from their IDX files: images as float [N, rows, cols], labels as int64
// [N], checked against each other so that a mismatched pair of files fails loudly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace nabla::data {

struct MnistOptions {
  // Divide the 0..255 pixel values by 255 (Keras' `x / 255.0`); false keeps them raw.
  bool scale = true;
  // kFloat32 or kFloat64.
  DType image_dtype = kFloat32;
  // When positive, every label must be below it (10 for MNIST and Fashion-MNIST); 0 only
  // relies on the uint8 label type, which bounds labels by 256.
  int64_t num_classes = 0;
};

struct MnistSplit {
  Tensor images;  // [N, rows, cols], image_dtype
  Tensor labels;  // [N], int64
};

// Loads the training split ("train-images-idx3-ubyte", "train-labels-idx1-ubyte") or the test
// split ("t10k-..."), each plain or gzip-compressed, from `dir`. Throws nabla::Error naming the
// files when one is missing, malformed, of the wrong type or rank, or when the counts differ.
[[nodiscard]] MnistSplit load_mnist(const std::string& dir, bool train,
                                    const MnistOptions& options = {});

// The same checks and conversion for an explicit pair of IDX files.
[[nodiscard]] MnistSplit load_mnist_files(const std::string& images_path,
                                          const std::string& labels_path,
                                          const MnistOptions& options = {});

// Where Debian's dataset-fashion-mnist package installs the four gzipped files.
[[nodiscard]] std::string default_data_dir();

// The ten Fashion-MNIST classes, indexed by label.
[[nodiscard]] const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace nabla::data
