// Recurrent layers with Keras's semantics: SimpleRNN, LSTM, GRU and the Bidirectional wrapper.
// Inputs are batch-first [batch, time, features] (Keras's layout, PyTorch's batch_first=true).
// Weights use Keras's layouts and gate orders, so Keras weights load as they are:
//   kernel [features, gates * units], recurrent_kernel [units, gates * units], bias
//   [gates * units] ([2, 3 * units] for GRU with reset_after: input bias, then recurrent bias);
//   gate blocks along the last axis: LSTM i, f, c, o; GRU z, r, h; SimpleRNN one block.
// Each step is ordinary autograd code (matmul, slice, sigmoid, tanh, ...), so backpropagation
// through time comes from the engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/module.h"

namespace nabla::nn {

struct RecurrentOptions {
  std::string activation = "tanh";               // any name apply_activation knows
  std::string recurrent_activation = "sigmoid";  // the gates of LSTM and GRU
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string recurrent_initializer = "orthogonal";
  std::string bias_initializer = "zeros";
  bool unit_forget_bias = true;   // LSTM: the forget gate's bias starts at 1 (Keras's default)
  bool reset_after = true;        // GRU: apply the reset gate after the recurrent matmul (Keras 2)
  bool return_sequences = false;  // output every step [B, T, units], else the last [B, units]
  bool return_state = false;      // call() also returns the final states
  bool go_backwards = false;      // process the sequence last step first (outputs in that order)
  // The number of input features; when absent it is taken from the first input (build).
  std::optional<int64_t> input_dim = std::nullopt;
  // Seeds the initializers; absent means nabla::default_generator().
  std::optional<uint64_t> seed = std::nullopt;
  DType dtype = kFloat32;  // of the weights (float64 for gradient checks)
};

// The shared loop over time: the input projection x @ kernel (+ bias) for all steps at once, then
// one step() per time step from the initial states (zeros unless given).
class Recurrent : public Module {
 public:
  [[nodiscard]] bool weights_pending() const override { return !built(); }
  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;

  // Keras's call: {output} or, with return_state, {output, final states...} (SimpleRNN and GRU:
  // h; LSTM: h, c). `initial_state` is empty (zeros) or one [batch, units] tensor per state.
  std::vector<Tensor> call(const Tensor& input, const std::vector<Tensor>& initial_state = {});
  using Module::call;  // and on symbolic tensors (the functional API)

  // A new, freshly initialized layer of the same type and options but go_backwards flipped (the
  // seed, if any, plus one): Bidirectional's backward half.
  [[nodiscard]] virtual std::shared_ptr<Recurrent> make_reversed() const = 0;

  [[nodiscard]] int64_t units() const { return units_; }
  [[nodiscard]] std::optional<int64_t> input_dim() const { return input_dim_; }
  [[nodiscard]] const Tensor& kernel() const { return kernel_; }
  [[nodiscard]] const Tensor& recurrent_kernel() const { return recurrent_kernel_; }
  [[nodiscard]] const Tensor& bias() const { return bias_; }  // undefined without use_bias
  [[nodiscard]] const RecurrentOptions& options() const { return options_; }
  // 1 (h) or 2 (LSTM: h, c).
  [[nodiscard]] virtual int64_t state_count() const { return 1; }

 protected:
  Recurrent(const std::string& type, int64_t units, int64_t gates, RecurrentOptions options);
  // The input bias added to x @ kernel (undefined for none).
  [[nodiscard]] virtual Tensor input_bias() const { return bias_; }
  [[nodiscard]] virtual Shape bias_shape() const { return {gates_ * units_}; }
  // Called once the weights have their initial values (LSTM's unit_forget_bias).
  virtual void after_initialization() {}
  // One time step: x_t [B, gates * units] is the projected input; returns the new states (the
  // output of the step is the new states[0]).
  [[nodiscard]] virtual std::vector<Tensor> step(const Tensor& x_t,
                                                 const std::vector<Tensor>& states) const = 0;
  // Columns [block * units, (block + 1) * units) of a [B, gates * units] tensor.
  [[nodiscard]] Tensor gate(const Tensor& t, int64_t block) const;

 private:
  void create_parameters(int64_t input_dim);
  void check_input_shape(const Shape& shape) const;

  int64_t units_;
  int64_t gates_;
  RecurrentOptions options_;
  std::optional<int64_t> input_dim_ = std::nullopt;
  Tensor kernel_;
  Tensor recurrent_kernel_;
  Tensor bias_;
};

// h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).
class SimpleRNN : public Recurrent {
 public:
  explicit SimpleRNN(int64_t units, RecurrentOptions options = {});
  [[nodiscard]] std::string type_name() const override { return "SimpleRNN"; }
  [[nodiscard]] std::shared_ptr<Recurrent> make_reversed() const override;

 protected:
  [[nodiscard]] std::vector<Tensor> step(const Tensor& x_t,
                                         const std::vector<Tensor>& states) const override;
};

// z = x_t @ kernel + h @ recurrent_kernel + bias, split into i, f, c, o (Keras's order);
// i, f, o = recurrent_activation(.), c~ = activation(.); c = f * c + i * c~; h = o * activation(c).
class LSTM : public Recurrent {
 public:
  explicit LSTM(int64_t units, RecurrentOptions options = {});
  [[nodiscard]] std::string type_name() const override { return "LSTM"; }
  [[nodiscard]] std::shared_ptr<Recurrent> make_reversed() const override;
  [[nodiscard]] int64_t state_count() const override { return 2; }

 protected:
  void after_initialization() override;
  [[nodiscard]] std::vector<Tensor> step(const Tensor& x_t,
                                         const std::vector<Tensor>& states) const override;
};

// Keras's GRU, gates z (update), r (reset), h (candidate). With reset_after (the default; bias
// [2, 3 * units] = input bias, recurrent bias):
//   x = x_t @ kernel + b_in, m = h @ recurrent_kernel + b_rec,
//   z = rec_act(x_z + m_z), r = rec_act(x_r + m_r), h~ = act(x_h + r * m_h);
// without (bias [3 * units]): h~ = act(x_h + (r * h) @ recurrent_kernel_h).
// Then h = z * h + (1 - z) * h~.
class GRU : public Recurrent {
 public:
  explicit GRU(int64_t units, RecurrentOptions options = {});
  [[nodiscard]] std::string type_name() const override { return "GRU"; }
  [[nodiscard]] std::shared_ptr<Recurrent> make_reversed() const override;

 protected:
  [[nodiscard]] Tensor input_bias() const override;
  [[nodiscard]] Shape bias_shape() const override;
  [[nodiscard]] std::vector<Tensor> step(const Tensor& x_t,
                                         const std::vector<Tensor>& states) const override;
};

// Runs a recurrent layer forwards and a freshly initialized copy of it backwards over the
// sequence and merges their outputs ("concat" on the last axis (the default), "sum", "mul",
// "ave"). With return_sequences the backward outputs are put back in time order first, as Keras
// does. The halves are registered as "forward_layer" and "backward_layer" and named
// "forward_<name>" and "backward_<name>".
class Bidirectional : public Module {
 public:
  explicit Bidirectional(std::shared_ptr<Recurrent> layer, std::string merge_mode = "concat");
  [[nodiscard]] bool weights_pending() const override { return !built(); }

  Tensor forward(const Tensor& input) override;
  Shape build(const Shape& input_shape) override;
  [[nodiscard]] std::string type_name() const override { return "Bidirectional"; }

  // {merged output} or, when the wrapped layer has return_state, {merged output, forward states...,
  // backward states...}. `initial_state` is empty or the forward states then the backward ones.
  std::vector<Tensor> call(const Tensor& input, const std::vector<Tensor>& initial_state = {});
  using Module::call;  // and on symbolic tensors (the functional API)

  [[nodiscard]] const std::shared_ptr<Recurrent>& forward_layer() const { return forward_; }
  [[nodiscard]] const std::shared_ptr<Recurrent>& backward_layer() const { return backward_; }
  [[nodiscard]] const std::string& merge_mode() const { return merge_mode_; }

 private:
  std::shared_ptr<Recurrent> forward_;
  std::shared_ptr<Recurrent> backward_;
  std::string merge_mode_;
};

}  // namespace nabla::nn
