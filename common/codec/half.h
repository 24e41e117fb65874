// IEEE 754 half precision (binary16) conversions for the F16 encoding. Rounding is to nearest,
// ties to even, as CUDA's __float2half_rn does, except that finite values beyond the half range
// saturate to +-65504 instead of becoming infinite (a large gradient must stay a valid payload);
// infinities and NaNs stay what they are, so the server can refuse them.
#ifndef PS_COMMON_CODEC_HALF_H_
#define PS_COMMON_CODEC_HALF_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ps {

inline constexpr float kHalfMax = 65504.0f;

inline uint16_t FloatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // Infinity, or NaN (kept quiet and non-zero).
    return sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x0200u : 0u);
  }
  if (magnitude > 0x477fe000u) return sign | 0x7bffu;  // Beyond 65504: saturate.
  if (magnitude >= 0x38800000u) {                      // A normal half (>= 2^-14).
    // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
    const uint32_t rounded = magnitude + 0x0fffu + ((magnitude >> 13) & 1u);
    return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
  }
  // A subnormal half: adding 0.5 puts the value's 2^-24 units in the low mantissa bits, rounded
  // to nearest even by the float addition itself.
  float shifted;
  std::memcpy(&shifted, &magnitude, sizeof(shifted));
  shifted += 0.5f;
  uint32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof(shifted_bits));
  return sign | static_cast<uint16_t>(shifted_bits - 0x3f000000u);
}

inline float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else {
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // 2^-24
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Whether a half is neither infinite nor NaN.
inline bool HalfIsFinite(uint16_t half) { return (half & 0x7c00u) != 0x7c00u; }

// FloatToHalf and HalfToFloat over arrays: with the x86 F16C instructions where the CPU has them
// (same results, about 8 values per instruction), element by element elsewhere.
void FloatsToHalves(const float* values, size_t count, uint16_t* halves);
void HalvesToFloats(const uint16_t* halves, size_t count, float* values);

}  // namespace ps

#endif  // PS_COMMON_CODEC_HALF_H_
