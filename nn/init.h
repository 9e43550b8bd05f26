// Weight initializers (Keras names and defaults). Each fills an existing tensor in place from a
// nabla::Generator, so a seeded generator gives the same weights on every platform.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace nabla::nn::init {

struct Fans {
  double fan_in = 1.0;
  double fan_out = 1.0;
};

// Keras's fans: rank 0 -> (1, 1); rank 1 [n] -> (n, n); rank 2 is a Dense kernel [in, out];
// rank >= 3 is a conv weight in nabla's (PyTorch's) layout [out, in, *receptive field], so
// fan_in = in * receptive and fan_out = out * receptive, the same numbers Keras gets from its
// [*receptive, in, out] layout.
Fans compute_fans(const Shape& shape);

// All fillers take the tensor by handle (it shares storage with the caller's) and write under
// NoGradGuard, so they work on parameters that already require grad. `generator` nullptr means
// nabla::default_generator().
void zeros(Tensor tensor);
void ones(Tensor tensor);
void constant(Tensor tensor, double value);
void random_normal(Tensor tensor, double mean = 0.0, double stddev = 0.05,
                   Generator* generator = nullptr);
void random_uniform(Tensor tensor, double minval = -0.05, double maxval = 0.05,
                    Generator* generator = nullptr);
// Normal values, each redrawn until it lies within 2 stddev of the mean (as Keras does).
void truncated_normal(Tensor tensor, double mean = 0.0, double stddev = 0.05,
                      Generator* generator = nullptr);

// Variance scaling (Keras): uniform in [-limit, limit] with limit = sqrt(3 * scale / fan), or a
// truncated normal with stddev = sqrt(scale / fan) / 0.87962566103423978 (the stddev of a unit
// normal truncated at 2, so the drawn values have the intended variance).
// glorot: scale 1, fan = (fan_in + fan_out) / 2; he: scale 2, fan = fan_in; lecun: scale 1,
// fan = fan_in.
void glorot_uniform(Tensor tensor, Generator* generator = nullptr);
void glorot_normal(Tensor tensor, Generator* generator = nullptr);
void he_uniform(Tensor tensor, Generator* generator = nullptr);
void he_normal(Tensor tensor, Generator* generator = nullptr);
void lecun_uniform(Tensor tensor, Generator* generator = nullptr);
void lecun_normal(Tensor tensor, Generator* generator = nullptr);

// Keras's Orthogonal(gain): the tensor seen as a matrix [prod(shape[:-1]), shape[-1]] gets
// orthonormal rows or columns (whichever are fewer), gain times the Q factor of a Gaussian matrix
// with the signs of R's diagonal made positive (computed here by modified Gram-Schmidt in double,
// which gives that Q directly), transposed when there are fewer rows than columns. A recurrent
// kernel [units, gates * units] thus gets orthonormal rows. Rank 0 or 1 tensors are refused.
void orthogonal(Tensor tensor, double gain = 1.0, Generator* generator = nullptr);

// Fills `tensor` with the initializer Keras calls `name` ("glorot_uniform", "zeros", "he_normal",
// "orthogonal", ...; the Keras aliases "xavier_uniform", "xavier_normal" and "uniform" (for
// random_uniform, Embedding's default) are accepted). Throws nabla::Error
// naming the unknown initializer and the known ones.
void initialize(const std::string& name, Tensor tensor, Generator* generator = nullptr);
// A new tensor of `shape` and `dtype` filled by initialize(name, ..., generator): a layer's weight.
[[nodiscard]] Tensor initialized(const std::string& name, const Shape& shape, DType dtype,
                                 Generator* generator = nullptr);
[[nodiscard]] bool is_known(const std::string& name);
[[nodiscard]] std::vector<std::string> known_names();
// Throws unless `name` is known; `who` names the caller ("Dense: kernel_initializer").
void check_known(const std::string& who, const std::string& name);

}  // namespace nabla::nn::init
