#include "common/codec/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/codec/finite.h"
#include "common/codec/half.h"

namespace ps {

void EncodeHalf(absl::Span<const float> values, char* out) {
  // Payloads start at allocation boundaries, so `out` is aligned for uint16_t.
  FloatsToHalves(values.data(), values.size(), reinterpret_cast<uint16_t*>(out));
}

namespace {

// Adding and subtracting 1.5 * 2^23 rounds any |x| < 2^22 to the nearest integer, ties to even,
// exactly as std::rint (and CUDA's rintf) do, but in plain float arithmetic that vectorises.
constexpr float kRoundingMagic = 12582912.0f;

// Lane-wise partial sums the compiler vectorises; the order differs from a serial sum only by
// float rounding.
float SumOfMagnitudes(const float* values, size_t length) {
  constexpr size_t kLanes = 8;
  float lanes[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= length; i += kLanes) {
    for (size_t lane = 0; lane < kLanes; ++lane) lanes[lane] += std::fabs(values[i + lane]);
  }
  double sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < length; ++i) sum += std::fabs(values[i]);
  return static_cast<float>(sum);
}

// Indices, ascending, of the values whose magnitude may be among the k largest (1 <= k <=
// values.size()): at least k of them, and every index of the k largest.
std::vector<uint32_t> TopkCandidates(absl::Span<const float> values, uint64_t k) {
  const size_t n = values.size();
  std::vector<uint32_t> candidates;
  // Most of a large slice is far below the k-th value: estimate a threshold safely below it from
  // an evenly spaced sample and keep what reaches it. When fewer than k do (a skewed slice), every
  // index is a candidate.
  constexpr size_t kSample = 1024;
  if (n > 8 * kSample && k * 8 < n) {
    std::vector<float> sample(kSample);
    const size_t stride = n / kSample;
    for (size_t i = 0; i < kSample; ++i) sample[i] = std::fabs(values[i * stride]);
    const size_t rank = std::min<size_t>(kSample - 1, 2 * (k * kSample / n) + 8);
    std::nth_element(sample.begin(), sample.begin() + rank, sample.end(), std::greater<float>());
    const float estimate = sample[rank];
    candidates.reserve(4 * k);
    for (size_t i = 0; i < n; ++i) {
      if (std::fabs(values[i]) >= estimate) candidates.push_back(static_cast<uint32_t>(i));
    }
    if (candidates.size() >= k) return candidates;
  }
  candidates.resize(n);
  for (size_t i = 0; i < n; ++i) candidates[i] = static_cast<uint32_t>(i);
  return candidates;
}

}  // namespace

void EncodeInt8Blocks(absl::Span<const float> values, uint32_t block_size, char* out) {
  for (size_t first = 0; first < values.size(); first += block_size) {
    const size_t length = std::min<size_t>(block_size, values.size() - first);
    const float* block = values.data() + first;
    float max_magnitude = 0;
    for (size_t i = 0; i < length; ++i) {
      max_magnitude = std::max(max_magnitude, std::fabs(block[i]));
    }
    const float scale = max_magnitude / 127.0f;
    std::memcpy(out, &scale, sizeof(scale));
    out += sizeof(scale);
    if (scale > 0) {
      for (size_t i = 0; i < length; ++i) {
        const float level = (block[i] / scale + kRoundingMagic) - kRoundingMagic;
        out[i] = static_cast<char>(static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, level))));
      }
    } else {
      std::memset(out, 0, length);
    }
    out += length;
  }
}

void EncodeOneBit(absl::Span<const float> values, absl::Span<float> residual, uint32_t block_size,
                  char* out) {
  for (size_t first = 0; first < values.size(); first += block_size) {
    const size_t length = std::min<size_t>(block_size, values.size() - first);
    float* corrected = residual.data() + first;
    for (size_t i = 0; i < length; ++i) corrected[i] += values[first + i];
    const float scale = SumOfMagnitudes(corrected, length) / static_cast<float>(length);
    std::memcpy(out, &scale, sizeof(scale));
    out += sizeof(scale);
    for (size_t byte = 0; byte * 8 < length; ++byte) {
      uint32_t bits = 0;
      const size_t end = std::min(length, byte * 8 + 8);
      for (size_t i = byte * 8; i < end; ++i) {
        const bool positive = corrected[i] >= 0;
        bits |= static_cast<uint32_t>(positive) << (i % 8);
        corrected[i] -= positive ? scale : -scale;
      }
      out[byte] = static_cast<char>(bits);
    }
    out += (length + 7) / 8;
  }
}

void EncodeTopk(absl::Span<const float> values, absl::Span<float> residual, uint64_t k, char* out) {
  const size_t n = values.size();
  if (k == 0) return;
  for (size_t i = 0; i < n; ++i) residual[i] += values[i];
  const std::vector<uint32_t> candidates = TopkCandidates(residual, k);
  std::vector<float> magnitudes(candidates.size());
  for (size_t j = 0; j < candidates.size(); ++j) magnitudes[j] = std::fabs(residual[candidates[j]]);
  // Everything above the k-th largest magnitude is sent, then the lowest-index ties.
  std::nth_element(magnitudes.begin(), magnitudes.begin() + (k - 1), magnitudes.end(),
                   std::greater<float>());
  const float threshold = magnitudes[k - 1];
  uint64_t above = 0;
  for (uint32_t index : candidates) above += std::fabs(residual[index]) > threshold;
  uint64_t ties_wanted = k - above;
  char* indices = out;
  char* sent = out + k * sizeof(uint32_t);
  uint64_t written = 0;
  for (size_t j = 0; j < candidates.size() && written < k; ++j) {
    const uint32_t index = candidates[j];
    const float magnitude = std::fabs(residual[index]);
    const bool take = magnitude > threshold || (magnitude == threshold && ties_wanted > 0);
    if (!take) continue;
    if (magnitude == threshold) --ties_wanted;
    std::memcpy(indices + written * sizeof(uint32_t), &index, sizeof(index));
    std::memcpy(sent + written * sizeof(float), &residual[index], sizeof(float));
    residual[index] = 0;
    ++written;
  }
}

absl::Status CheckFiniteGradient(absl::Span<const float> values) {
  const size_t bad = FindNonFinite(values);
  if (bad == values.size()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("cannot encode value ", bad, " (", values[bad], "): gradients must be finite"));
}

absl::Status EncodeTensor(const Compression& compression, absl::Span<const float> values,
                          absl::Span<float> residual, char* out) {
  if (compression.error_feedback() && residual.size() != values.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the error-feedback residual has ",
                                                   residual.size(), " values for a tensor of ",
                                                   values.size()));
  }
  const bool blocked = compression.encoding == v1::ENCODING_INT8_BLOCK ||
                       compression.encoding == v1::ENCODING_ONEBIT;
  if (blocked && (compression.block_size == 0 || compression.block_size > kMaxCodecBlock)) {
    return absl::InvalidArgumentError(
        absl::StrCat("block size ", compression.block_size, " is not in 1..", kMaxCodecBlock));
  }
  if (compression.encoding == v1::ENCODING_TOPK && values.size() > UINT32_MAX) {
    return absl::InvalidArgumentError("top-k indexes at most 2^32 values per slice");
  }
  if (absl::Status finite = CheckFiniteGradient(values); !finite.ok()) return finite;
  switch (compression.encoding) {
    case v1::ENCODING_F32:
      // An empty span's data() may be null, and memcpy from null is undefined even for 0 bytes.
      if (!values.empty()) std::memcpy(out, values.data(), values.size() * sizeof(float));
      return absl::OkStatus();
    case v1::ENCODING_F16:
      EncodeHalf(values, out);
      return absl::OkStatus();
    case v1::ENCODING_INT8_BLOCK:
      EncodeInt8Blocks(values, compression.block_size, out);
      return absl::OkStatus();
    case v1::ENCODING_ONEBIT:
      EncodeOneBit(values, residual, compression.block_size, out);
      return absl::OkStatus();
    case v1::ENCODING_TOPK:
      EncodeTopk(values, residual, TopkCount(values.size(), compression.topk_ratio), out);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("no encoder for ", v1::Encoding_Name(compression.encoding)));
  }
}

}  // namespace ps
