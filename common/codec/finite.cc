#include "common/codec/finite.h"

#include <cstring>

namespace ps {
namespace {

// The first of `count` elements at `bytes` (any alignment) whose `mask` bits are all ones.
template <typename Bits>
size_t FindAllOnes(const char* bytes, size_t count, Bits mask) {
  uint32_t found = 0;
  for (size_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, bytes + i * sizeof(Bits), sizeof(bits));
    found |= static_cast<uint32_t>((bits & mask) == mask);
  }
  if (found == 0) return count;
  for (size_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, bytes + i * sizeof(Bits), sizeof(bits));
    if ((bits & mask) == mask) return i;
  }
  return count;
}

constexpr uint32_t kFloatExponent = 0x7f800000u;
constexpr uint16_t kHalfExponent = 0x7c00u;

}  // namespace

size_t FindNonFinite(absl::Span<const float> values) {
  return FindNonFiniteFloatBytes(reinterpret_cast<const char*>(values.data()), values.size());
}

size_t FindNonFiniteHalf(absl::Span<const uint16_t> halves) {
  return FindNonFiniteHalfBytes(reinterpret_cast<const char*>(halves.data()), halves.size());
}

size_t FindNonFiniteFloatBytes(const char* bytes, size_t count) {
  return FindAllOnes<uint32_t>(bytes, count, kFloatExponent);
}

size_t FindNonFiniteHalfBytes(const char* bytes, size_t count) {
  return FindAllOnes<uint16_t>(bytes, count, kHalfExponent);
}

}  // namespace ps
