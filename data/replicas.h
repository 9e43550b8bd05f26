// data::Replicas: the processes that train one model together (data parallelism), as the layers
// below dist/ may see them: a rank, a count and a sum over all of them, with no MPI in sight.
//
// NOTE (design): dist/ sits above data, nn and optim and is built only when MPI is found, and
// train/ must build without it, so train/ cannot call dist/. The dependency is inverted as for
// tensor/'s InplaceCheck: this small interface lives in data/ (which train/ and dist/ both see,
// and which needs rank and count anyway to shard an epoch), dist::init() installs its MPI
// implementation, and without it there is one replica. train::Model::fit reads it to shard its
// DataLoader, average its logs and keep printing and files to rank 0.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace nabla::data {

class Replicas {
 public:
  Replicas() = default;
  virtual ~Replicas() = default;
  Replicas(const Replicas&) = delete;
  Replicas& operator=(const Replicas&) = delete;
  Replicas(Replicas&&) = delete;
  Replicas& operator=(Replicas&&) = delete;

  [[nodiscard]] virtual int64_t rank() const = 0;
  [[nodiscard]] virtual int64_t size() const = 0;
  // Elementwise sum over all replicas, in place, bit-identical on each; every replica calls it
  // at the same point with a vector of the same length.
  virtual void sum(std::vector<double>& values) const = 0;
};

// The installed replicas, or one replica (rank 0 of 1, sum = identity) when none is.
[[nodiscard]] const Replicas& replicas();
// Installs `replicas` (null restores the single one).
void set_replicas(std::shared_ptr<const Replicas> replicas);

}  // namespace nabla::data
