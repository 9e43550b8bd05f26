// A seedable random generator of our own (xoshiro256** seeded by splitmix64), so that every random
// result is the same on every platform: std:: distributions differ between standard libraries.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace nabla {

// Thread safety: the factories (rand, randn, randperm, ...), the initializers and the layers hold
// the generator's lock() for each call, so threads may share one generator, the default one too
// (as in PyTorch). Code that draws with the methods below from several threads holds lock() itself:
// the methods do not lock, as a lock per number would cost more than drawing it.
class Generator {
 public:
  explicit Generator(uint64_t seed = kDefaultSeed) { manual_seed(seed); }
  // Copies take the state, not the lock.
  Generator(const Generator& other);
  Generator& operator=(const Generator& other);
  ~Generator() = default;

  [[nodiscard]] std::unique_lock<std::mutex> lock() const { return std::unique_lock(mutex_); }

  void manual_seed(uint64_t seed);
  uint64_t next_u64();

  // The whole state as kStateWords words (the 4 xoshiro words, the cached-normal flag and the
  // cached normal's bits), for checkpoints: set_state(get_state()) continues the same sequence.
  // set_state throws nabla::Error on a state no generator can be in (all-zero xoshiro words, a
  // flag other than 0 or 1); neither locks.
  static constexpr size_t kStateWords = 6;
  [[nodiscard]] std::array<uint64_t, kStateWords> get_state() const;
  void set_state(const std::array<uint64_t, kStateWords>& words);

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
  mutable std::mutex mutex_;
};

// The process-wide generator used when a factory is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);  // locks the default generator
// One draw from the default generator under its lock: the seed of a layer or loader built
// without one.
uint64_t seed_from_default_generator();

}  // namespace nabla
