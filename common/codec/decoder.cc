#include "common/codec/decoder.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/codec/compression.h"
#include "common/codec/finite.h"
#include "common/codec/half.h"

namespace ps {
namespace {

bool Blocked(v1::Encoding encoding) {
  return encoding == v1::ENCODING_INT8_BLOCK || encoding == v1::ENCODING_ONEBIT;
}

// Checks `count` elements of T in place, calling check(first_index, run) until one fails.
template <typename T, typename Check>
absl::Status ScanChunks(FrameReader& reader, uint64_t count, Check&& check) {
  constexpr size_t kRun = 16384;  // Bounds the index arithmetic of an error message only.
  return ForEachRun<T>(reader, count, kRun, std::forward<Check>(check));
}

// kSignPatterns[byte][bit] is +1 where the bit is set and -1 where it is clear.
struct SignPatterns {
  float signs[256][8];
  SignPatterns() {
    for (int byte = 0; byte < 256; ++byte) {
      for (int bit = 0; bit < 8; ++bit) signs[byte][bit] = (byte >> bit) & 1 ? 1.0f : -1.0f;
    }
  }
};
const SignPatterns kSignPatterns;

// ONEBIT: out[i] = +-scale for the sign bits first .. first + n of `bits`.
void DecodeSigns(const uint8_t* bits, size_t first, size_t n, float scale, float* out) {
  size_t i = 0;
  for (; i < n && (first + i) % 8 != 0; ++i) {
    out[i] = (bits[(first + i) / 8] >> ((first + i) % 8)) & 1u ? scale : -scale;
  }
  for (; i + 8 <= n; i += 8) {
    const float* signs = kSignPatterns.signs[bits[(first + i) / 8]];
    for (int bit = 0; bit < 8; ++bit) out[i + bit] = signs[bit] * scale;
  }
  for (; i < n; ++i) {
    out[i] = (bits[(first + i) / 8] >> ((first + i) % 8)) & 1u ? scale : -scale;
  }
}

// Both scan the received bytes where they lie (ForEachRawRun): no copy ahead of the check.
absl::Status CheckFiniteFloats(FrameReader& reader, uint64_t count) {
  constexpr size_t kRun = 1 << 16;
  return ForEachRawRun<float>(reader, count, kRun, [&](uint64_t first, const char* bytes, size_t n) {
    const size_t bad = FindNonFiniteFloatBytes(bytes, n);
    if (bad == n) return absl::OkStatus();
    float value;
    std::memcpy(&value, bytes + bad * sizeof(float), sizeof(value));
    return absl::InvalidArgumentError(
        absl::StrCat("value ", first + bad, " is ", value, "; gradients must be finite"));
  });
}

absl::Status CheckFiniteHalves(FrameReader& reader, uint64_t count) {
  constexpr size_t kRun = 1 << 16;
  return ForEachRawRun<uint16_t>(
      reader, count, kRun, [&](uint64_t first, const char* bytes, size_t n) {
        const size_t bad = FindNonFiniteHalfBytes(bytes, n);
        if (bad == n) return absl::OkStatus();
        uint16_t half;
        std::memcpy(&half, bytes + bad * sizeof(half), sizeof(half));
        return absl::InvalidArgumentError(absl::StrCat(
            "F16 value ", first + bad, " is ", HalfToFloat(half), "; gradients must be finite"));
      });
}

// Per block: a scale that is finite, not negative, and small enough that scale * max_level is
// finite too; then the block's `bytes_per_block(length)` bytes, skipped.
template <typename BlockBytes>
absl::Status CheckBlocks(FrameReader& reader, uint64_t n, uint32_t block_size, float max_level,
                         BlockBytes&& bytes_of) {
  for (uint64_t first = 0, block = 0; first < n; first += block_size, ++block) {
    const uint64_t length = std::min<uint64_t>(block_size, n - first);
    float scale;
    if (absl::Status read = reader.Read(&scale, sizeof(scale)); !read.ok()) return read;
    if (!std::isfinite(scale) || scale < 0 || scale > FLT_MAX / max_level) {
      return absl::InvalidArgumentError(
          absl::StrCat("block ", block, " has scale ", scale,
                       "; scales must be finite, not negative, and keep every value finite"));
    }
    if (absl::Status skipped = reader.Skip(bytes_of(length)); !skipped.ok()) return skipped;
  }
  return absl::OkStatus();
}

absl::Status CheckTopk(FrameReader& reader, uint64_t n, uint64_t k) {
  int64_t previous = -1;
  absl::Status indices =
      ScanChunks<uint32_t>(reader, k, [&](uint64_t first, absl::Span<const uint32_t> chunk) {
        for (size_t i = 0; i < chunk.size(); ++i) {
          if (chunk[i] >= n || static_cast<int64_t>(chunk[i]) <= previous) {
            return absl::InvalidArgumentError(absl::StrCat(
                "top-k index ", first + i, " is ", chunk[i],
                chunk[i] >= n ? absl::StrCat(", beyond the ", n, " values")
                              : absl::StrCat(", not above the previous index ", previous,
                                             " (indices must ascend, each once)")));
          }
          previous = chunk[i];
        }
        return absl::OkStatus();
      });
  if (!indices.ok()) return indices;
  return CheckFiniteFloats(reader, k);
}

}  // namespace

absl::Status CheckEncodedLayout(const v1::TensorHeader& header, uint64_t expected_elements,
                                const FrameReader& reader) {
  const v1::Encoding encoding = header.encoding();
  const uint64_t n = header.num_elements();
  if (n != expected_elements) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", expected_elements, " values, the header says ", n));
  }
  Compression compression;
  compression.encoding = encoding;
  switch (encoding) {
    case v1::ENCODING_F32:
    case v1::ENCODING_F16:
    case v1::ENCODING_TOPK:
      if (header.block_size() != 0) {
        return absl::InvalidArgumentError(absl::StrCat(v1::Encoding_Name(encoding),
                                                       " has no blocks; block_size must be 0, not ",
                                                       header.block_size()));
      }
      break;
    case v1::ENCODING_INT8_BLOCK:
    case v1::ENCODING_ONEBIT:
      if (header.block_size() == 0 || header.block_size() > kMaxCodecBlock) {
        return absl::InvalidArgumentError(absl::StrCat(v1::Encoding_Name(encoding),
                                                       " needs a block_size in 1..", kMaxCodecBlock,
                                                       ", not ", header.block_size()));
      }
      compression.block_size = header.block_size();
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown value encoding ", static_cast<int>(encoding)));
  }
  uint64_t expected_bytes = EncodedBytes(compression, n);
  if (encoding == v1::ENCODING_TOPK) {
    // The sender chooses k; the payload length says which.
    constexpr uint64_t kPair = sizeof(uint32_t) + sizeof(float);
    if (header.payload_bytes() % kPair != 0 || header.payload_bytes() / kPair > n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a TOPK payload of ", header.payload_bytes(), " bytes is not a whole number of ", kPair,
          "-byte (index, value) pairs for at most ", n, " values"));
    }
    expected_bytes = header.payload_bytes();
  }
  if (header.payload_bytes() != expected_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, " values encoded as ", v1::Encoding_Name(encoding),
                     Blocked(encoding) ? absl::StrCat(" in blocks of ", header.block_size()) : "",
                     " take ", expected_bytes, " bytes; the header says ", header.payload_bytes()));
  }
  if (reader.remaining() < expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the frame ends ", expected_bytes - reader.remaining(), " bytes before the values do"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEncoded(const v1::TensorHeader& header, uint64_t expected_elements,
                             FrameReader& reader) {
  if (absl::Status layout = CheckEncodedLayout(header, expected_elements, reader); !layout.ok()) {
    return layout;
  }
  const uint64_t n = header.num_elements();
  switch (header.encoding()) {
    case v1::ENCODING_F32:
      return CheckFiniteFloats(reader, n);
    case v1::ENCODING_F16:
      return CheckFiniteHalves(reader, n);
    case v1::ENCODING_INT8_BLOCK:
      return CheckBlocks(reader, n, header.block_size(), 128.0f,
                         [](uint64_t length) { return length; });
    case v1::ENCODING_ONEBIT:
      return CheckBlocks(reader, n, header.block_size(), 1.0f,
                         [](uint64_t length) { return (length + 7) / 8; });
    default:
      return CheckTopk(reader, n, header.payload_bytes() / (sizeof(uint32_t) + sizeof(float)));
  }
}

TensorDecoder::TensorDecoder(const v1::TensorHeader& header, const FrameReader& reader)
    : header_(header), reader_(reader) {}

void TensorDecoder::StartBlock(uint64_t first) {
  const size_t length = std::min<uint64_t>(header_.block_size(), header_.num_elements() - first);
  const size_t bytes = header_.encoding() == v1::ENCODING_INT8_BLOCK ? length : (length + 7) / 8;
  block_bytes_.resize(bytes);
  // Validated before decoding, so these reads cannot come up short.
  reader_.Read(&scale_, sizeof(scale_)).IgnoreError();
  reader_.Read(block_bytes_.data(), bytes).IgnoreError();
  block_offset_ = 0;
  block_left_ = length;
}

size_t TensorDecoder::Next(absl::Span<float> out) {
  const size_t total = std::min<uint64_t>(out.size(), header_.num_elements() - position_);
  switch (header_.encoding()) {
    case v1::ENCODING_F32:
      reader_.Read(out.data(), total * sizeof(float)).IgnoreError();
      break;
    case v1::ENCODING_F16: {
      constexpr size_t kChunk = 2048;
      uint16_t halves[kChunk];
      for (size_t done = 0; done < total;) {
        const size_t n = std::min(kChunk, total - done);
        reader_.Read(halves, n * sizeof(uint16_t)).IgnoreError();
        HalvesToFloats(halves, n, out.data() + done);
        done += n;
      }
      break;
    }
    default: {  // INT8_BLOCK, ONEBIT
      const bool int8 = header_.encoding() == v1::ENCODING_INT8_BLOCK;
      for (size_t done = 0; done < total;) {
        if (block_left_ == 0) StartBlock(position_ + done);
        const size_t n = std::min(block_left_, total - done);
        float* target = out.data() + done;
        if (int8) {
          const uint8_t* levels = block_bytes_.data() + block_offset_;
          for (size_t i = 0; i < n; ++i) {
            target[i] = static_cast<float>(static_cast<int8_t>(levels[i])) * scale_;
          }
        } else {
          DecodeSigns(block_bytes_.data(), block_offset_, n, scale_, target);
        }
        block_offset_ += n;
        block_left_ -= n;
        done += n;
      }
      break;
    }
  }
  position_ += total;
  return total;
}

TopkDecoder::TopkDecoder(const v1::TensorHeader& header, const FrameReader& reader)
    : count_(header.payload_bytes() / (sizeof(uint32_t) + sizeof(float))),
      indices_(reader),
      values_(reader) {
  values_.Skip(count_ * sizeof(uint32_t)).IgnoreError();
}

size_t TopkDecoder::Next(absl::Span<uint32_t> indices, absl::Span<float> values) {
  const size_t n = std::min<uint64_t>(indices.size(), count_ - position_);
  indices_.Read(indices.data(), n * sizeof(uint32_t)).IgnoreError();
  values_.Read(values.data(), n * sizeof(float)).IgnoreError();
  position_ += n;
  return n;
}

void DecodeInto(const v1::TensorHeader& header, const FrameReader& reader, absl::Span<float> out) {
  if (header.encoding() != v1::ENCODING_TOPK) {
    TensorDecoder(header, reader).Next(out);
    return;
  }
  std::fill(out.begin(), out.end(), 0.0f);
  ForEachTopkChunk(header, reader,
                   [&](absl::Span<const uint32_t> indices, absl::Span<const float> values) {
                     for (size_t i = 0; i < indices.size(); ++i) out[indices[i]] = values[i];
                   });
}

}  // namespace ps
