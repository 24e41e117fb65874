#include "common/codec/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/codec/half.h"

namespace ps {

void EncodeHalf(absl::Span<const float> values, char* out) {
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t half = FloatToHalf(values[i]);
    std::memcpy(out + 2 * i, &half, sizeof(half));
  }
}

void EncodeInt8Blocks(absl::Span<const float> values, uint32_t block_size, char* out) {
  for (size_t first = 0; first < values.size(); first += block_size) {
    const size_t length = std::min<size_t>(block_size, values.size() - first);
    float max_magnitude = 0;
    for (size_t i = 0; i < length; ++i) {
      max_magnitude = std::max(max_magnitude, std::fabs(values[first + i]));
    }
    const float scale = max_magnitude / 127.0f;
    std::memcpy(out, &scale, sizeof(scale));
    out += sizeof(scale);
    for (size_t i = 0; i < length; ++i) {
      const float level = scale > 0 ? std::rint(values[first + i] / scale) : 0.0f;
      out[i] = static_cast<char>(static_cast<int8_t>(std::clamp(level, -127.0f, 127.0f)));
    }
    out += length;
  }
}

void EncodeOneBit(absl::Span<const float> values, absl::Span<float> residual, uint32_t block_size,
                  char* out) {
  for (size_t first = 0; first < values.size(); first += block_size) {
    const size_t length = std::min<size_t>(block_size, values.size() - first);
    float* corrected = residual.data() + first;
    double magnitude_sum = 0;
    for (size_t i = 0; i < length; ++i) {
      corrected[i] += values[first + i];
      magnitude_sum += std::fabs(corrected[i]);
    }
    const float scale = static_cast<float>(magnitude_sum / static_cast<double>(length));
    std::memcpy(out, &scale, sizeof(scale));
    out += sizeof(scale);
    std::memset(out, 0, (length + 7) / 8);
    for (size_t i = 0; i < length; ++i) {
      const bool positive = corrected[i] >= 0;
      if (positive) out[i / 8] = static_cast<char>(out[i / 8] | (1u << (i % 8)));
      corrected[i] -= positive ? scale : -scale;
    }
    out += (length + 7) / 8;
  }
}

void EncodeTopk(absl::Span<const float> values, absl::Span<float> residual, uint64_t k, char* out) {
  const size_t n = values.size();
  if (k == 0) return;
  std::vector<float> magnitudes(n);
  for (size_t i = 0; i < n; ++i) {
    residual[i] += values[i];
    magnitudes[i] = std::fabs(residual[i]);
  }
  // The k-th largest magnitude: everything above it is sent, then the lowest-index ties.
  std::nth_element(magnitudes.begin(), magnitudes.begin() + (k - 1), magnitudes.end(),
                   std::greater<float>());
  const float threshold = magnitudes[k - 1];
  uint64_t above = 0;
  for (size_t i = 0; i < n; ++i) above += std::fabs(residual[i]) > threshold;
  uint64_t ties_wanted = k - above;
  char* indices = out;
  char* sent = out + k * sizeof(uint32_t);
  uint64_t written = 0;
  for (size_t i = 0; i < n && written < k; ++i) {
    const float magnitude = std::fabs(residual[i]);
    const bool take = magnitude > threshold || (magnitude == threshold && ties_wanted > 0);
    if (!take) continue;
    if (magnitude == threshold) --ties_wanted;
    const uint32_t index = static_cast<uint32_t>(i);
    std::memcpy(indices + written * sizeof(uint32_t), &index, sizeof(index));
    std::memcpy(sent + written * sizeof(float), &residual[i], sizeof(float));
    residual[i] = 0;
    ++written;
  }
}

absl::Status CheckFiniteGradient(absl::Span<const float> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot encode value ", i, " (", values[i], "): gradients must be finite"));
    }
  }
  return absl::OkStatus();
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
      std::memcpy(out, values.data(), values.size() * sizeof(float));
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
