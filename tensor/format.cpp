// Tensor printing in PyTorch's style: nested brackets, aligned columns, summarized when large.
#include "tensor/format.h"

#include <cmath>

#include "tensor/kernels/kernels.h"

namespace nabla {
namespace {

constexpr int64_t kSummarizeThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

struct Style {
  bool integers = true;  // every value is integral: print "1." like PyTorch
  bool scientific = false;
  int width = 1;
};

std::string format_value(double v, const Style& style, bool int_dtype) {
  if (int_dtype) return fmt::format("{}", static_cast<int64_t>(v));
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (style.scientific) return fmt::format("{:.4e}", v);
  if (style.integers) return fmt::format("{:.0f}.", v);
  return fmt::format("{:.4f}", v);
}

void print_dims(std::string& out, const std::vector<double>& values, const Shape& shape, size_t dim,
                int64_t offset, const Style& style, bool int_dtype, bool summarize, int indent) {
  if (shape.empty()) {
    out += format_value(values[static_cast<size_t>(offset)], style, int_dtype);
    return;
  }
  const int64_t extent = shape[dim];
  int64_t inner = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  out += "[";
  for (int64_t i = 0; i < extent; ++i) {
    if (summarize && extent > 2 * kEdgeItems && i == kEdgeItems) {
      out += dim + 1 == shape.size() ? "..., "
                                     : "...,\n" + std::string(static_cast<size_t>(indent + 1), ' ');
      i = extent - kEdgeItems;
    }
    if (dim + 1 == shape.size()) {
      out += fmt::format("{:>{}}",
                         format_value(values[static_cast<size_t>(offset + i)], style, int_dtype),
                         style.width);
    } else {
      print_dims(out, values, shape, dim + 1, offset + i * inner, style, int_dtype, summarize,
                 indent + 1);
    }
    if (i + 1 < extent) {
      out += ",";
      if (dim + 1 == shape.size()) {
        out += " ";
      } else {
        out += std::string(shape.size() - dim - 1, '\n') +
               std::string(static_cast<size_t>(indent + 1), ' ');
      }
    }
  }
  out += "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  const std::vector<double> values = to_vector<double>();
  const bool int_dtype = dtype() == kInt64;
  const bool summarize = numel() > kSummarizeThreshold;
  Style style;
  double max_abs = 0;
  double min_abs = std::numeric_limits<double>::infinity();
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) style.integers = false;
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  if (!int_dtype && !style.integers &&
      (max_abs >= 1e8 || (min_abs < 1e-4 && min_abs > 0) ||
       (max_abs / min_abs > 1000 && min_abs < 1e-2))) {
    style.scientific = true;
  }
  for (const double v : values) {
    style.width = std::max(style.width, static_cast<int>(format_value(v, style, int_dtype).size()));
  }
  std::string out = "tensor(";
  print_dims(out, values, shape(), 0, 0, style, int_dtype, summarize, 7);
  if (dtype() != kFloat32) out += fmt::format(", dtype={}", dtype_name(dtype()));
  if (summarize || numel() == 0) out += fmt::format(", shape={}", shape_str(shape()));
  out += ")";
  return out;
}

}  // namespace nabla
