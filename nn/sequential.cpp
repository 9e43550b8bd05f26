// Sequential: ordered layers, shape inference through build, and the summary table.
#include "nn/sequential.h"

#include <algorithm>
#include <sstream>

#include "nn/layer_util.h"

namespace nabla::nn {

std::string detail::summary_totals(const Module& model, size_t line_length) {
  const int64_t trainable = model.trainable_parameter_count();
  const int64_t frozen = model.non_trainable_parameter_count();
  return "Total params: " + format_with_commas(trainable + frozen) +
         "\nTrainable params: " + format_with_commas(trainable) +
         "\nNon-trainable params: " + format_with_commas(frozen) + "\n" +
         std::string(line_length, '_') + "\n";
}

std::string format_with_commas(int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  const size_t lead = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out += digits.substr(0, lead);
  for (size_t i = lead; i < digits.size(); i += 3) out += "," + digits.substr(i, 3);
  return value < 0 ? "-" + out : out;
}

Sequential::Sequential() { set_name(unique_layer_name("Sequential")); }

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) : Sequential() {
  for (auto& layer : layers) add(std::move(layer));
}

Sequential& Sequential::add(std::shared_ptr<Module> layer) {
  if (!layer) throw error(R"(Sequential: cannot add a null layer to "{}")", name());
  for (const auto& existing : layers_) {
    if (existing == layer) {
      throw error(R"(Sequential: layer "{}" is already in "{}")", layer->name(), name());
    }
  }
  layers_.push_back(register_module(std::move(layer)));
  return *this;
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& layer : layers_) x = (*layer)(x);
  return x;
}

Shape Sequential::build(const Shape& input_shape) {
  Shape shape = input_shape;
  for (const auto& layer : layers_) shape = layer->build(shape);
  input_shape_ = input_shape;
  mark_built();
  return shape;
}

std::string Sequential::summary(const Shape& input_shape_without_batch) {
  Shape input;
  if (!input_shape_without_batch.empty()) {
    input.push_back(1);
    input.insert(input.end(), input_shape_without_batch.begin(), input_shape_without_batch.end());
  } else if (input_shape_) {
    input = *input_shape_;
  } else if (!layers_.empty() && layers_.front()->declared_input_shape()) {
    // As Keras: the first layer's input_shape / input_dim is the model's input.
    input.push_back(1);
    const Shape& declared = *layers_.front()->declared_input_shape();
    input.insert(input.end(), declared.begin(), declared.end());
  } else {
    throw error(
        "Sequential.summary: \"{}\" has not been built and its first layer declares no input; "
        "pass the input shape without the batch dim (e.g. summary({{3, 150, 150}}) for NCHW "
        "images) or give the first layer an input_shape / input_dim",
        name());
  }

  struct Row {
    std::string layer;
    std::string shape;
    std::string params;
  };
  std::vector<Row> rows;
  Shape shape = input;
  for (const auto& layer : layers_) {
    shape = layer->build(shape);
    const int64_t params =
        layer->trainable_parameter_count() + layer->non_trainable_parameter_count();
    rows.push_back({layer->name() + " (" + layer->type_name() + ")", detail::keras_shape(shape),
                    std::to_string(params)});
  }
  input_shape_ = input;
  mark_built();

  // Keras's column widths for a 65-character line, widened when a name or shape is longer.
  size_t layer_width = 29;
  size_t shape_width = 26;
  size_t params_width = 10;
  for (const Row& row : rows) {
    layer_width = std::max(layer_width, row.layer.size() + 3);
    shape_width = std::max(shape_width, row.shape.size() + 2);
    params_width = std::max(params_width, row.params.size() + 1);
  }
  const size_t line_length = layer_width + shape_width + params_width;
  const auto line = [&](const Row& row) {
    return " " + detail::pad_right(row.layer, layer_width - 1) +
           detail::pad_right(row.shape, shape_width) + row.params + "\n";
  };

  std::ostringstream out;
  out << "Model: \"" << name() << "\"\n";
  out << std::string(line_length, '_') << "\n";
  out << line({"Layer (type)", "Output Shape", "Param #"});
  out << std::string(line_length, '=') << "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    out << line(rows[i]);
    if (i + 1 < rows.size()) out << std::string(line_length, '_') << "\n";
  }
  out << std::string(line_length, '=') << "\n";
  out << detail::summary_totals(*this, line_length);
  return out.str();
}

}  // namespace nabla::nn
