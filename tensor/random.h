// A seedable random generator of our own (xoshiro256** seeded by splitmix64), so that every random
// result is the same on every platform: std:: distributions differ between standard libraries.
#pragma once

#include <array>
#include <cstdint>

namespace nabla {

class Generator {
 public:
  explicit Generator(uint64_t seed = kDefaultSeed) { manual_seed(seed); }

  void manual_seed(uint64_t seed);
  uint64_t next_u64();

  double uniform();                // [0, 1), 53 random bits
  float uniform_float();           // [0, 1), 24 random bits
  double normal();                 // standard normal (Box-Muller; the spare value is cached)
  uint64_t below(uint64_t bound);  // unbiased in [0, bound), bound > 0
  int64_t randint(int64_t low, int64_t high);  // unbiased in [low, high), low < high

  static constexpr uint64_t kDefaultSeed = 0x5EED5EED5EEDULL;

 private:
  std::array<uint64_t, 4> state_{};
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

// The process-wide generator used when a factory is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace nabla
