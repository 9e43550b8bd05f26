// The process-wide Replicas slot; one replica until dist::init() installs its own.
#include "data/replicas.h"

#include <utility>

namespace nabla::data {
namespace {

class SingleReplica final : public Replicas {
 public:
  [[nodiscard]] int64_t rank() const override { return 0; }
  [[nodiscard]] int64_t size() const override { return 1; }
  void sum(std::vector<double>& /*values*/) const override {}
};

std::shared_ptr<const Replicas>& slot() {
  static std::shared_ptr<const Replicas> installed;
  return installed;
}

}  // namespace

const Replicas& replicas() {
  static const SingleReplica kSingle;
  const auto& installed = slot();
  return installed ? *installed : kSingle;
}

void set_replicas(std::shared_ptr<const Replicas> replicas) { slot() = std::move(replicas); }

}  // namespace nabla::data
