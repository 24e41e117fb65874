#include "common/table/initializer.h"

#include <cmath>

#include "common/partition.h"

namespace ps {
namespace {

// Distinguishes the dense stream from every row stream.
constexpr uint64_t kDenseStream = 0x64656e7365ULL;

// A uniform double in (0, 1) from 64 random bits: 53 bits of mantissa, never exactly 0 (log).
double UnitInterval(uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53; }

}  // namespace

void Initializer::FillDense(uint64_t first, absl::Span<float> values) const {
  Fill(Mix64(spec_.seed() ^ kDenseStream), first, values);
}

void Initializer::FillRow(uint64_t key, absl::Span<float> row) const {
  Fill(Mix64(spec_.seed() ^ Mix64(key)), 0, row);
}

void Initializer::Fill(uint64_t stream, uint64_t offset, absl::Span<float> values) const {
  for (size_t i = 0; i < values.size(); ++i) {
    const uint64_t position = stream + 2 * (offset + i);
    switch (spec_.kind()) {
      case v1::InitializerSpec::KIND_CONSTANT:
        values[i] = spec_.value();
        break;
      case v1::InitializerSpec::KIND_UNIFORM:
        values[i] = static_cast<float>(spec_.min() + (spec_.max() - spec_.min()) *
                                                         UnitInterval(Mix64(position)));
        break;
      case v1::InitializerSpec::KIND_NORMAL: {
        // Box-Muller from two independent uniforms.
        const double u1 = UnitInterval(Mix64(position));
        const double u2 = UnitInterval(Mix64(position + 1));
        const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
        values[i] = static_cast<float>(spec_.mean() + spec_.stddev() * z);
        break;
      }
      default:
        values[i] = 0.0f;
        break;
    }
  }
}

}  // namespace ps
