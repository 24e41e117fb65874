#include "common/codec/half.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace ps {
namespace {

#if defined(__x86_64__)
// Compiled for AVX + F16C whatever the build's baseline; called only after the CPU check.
__attribute__((target("avx,f16c"))) size_t FloatsToHalvesF16c(const float* values, size_t count,
                                                              uint16_t* halves) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 largest = _mm256_set1_ps(kHalfMax);
  const __m256 infinity = _mm256_set1_ps(__builtin_inff());
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 value = _mm256_loadu_ps(values + i);
    const __m256 magnitude = _mm256_andnot_ps(sign, value);
    // Finite values beyond the half range saturate, as FloatToHalf does; NaN and infinity stay.
    // Rare, so tested first; and a bitwise select, because GCC turns blendv into branches on
    // each lane under plain AVX.
    const __m256 beyond = _mm256_and_ps(_mm256_cmp_ps(magnitude, largest, _CMP_GT_OQ),
                                        _mm256_cmp_ps(magnitude, infinity, _CMP_LT_OQ));
    if (_mm256_movemask_ps(beyond) != 0) {
      const __m256 saturated = _mm256_or_ps(_mm256_and_ps(value, sign), largest);
      value = _mm256_or_ps(_mm256_and_ps(beyond, saturated), _mm256_andnot_ps(beyond, value));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(halves + i),
                     _mm256_cvtps_ph(value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  return i;
}

__attribute__((target("avx,f16c"))) size_t HalvesToFloatsF16c(const uint16_t* halves, size_t count,
                                                              float* values) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(halves + i));
    _mm256_storeu_ps(values + i, _mm256_cvtph_ps(packed));
  }
  return i;
}

// CPUID and XGETBV directly rather than __builtin_cpu_supports, whose "f16c" clang does not know:
// F16C and AVX on the CPU, and the OS saving the AVX registers (XCR0 bits 1 and 2).
bool HasF16c() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    constexpr unsigned kOsXsave = 1u << 27, kAvx = 1u << 28, kF16c = 1u << 29;
    if ((ecx & (kOsXsave | kAvx | kF16c)) != (kOsXsave | kAvx | kF16c)) return false;
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & 6u) == 6u;
  }();
  return has;
}
#endif

}  // namespace

void FloatsToHalves(const float* values, size_t count, uint16_t* halves) {
  size_t done = 0;
#if defined(__x86_64__)
  if (HasF16c()) done = FloatsToHalvesF16c(values, count, halves);
#endif
  for (size_t i = done; i < count; ++i) halves[i] = FloatToHalf(values[i]);
}

void HalvesToFloats(const uint16_t* halves, size_t count, float* values) {
  size_t done = 0;
#if defined(__x86_64__)
  if (HasF16c()) done = HalvesToFloatsF16c(halves, count, values);
#endif
  for (size_t i = done; i < count; ++i) values[i] = HalfToFloat(halves[i]);
}

}  // namespace ps
