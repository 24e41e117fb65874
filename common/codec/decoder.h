// The receiving side of every codec: validation of untrusted payloads, and decoders that stream
// values out of a frame (common/frame.h) in small blocks, so a server applies a compressed
// gradient straight into its update without materialising it. Byte layouts: proto/types.proto.
#ifndef PS_COMMON_CODEC_DECODER_H_
#define PS_COMMON_CODEC_DECODER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/frame.h"
#include "proto/types.pb.h"

namespace ps {

// Checks that `header` describes exactly `expected_elements` values in a known encoding, that
// payload_bytes is the length that encoding needs (block_size within 1..kMaxCodecBlock for the
// block codecs, 0 for the rest) and that the reader holds it. Reads nothing: enough to decode
// F32 and F16 safely, which is all a client needs from its trusted servers' pull answers.
// Errors: InvalidArgument naming the first problem.
absl::Status CheckEncodedLayout(const v1::TensorHeader& header, uint64_t expected_elements,
                                const FrameReader& reader);

// CheckEncodedLayout, then that the payload is well formed: finite values and scales (a scale
// may not make any decoded value infinite), top-k indices strictly ascending (hence unique) and
// below num_elements. Reads past the payload. What a server asks of every push.
// Errors: InvalidArgument naming the first problem; nothing is decoded.
absl::Status ValidateEncoded(const v1::TensorHeader& header, uint64_t expected_elements,
                             FrameReader& reader);

// Streams the values of a validated payload in any encoding but TOPK, in element order.
class TensorDecoder {
 public:
  // `reader` is positioned at the payload; the decoder reads a copy of it.
  TensorDecoder(const v1::TensorHeader& header, const FrameReader& reader);

  // Decodes the next values into `out`; returns how many (fewer than out.size() only at the end).
  size_t Next(absl::Span<float> out);

 private:
  // Reads the scale and the int8 values or sign bits of the block starting at element `first`.
  void StartBlock(uint64_t first);

  const v1::TensorHeader header_;
  FrameReader reader_;
  uint64_t position_ = 0;
  // Block codecs: the current block's scale, bytes, and values not yet decoded.
  float scale_ = 0;
  std::vector<uint8_t> block_bytes_;
  size_t block_offset_ = 0;
  size_t block_left_ = 0;
};

// Streams the (index, value) pairs of a validated TOPK payload in ascending index order.
class TopkDecoder {
 public:
  TopkDecoder(const v1::TensorHeader& header, const FrameReader& reader);

  uint64_t size() const { return count_; }
  // Decodes up to indices.size() pairs (REQUIRES values.size() == indices.size()); returns how
  // many.
  size_t Next(absl::Span<uint32_t> indices, absl::Span<float> values);

 private:
  const uint64_t count_;
  uint64_t position_ = 0;
  FrameReader indices_;
  FrameReader values_;
};

// Calls fn(first_index, block) for consecutive cache-sized blocks of a validated non-TOPK payload.
// F32 blocks are the received bytes themselves where they lie aligned in one slice (no copy).
template <typename Fn>
void ForEachDecodedBlock(const v1::TensorHeader& header, const FrameReader& reader, Fn&& fn) {
  constexpr size_t kBlockFloats = 4096;  // 16 KB: stays in L1/L2 between decode and use.
  if (header.encoding() == v1::ENCODING_F32) {
    FrameReader values = reader;
    ForEachRun<float>(values, header.num_elements(), kBlockFloats,
                      [&](uint64_t first, absl::Span<const float> block) {
                        fn(first, block);
                        return absl::OkStatus();
                      })
        .IgnoreError();  // Validated: the values are all there.
    return;
  }
  alignas(64) float block[kBlockFloats];
  TensorDecoder decoder(header, reader);
  uint64_t first = 0;
  while (const size_t n = decoder.Next(absl::MakeSpan(block, kBlockFloats))) {
    fn(first, absl::Span<const float>(block, n));
    first += n;
  }
}

// Calls fn(indices, values) for consecutive chunks of a validated TOPK payload.
template <typename Fn>
void ForEachTopkChunk(const v1::TensorHeader& header, const FrameReader& reader, Fn&& fn) {
  constexpr size_t kChunk = 2048;
  uint32_t indices[kChunk];
  float values[kChunk];
  TopkDecoder decoder(header, reader);
  while (const size_t n =
             decoder.Next(absl::MakeSpan(indices, kChunk), absl::MakeSpan(values, kChunk))) {
    fn(absl::Span<const uint32_t>(indices, n), absl::Span<const float>(values, n));
  }
}

// Decodes a validated payload of out.size() values into `out` (top-k: unsent values are 0).
void DecodeInto(const v1::TensorHeader& header, const FrameReader& reader, absl::Span<float> out);

}  // namespace ps

#endif  // PS_COMMON_CODEC_DECODER_H_
