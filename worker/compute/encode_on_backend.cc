#include "worker/compute/encode_on_backend.h"

#include "absl/strings/str_cat.h"

namespace ps {

absl::Status EncodeOnBackend(ComputeBackend& backend, const Compression& compression,
                             const float* values, float* residual, size_t count, char* out) {
  if (compression.error_feedback() && residual == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(CompressionName(compression), " needs an error-feedback residual"));
  }
  const bool blocked = compression.encoding == v1::ENCODING_INT8_BLOCK ||
                       compression.encoding == v1::ENCODING_ONEBIT;
  if (blocked && (compression.block_size == 0 || compression.block_size > kMaxCodecBlock)) {
    return absl::InvalidArgumentError(
        absl::StrCat("block size ", compression.block_size, " is not in 1..", kMaxCodecBlock));
  }
  if (count == 0) return absl::OkStatus();
  switch (compression.encoding) {
    case v1::ENCODING_F16:
      return backend.EncodeHalf(values, count, out);
    case v1::ENCODING_INT8_BLOCK:
      return backend.EncodeInt8Blocks(values, count, compression.block_size, out);
    case v1::ENCODING_TOPK:
      return backend.EncodeTopk(values, residual, count, TopkCount(count, compression.topk_ratio),
                                out);
    case v1::ENCODING_ONEBIT:
      return backend.EncodeOneBit(values, residual, count, compression.block_size, out);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("no encoder for ", v1::Encoding_Name(compression.encoding)));
  }
}

}  // namespace ps
