#include "worker/training/backend_gradient_encoder.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/buffer_pool.h"
#include "common/status_macros.h"
#include "worker/compute/encode_on_backend.h"

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
  encoded.payload = PooledSlice(encoded.header.payload_bytes(), [&](char* out) {
    status = EncodeOnBackend(*backend_, compression_, gradient_ + begin,
                             compression_.error_feedback() ? residual_.data() + begin : nullptr,
                             count, out);
  });
  if (!status.ok()) return status;
  return encoded;
}

}  // namespace ps
