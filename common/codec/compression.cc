#include "common/codec/compression.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ps {
namespace {

constexpr char kAccepted[] =
    "expected none, fp16, int8[:BLOCK], topk:RATIO (0 < RATIO <= 1) or onebit[:BLOCK]";

absl::StatusOr<uint32_t> ParseBlock(absl::string_view codec, absl::string_view text) {
  uint32_t block = 0;
  if (!absl::SimpleAtoi(text, &block) || block == 0 || block > kMaxCodecBlock) {
    return absl::InvalidArgumentError(absl::StrCat("--compression=", codec, ":", text,
                                                   ": the block size must be 1..", kMaxCodecBlock));
  }
  return block;
}

}  // namespace

absl::StatusOr<Compression> ParseCompression(absl::string_view text) {
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(':', 1));
  const absl::string_view codec = parts.first;
  const absl::string_view argument = parts.second;
  const bool has_argument = text.find(':') != absl::string_view::npos;
  Compression compression;
  if ((codec == "none" || codec == "fp16") && !has_argument) {
    compression.encoding = codec == "none" ? v1::ENCODING_F32 : v1::ENCODING_F16;
    return compression;
  }
  if (codec == "int8" || codec == "onebit") {
    compression.encoding = codec == "int8" ? v1::ENCODING_INT8_BLOCK : v1::ENCODING_ONEBIT;
    compression.block_size = kDefaultCodecBlock;
    if (has_argument) {
      absl::StatusOr<uint32_t> block = ParseBlock(codec, argument);
      if (!block.ok()) return block.status();
      compression.block_size = *block;
    }
    return compression;
  }
  if (codec == "topk") {
    double ratio = 0;
    if (!has_argument || !absl::SimpleAtod(argument, &ratio) || !(ratio > 0) || ratio > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--compression=", text, ": top-k needs the fraction of values to send, e.g. topk:0.01"));
    }
    compression.encoding = v1::ENCODING_TOPK;
    compression.topk_ratio = ratio;
    return compression;
  }
  return absl::InvalidArgumentError(absl::StrCat("--compression=", text, ": ", kAccepted));
}

std::string CompressionName(const Compression& compression) {
  switch (compression.encoding) {
    case v1::ENCODING_F16:
      return "fp16";
    case v1::ENCODING_INT8_BLOCK:
      return absl::StrCat("int8:", compression.block_size);
    case v1::ENCODING_TOPK:
      return absl::StrCat("topk:", compression.topk_ratio);
    case v1::ENCODING_ONEBIT:
      return absl::StrCat("onebit:", compression.block_size);
    default:
      return "none";
  }
}

uint64_t TopkCount(uint64_t num_elements, double ratio) {
  if (num_elements == 0) return 0;
  const auto count = static_cast<uint64_t>(std::floor(ratio * static_cast<double>(num_elements)));
  return std::min(num_elements, std::max<uint64_t>(1, count));
}

uint64_t BlockCount(uint64_t num_elements, uint32_t block_size) {
  return block_size == 0 ? 0 : (num_elements + block_size - 1) / block_size;
}

uint64_t EncodedBytes(const Compression& compression, uint64_t n) {
  switch (compression.encoding) {
    case v1::ENCODING_F16:
      return 2 * n;
    case v1::ENCODING_INT8_BLOCK:
      return BlockCount(n, compression.block_size) * sizeof(float) + n;
    case v1::ENCODING_TOPK:
      return TopkCount(n, compression.topk_ratio) * (sizeof(uint32_t) + sizeof(float));
    case v1::ENCODING_ONEBIT: {
      const uint64_t blocks = BlockCount(n, compression.block_size);
      if (blocks == 0) return 0;
      const uint64_t last = n - (blocks - 1) * compression.block_size;
      return blocks * sizeof(float) + (blocks - 1) * ((compression.block_size + 7) / 8) +
             (last + 7) / 8;
    }
    default:
      return sizeof(float) * n;
  }
}

v1::TensorHeader DescribeEncoded(const Compression& compression, uint64_t num_elements) {
  v1::TensorHeader header;
  header.set_encoding(compression.encoding);
  header.set_num_elements(num_elements);
  header.set_block_size(compression.block_size);
  header.set_payload_bytes(EncodedBytes(compression, num_elements));
  return header;
}

}  // namespace ps
