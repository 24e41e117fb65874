#include "common/codec/finite.h"

#include <cstring>

namespace ps {
namespace {

// The first element whose `mask` bits are all ones.
template <typename Bits, typename Value>
size_t FindAllOnes(absl::Span<const Value> values, Bits mask) {
  static_assert(sizeof(Bits) == sizeof(Value));
  uint32_t found = 0;
  for (const Value& value : values) {
    Bits bits;
    std::memcpy(&bits, &value, sizeof(bits));
    found |= static_cast<uint32_t>((bits & mask) == mask);
  }
  if (found == 0) return values.size();
  for (size_t i = 0; i < values.size(); ++i) {
    Bits bits;
    std::memcpy(&bits, &values[i], sizeof(bits));
    if ((bits & mask) == mask) return i;
  }
  return values.size();
}

}  // namespace

size_t FindNonFinite(absl::Span<const float> values) {
  return FindAllOnes<uint32_t>(values, 0x7f800000u);
}

size_t FindNonFiniteHalf(absl::Span<const uint16_t> halves) {
  return FindAllOnes<uint16_t>(halves, static_cast<uint16_t>(0x7c00u));
}

}  // namespace ps
