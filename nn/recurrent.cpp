// SimpleRNN, LSTM, GRU and Bidirectional as loops of public ops over the time axis.
#include "nn/recurrent.h"

#include <utility>

#include "nn/activations.h"
#include "nn/init.h"
#include "nn/layer_util.h"

namespace nabla::nn {

// ---- Recurrent ----

Recurrent::Recurrent(const std::string& type, int64_t units, int64_t gates,
                     RecurrentOptions options)
    : units_(units), gates_(gates), options_(std::move(options)) {
  if (units_ < 1) throw error("{}: units must be positive, got {}", type, units_);
  check_activation(type, options_.activation);
  check_activation(type + ": recurrent_activation", options_.recurrent_activation);
  init::check_known(type + ": kernel_initializer", options_.kernel_initializer);
  init::check_known(type + ": recurrent_initializer", options_.recurrent_initializer);
  init::check_known(type + ": bias_initializer", options_.bias_initializer);
  detail::check_float_dtype(type, options_.dtype);
  set_name(unique_layer_name(type));
  if (options_.input_dim && *options_.input_dim < 1) {
    throw error("{}: input_dim must be positive, got {}", type, *options_.input_dim);
  }
  // The weights are created by the subclass constructor (create_parameters needs its overrides).
}

void Recurrent::create_parameters(int64_t input_dim) {
  Generator seeded(options_.seed.value_or(0));
  Generator* generator = options_.seed ? &seeded : nullptr;
  kernel_ = register_parameter(
      "kernel", init::initialized(options_.kernel_initializer, {input_dim, gates_ * units_},
                                  options_.dtype, generator));
  recurrent_kernel_ = register_parameter(
      "recurrent_kernel", init::initialized(options_.recurrent_initializer,
                                            {units_, gates_ * units_}, options_.dtype, generator));
  if (options_.use_bias) {
    bias_ = register_parameter("bias", init::initialized(options_.bias_initializer, bias_shape(),
                                                         options_.dtype, generator));
  }
  input_dim_ = input_dim;
  after_initialization();
  mark_built();
}

void Recurrent::check_input_shape(const Shape& shape) const {
  if (shape.size() != 3) {
    throw error("{}: expected an input [batch, time, features], got shape {}", type_name(),
                shape_str(shape));
  }
  if (shape[1] < 1) {
    throw error("{}: input of shape {} has no time steps", type_name(), shape_str(shape));
  }
  if (input_dim_ && shape[2] != *input_dim_) {
    throw error("{}: input of shape {} has {} features, expected {}", type_name(), shape_str(shape),
                shape[2], *input_dim_);
  }
}

Shape Recurrent::build(const Shape& input_shape) {
  check_input_shape(input_shape);
  if (!input_dim_) {
    if (input_shape[2] < 1) {
      throw error("{}: input of shape {} has no features", type_name(), shape_str(input_shape));
    }
    create_parameters(input_shape[2]);
  }
  if (options_.return_sequences) return {input_shape[0], input_shape[1], units_};
  return {input_shape[0], units_};
}

Tensor Recurrent::gate(const Tensor& t, int64_t block) const {
  return slice(t, -1, block * units_, (block + 1) * units_);
}

Tensor Recurrent::forward(const Tensor& input) { return call(input).front(); }

std::vector<Tensor> Recurrent::call(const Tensor& input, const std::vector<Tensor>& initial_state) {
  build(input.shape());
  detail::check_input_dtype(type_name(), input, options_.dtype);
  const int64_t batch = input.shape()[0];
  const int64_t steps = input.shape()[1];
  std::vector<Tensor> states = initial_state;
  if (states.empty()) {
    for (int64_t s = 0; s < state_count(); ++s) {
      states.push_back(zeros({batch, units_}, options_.dtype));
    }
  } else if (static_cast<int64_t>(states.size()) != state_count()) {
    throw error("{}: initial_state has {} tensors, expected {}", type_name(), states.size(),
                state_count());
  }
  for (const Tensor& s : states) {
    if (s.shape() != Shape{batch, units_} || s.dtype() != options_.dtype) {
      throw error("{}: an initial state of shape {} and dtype {} does not match [{}, {}] {}",
                  type_name(), shape_str(s.shape()), dtype_name(s.dtype()), batch, units_,
                  dtype_name(options_.dtype));
    }
  }

  // The input projection of every step in one matmul: [B, T, gates * units].
  Tensor projected = matmul(input, kernel_);
  if (const Tensor b = input_bias(); b.defined()) projected = projected + b;

  std::vector<Tensor> outputs;
  if (options_.return_sequences) outputs.reserve(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = options_.go_backwards ? steps - 1 - i : i;
    states = step(select(projected, 1, t), states);
    if (options_.return_sequences) outputs.push_back(states.front());
  }
  std::vector<Tensor> result = {options_.return_sequences ? stack(outputs, 1) : states.front()};
  if (options_.return_state) result.insert(result.end(), states.begin(), states.end());
  return result;
}

namespace {

RecurrentOptions reversed(RecurrentOptions options) {
  options.go_backwards = !options.go_backwards;
  if (options.seed) ++*options.seed;
  return options;
}

}  // namespace

// ---- SimpleRNN ----

SimpleRNN::SimpleRNN(int64_t units, RecurrentOptions options)
    : Recurrent("SimpleRNN", units, 1, std::move(options)) {
  if (this->options().input_dim) build({1, 1, *this->options().input_dim});
}

std::shared_ptr<Recurrent> SimpleRNN::make_reversed() const {
  return std::make_shared<SimpleRNN>(units(), reversed(options()));
}

std::vector<Tensor> SimpleRNN::step(const Tensor& x_t, const std::vector<Tensor>& states) const {
  return {apply_activation(options().activation, x_t + matmul(states[0], recurrent_kernel()))};
}

// ---- LSTM ----

LSTM::LSTM(int64_t units, RecurrentOptions options)
    : Recurrent("LSTM", units, 4, std::move(options)) {
  if (this->options().input_dim) build({1, 1, *this->options().input_dim});
}

std::shared_ptr<Recurrent> LSTM::make_reversed() const {
  return std::make_shared<LSTM>(units(), reversed(options()));
}

void LSTM::after_initialization() {
  if (!options().unit_forget_bias || !bias().defined()) return;
  // Keras: bias = [initializer(units), ones(units), initializer(2 * units)].
  const NoGradGuard no_grad;
  Tensor forget = gate(bias(), 1);
  forget.fill_(1.0);
}

std::vector<Tensor> LSTM::step(const Tensor& x_t, const std::vector<Tensor>& states) const {
  const Tensor z = x_t + matmul(states[0], recurrent_kernel());
  const std::string& act = options().activation;
  const std::string& rec = options().recurrent_activation;
  const Tensor i = apply_activation(rec, gate(z, 0));
  const Tensor f = apply_activation(rec, gate(z, 1));
  const Tensor candidate = apply_activation(act, gate(z, 2));
  const Tensor o = apply_activation(rec, gate(z, 3));
  Tensor c = f * states[1] + i * candidate;
  Tensor h = o * apply_activation(act, c);
  return {std::move(h), std::move(c)};
}

// ---- GRU ----

GRU::GRU(int64_t units, RecurrentOptions options) : Recurrent("GRU", units, 3, std::move(options)) {
  if (this->options().input_dim) build({1, 1, *this->options().input_dim});
}

std::shared_ptr<Recurrent> GRU::make_reversed() const {
  return std::make_shared<GRU>(units(), reversed(options()));
}

Shape GRU::bias_shape() const {
  if (options().reset_after) return {2, 3 * units()};
  return {3 * units()};
}

Tensor GRU::input_bias() const {
  if (!bias().defined() || !options().reset_after) return bias();
  return select(bias(), 0, 0);
}

std::vector<Tensor> GRU::step(const Tensor& x_t, const std::vector<Tensor>& states) const {
  const Tensor& h = states[0];
  const std::string& act = options().activation;
  const std::string& rec = options().recurrent_activation;
  Tensor candidate;
  Tensor z;
  if (options().reset_after) {
    Tensor inner = matmul(h, recurrent_kernel());
    if (bias().defined()) inner = inner + select(bias(), 0, 1);
    z = apply_activation(rec, gate(x_t, 0) + gate(inner, 0));
    const Tensor r = apply_activation(rec, gate(x_t, 1) + gate(inner, 1));
    candidate = apply_activation(act, gate(x_t, 2) + r * gate(inner, 2));
  } else {
    const Tensor zr = matmul(h, slice(recurrent_kernel(), 1, 0, 2 * units()));
    z = apply_activation(rec, gate(x_t, 0) + gate(zr, 0));
    const Tensor r = apply_activation(rec, gate(x_t, 1) + gate(zr, 1));
    candidate = apply_activation(act, gate(x_t, 2) + matmul(r * h, gate(recurrent_kernel(), 2)));
  }
  return {z * h + (1.0 - z) * candidate};
}

// ---- Bidirectional ----

Bidirectional::Bidirectional(std::shared_ptr<Recurrent> layer, std::string merge_mode)
    : merge_mode_(std::move(merge_mode)) {
  if (!layer) throw error("Bidirectional: the wrapped layer is null");
  if (merge_mode_ != "concat" && merge_mode_ != "sum" && merge_mode_ != "mul" &&
      merge_mode_ != "ave") {
    throw error(R"(Bidirectional: merge_mode must be "concat", "sum", "mul" or "ave", got "{}")",
                merge_mode_);
  }
  set_name(unique_layer_name("Bidirectional"));
  backward_ = layer->make_reversed();
  forward_ = std::move(layer);
  backward_->set_name("backward_" + forward_->name());
  forward_->set_name("forward_" + forward_->name());
  register_module(forward_, "forward_layer");
  register_module(backward_, "backward_layer");
  if (forward_->built()) mark_built();
  // A layer built with input_dim is matched by its twin (same options), so both are built.
}

Shape Bidirectional::build(const Shape& input_shape) {
  Shape shape = forward_->build(input_shape);
  backward_->build(input_shape);
  mark_built();
  if (merge_mode_ == "concat") shape.back() *= 2;
  return shape;
}

Tensor Bidirectional::forward(const Tensor& input) { return call(input).front(); }

std::vector<Tensor> Bidirectional::call(const Tensor& input,
                                        const std::vector<Tensor>& initial_state) {
  build(input.shape());
  const int64_t per_layer = forward_->state_count();
  std::vector<Tensor> forward_state;
  std::vector<Tensor> backward_state;
  if (!initial_state.empty()) {
    if (static_cast<int64_t>(initial_state.size()) != 2 * per_layer) {
      throw error("Bidirectional: initial_state has {} tensors, expected {}", initial_state.size(),
                  2 * per_layer);
    }
    forward_state.assign(initial_state.begin(), initial_state.begin() + per_layer);
    backward_state.assign(initial_state.begin() + per_layer, initial_state.end());
  }
  std::vector<Tensor> ahead = forward_->call(input, forward_state);
  std::vector<Tensor> behind = backward_->call(input, backward_state);
  Tensor back = behind.front();
  if (forward_->options().return_sequences) {
    // The backward layer emitted its steps last first; flip them back into time order.
    const int64_t steps = back.shape()[1];
    back = index_select(back, 1, arange(static_cast<double>(steps - 1), -1.0, -1.0));
  }
  const Tensor& front = ahead.front();
  Tensor merged;
  if (merge_mode_ == "concat") {
    merged = cat({front, back}, -1);
  } else if (merge_mode_ == "sum") {
    merged = front + back;
  } else if (merge_mode_ == "mul") {
    merged = front * back;
  } else {
    merged = (front + back) * 0.5;
  }
  std::vector<Tensor> result = {merged};
  result.insert(result.end(), ahead.begin() + 1, ahead.end());
  result.insert(result.end(), behind.begin() + 1, behind.end());
  return result;
}

}  // namespace nabla::nn
