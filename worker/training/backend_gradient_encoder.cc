#include "worker/training/backend_gradient_encoder.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/buffer_pool.h"
#include "common/status_macros.h"

namespace ps {

absl::StatusOr<std::unique_ptr<BackendGradientEncoder>> BackendGradientEncoder::Create(
    ComputeBackend* backend, const Compression& compression, uint64_t size) {
  if (compression.dense()) {
    return absl::InvalidArgumentError("F32 gradients are sent as they are, not encoded");
  }
  DeviceArray<float> residual;
  if (compression.error_feedback()) {
    PS_ASSIGN_OR_RETURN(residual, backend->Allocate<float>(size));
    const std::vector<float> zeros(size, 0.0f);
    PS_RETURN_IF_ERROR(backend->Upload<float>(zeros, residual));
  }
  return std::unique_ptr<BackendGradientEncoder>(
      new BackendGradientEncoder(backend, compression, size, std::move(residual)));
}

absl::StatusOr<EncodedValues> BackendGradientEncoder::Encode(uint64_t begin, uint64_t count) {
  if (gradient_ == nullptr || begin > size_ || count > size_ - begin) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode values [", begin, ", ",
                                                   begin + count, ") of a gradient of ", size_,
                                                   gradient_ == nullptr ? " not set yet" : ""));
  }
  EncodedValues encoded;
  encoded.header = DescribeEncoded(compression_, count);
  absl::Status status;
  encoded.payload = PooledSlice(encoded.header.payload_bytes(),
                                [&](char* out) { status = EncodeRange(begin, count, out); });
  if (!status.ok()) return status;
  return encoded;
}

absl::Status BackendGradientEncoder::EncodeRange(uint64_t begin, uint64_t count, char* out) {
  if (count == 0) return absl::OkStatus();
  const float* values = gradient_ + begin;
  switch (compression_.encoding) {
    case v1::ENCODING_F16:
      return backend_->EncodeHalf(values, count, out);
    case v1::ENCODING_INT8_BLOCK:
      return backend_->EncodeInt8Blocks(values, count, compression_.block_size, out);
    case v1::ENCODING_TOPK:
      return backend_->EncodeTopk(values, residual_.data() + begin, count,
                                  TopkCount(count, compression_.topk_ratio), out);
    case v1::ENCODING_ONEBIT:
      return backend_->EncodeOneBit(values, residual_.data() + begin, count,
                                    compression_.block_size, out);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("no encoder for ", v1::Encoding_Name(compression_.encoding)));
  }
}

}  // namespace ps
