// A small seeded random stream for the data generators: splitmix64 plus the few distributions
// they need. Hand-rolled rather than <random> because the standard distributions are
// implementation-defined, and generated datasets must be identical on every platform and
// toolchain for a given seed. One thread only (it is a value with mutable state).
#ifndef PS_WORKER_DATA_SEEDED_RANDOM_H_
#define PS_WORKER_DATA_SEEDED_RANDOM_H_

#include <cmath>
#include <cstdint>

#include "common/partition.h"

namespace ps {

class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}

  // 64 uniformly random bits (splitmix64: Mix64 adds the golden-ratio increment itself).
  uint64_t NextBits() {
    const uint64_t bits = Mix64(state_);
    state_ += 0x9e3779b97f4a7c15ULL;
    return bits;
  }

  // Uniform in [0, 1), with 53 random bits.
  double NextUniform() { return static_cast<double>(NextBits() >> 11) * 0x1.0p-53; }

  // Uniform in [low, high).
  double NextUniform(double low, double high) { return low + (high - low) * NextUniform(); }

  // Uniform in [0, n). The modulo bias is below n / 2^64: negligible for data generation.
  // REQUIRES: n > 0.
  uint64_t NextBelow(uint64_t n) { return NextBits() % n; }

  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double NextGaussian() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - NextUniform();  // (0, 1]: log(u1) is finite.
    const double u2 = NextUniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * 3.14159265358979323846 * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  uint64_t state_;
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace ps

#endif  // PS_WORKER_DATA_SEEDED_RANDOM_H_
