// How a float tensor is compressed for the wire: the codec (an Encoding, see proto/types.proto for
// the byte layouts) and its parameters, parsed from the `--compression` flag. The sizes here are
// exact functions of the element count, so both ends agree on a payload's length before reading it.
#ifndef PS_COMMON_CODEC_COMPRESSION_H_
#define PS_COMMON_CODEC_COMPRESSION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/types.pb.h"

namespace ps {

// Elements per block of INT8_BLOCK and ONEBIT unless the flag names another size: 256 keeps the
// per-block scale's overhead at 1.6% (int8) and 11% (one bit) of the payload.
inline constexpr uint32_t kDefaultCodecBlock = 256;
// The largest block a payload may declare; bounds a decoder's per-block buffer.
inline constexpr uint32_t kMaxCodecBlock = 1u << 16;

struct Compression {
  v1::Encoding encoding = v1::ENCODING_F32;
  // TOPK: the fraction of elements sent, in (0, 1].
  double topk_ratio = 0;
  // INT8_BLOCK, ONEBIT: elements per block; 0 for the others.
  uint32_t block_size = 0;

  // TOPK and ONEBIT drop most of the information each step; the worker keeps what was not sent
  // (the residual) and adds it to the next gradient, so nothing is lost, only delayed.
  bool error_feedback() const {
    return encoding == v1::ENCODING_TOPK || encoding == v1::ENCODING_ONEBIT;
  }
  bool dense() const { return encoding == v1::ENCODING_F32; }
};

// Parses "none", "fp16", "int8[:BLOCK]", "topk:RATIO" or "onebit[:BLOCK]".
// Errors: InvalidArgument naming what is wrong and what is accepted.
absl::StatusOr<Compression> ParseCompression(absl::string_view text);
// The flag text ParseCompression accepts for `compression` ("topk:0.01").
std::string CompressionName(const Compression& compression);

// TOPK: how many of `num_elements` values are sent: floor(ratio * n), at least 1 (0 when n is 0).
uint64_t TopkCount(uint64_t num_elements, double ratio);
// INT8_BLOCK, ONEBIT: number of blocks covering `num_elements`.
uint64_t BlockCount(uint64_t num_elements, uint32_t block_size);
// Payload bytes of `num_elements` values under `compression`.
uint64_t EncodedBytes(const Compression& compression, uint64_t num_elements);
// The TensorHeader describing such a payload.
v1::TensorHeader DescribeEncoded(const Compression& compression, uint64_t num_elements);

}  // namespace ps

#endif  // PS_COMMON_CODEC_COMPRESSION_H_
