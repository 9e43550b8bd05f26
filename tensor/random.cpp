// xoshiro256** (Blackman & Vigna) with splitmix64 seeding; distributions written out by hand.
#include "tensor/random.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "tensor/error.h"

namespace nabla {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// GCC and clang provide 128-bit integers as an extension; __extension__ keeps -Wpedantic quiet.
__extension__ using Uint128 = unsigned __int128;

}  // namespace

void Generator::manual_seed(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& word : state_) word = splitmix64(x);
  has_spare_normal_ = false;
}

std::array<uint64_t, Generator::kStateWords> Generator::get_state() const {
  return {state_[0],
          state_[1],
          state_[2],
          state_[3],
          has_spare_normal_ ? 1U : 0U,
          std::bit_cast<uint64_t>(spare_normal_)};
}

void Generator::set_state(const std::array<uint64_t, kStateWords>& words) {
  if (words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == 0) {
    throw error("Generator::set_state: the xoshiro256** state words are all zero");
  }
  if (words[4] > 1) {
    throw error("Generator::set_state: the cached-normal flag must be 0 or 1, got {}", words[4]);
  }
  for (size_t i = 0; i < state_.size(); ++i) state_[i] = words[i];
  has_spare_normal_ = words[4] == 1;
  spare_normal_ = std::bit_cast<double>(words[5]);
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

float Generator::uniform_float() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24F; }

double Generator::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // 1 - uniform() lies in (0, 1], so the log is finite.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
  const double angle = 2.0 * std::numbers::pi * uniform();
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

uint64_t Generator::below(uint64_t bound) {
  if (bound == 0) throw error("Generator::below: bound must be positive");
  // Lemire's multiply-shift with rejection: unbiased without a division per draw.
  Uint128 product = static_cast<Uint128>(next_u64()) * bound;
  auto low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<Uint128>(next_u64()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  if (low >= high) throw error("randint: low ({}) must be less than high ({})", low, high);
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  return static_cast<int64_t>(static_cast<uint64_t>(low) + below(span));
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) {
  Generator& generator = default_generator();
  const auto lock = generator.lock();
  generator.manual_seed(seed);
}

uint64_t seed_from_default_generator() {
  Generator& generator = default_generator();
  const auto lock = generator.lock();
  return generator.next_u64();
}

Generator::Generator(const Generator& other) {
  const auto lock = other.lock();
  state_ = other.state_;
  has_spare_normal_ = other.has_spare_normal_;
  spare_normal_ = other.spare_normal_;
}

Generator& Generator::operator=(const Generator& other) {
  if (this == &other) return *this;
  const std::scoped_lock lock(mutex_, other.mutex_);
  state_ = other.state_;
  has_spare_normal_ = other.has_spare_normal_;
  spare_normal_ = other.spare_normal_;
  return *this;
}

}  // namespace nabla
