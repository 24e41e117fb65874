// Finding NaN and infinity in gradients, fast: a branch-free scan of the exponent bits (all ones
// means NaN or infinity) that the compiler vectorises, and the search for the culprit only when
// the scan found one. The encoder checks what it is given; the server checks what it receives.
#ifndef PS_COMMON_CODEC_FINITE_H_
#define PS_COMMON_CODEC_FINITE_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace ps {

// The index of the first NaN or infinite value, or values.size() when every value is finite.
size_t FindNonFinite(absl::Span<const float> values);
// The same for half-precision bit patterns.
size_t FindNonFiniteHalf(absl::Span<const uint16_t> halves);
// The same over `count` values stored at `bytes` at any alignment (received payloads).
size_t FindNonFiniteFloatBytes(const char* bytes, size_t count);
size_t FindNonFiniteHalfBytes(const char* bytes, size_t count);

}  // namespace ps

#endif  // PS_COMMON_CODEC_FINITE_H_
