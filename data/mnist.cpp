// load_mnist: IDX arrays from data/idx.h checked as an (images, labels) pair and converted to
// tensors.
#include "data/mnist.h"

#include "data/idx.h"
#include "tensor/error.h"
#include "tensor/shape.h"

namespace nabla::data {
namespace {

void check_type(const IdxArray& array, const std::string& path, const char* what, int64_t rank) {
  if (array.type != IdxType::UInt8) {
    throw error("load_mnist: {} file {} holds {} elements, expected uint8", what, path,
                idx_type_name(array.type));
  }
  if (static_cast<int64_t>(array.dims.size()) != rank) {
    throw error("load_mnist: {} file {} has shape {} ({} dims), expected {} dims", what, path,
                shape_str(array.dims), array.dims.size(), rank);
  }
}

template <typename T>
void convert_pixels(const uint8_t* source, T* out, int64_t count, bool scale) {
  for (int64_t i = 0; i < count; ++i) {
    // NOTE: divide rather than multiply by 1/255, so a pixel equals Keras' x / 255.0 in T.
    out[i] = scale ? static_cast<T>(source[i]) / T(255) : static_cast<T>(source[i]);
  }
}

}  // namespace

MnistSplit load_mnist_files(const std::string& images_path, const std::string& labels_path,
                            const MnistOptions& options) {
  if (options.image_dtype != kFloat32 && options.image_dtype != kFloat64) {
    throw error("load_mnist: image_dtype must be float32 or float64, got {}",
                dtype_name(options.image_dtype));
  }
  if (options.num_classes < 0 || options.num_classes > 256) {
    throw error("load_mnist: num_classes must be in [0, 256] (0 = unchecked), got {}",
                options.num_classes);
  }
  // Labels first: they are small, so a mismatched pair fails before the big read.
  const IdxArray labels = read_idx(labels_path);
  check_type(labels, labels_path, "label", 1);
  const IdxArray images = read_idx(images_path);
  check_type(images, images_path, "image", 3);
  if (images.dims[0] != labels.dims[0]) {
    throw error("load_mnist: image file {} holds {} images but label file {} holds {} labels",
                images_path, images.dims[0], labels_path, labels.dims[0]);
  }

  const int64_t n = labels.dims[0];
  const auto* label_bytes = labels.data_as<uint8_t>();
  if (options.num_classes > 0) {
    for (int64_t i = 0; i < n; ++i) {
      if (label_bytes[i] >= options.num_classes) {
        throw error("load_mnist: label file {} has label {} at position {}, expected < {}",
                    labels_path, label_bytes[i], i, options.num_classes);
      }
    }
  }

  MnistSplit split;
  split.labels = Tensor::empty({n}, kInt64);
  auto* out_labels = split.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) out_labels[i] = label_bytes[i];

  split.images = Tensor::empty(images.dims, options.image_dtype);
  const auto* pixels = images.data_as<uint8_t>();
  const int64_t count = images.numel();
  if (options.image_dtype == kFloat64) {
    convert_pixels(pixels, split.images.data_ptr<double>(), count, options.scale);
  } else {
    convert_pixels(pixels, split.images.data_ptr<float>(), count, options.scale);
  }
  return split;
}

MnistSplit load_mnist(const std::string& dir, bool train, const MnistOptions& options) {
  const std::string prefix = train ? "train" : "t10k";
  // Both lookups happen before any read, so a missing file is reported before a slow decode.
  const std::string images_path = find_mnist_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  return load_mnist_files(images_path, labels_path, options);
}

std::string default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> kNames{"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                               "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                               "Bag",         "Ankle boot"};
  return kNames;
}

}  // namespace nabla::data
