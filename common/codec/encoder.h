// The CPU encoder of every codec (the CUDA backend has its own kernels that produce the same
// bytes; see worker/compute/cuda/codec_kernels.cuh). Byte layouts: proto/types.proto, Encoding.
#ifndef PS_COMMON_CODEC_ENCODER_H_
#define PS_COMMON_CODEC_ENCODER_H_

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/codec/compression.h"

namespace ps {

// Writes the EncodedBytes(compression, values.size()) bytes encoding `values` to `out`.
// Error-feedback codecs (TOPK, ONEBIT) first add `residual` (values.size() elements) to the
// values and leave in it what the payload does not carry: afterwards
//   decode(payload) + residual == values + residual_before
// up to float rounding. Other codecs ignore `residual`, which may be empty.
//
// Top-k picks the k values of largest magnitude, the lower index first among equal magnitudes.
// INT8_BLOCK scales each block by max|v| / 127 and rounds to nearest even; ONEBIT sends each
// block's mean magnitude and one sign bit per value (set for v >= 0).
// Errors: InvalidArgument for a non-finite value or a residual of the wrong size.
absl::Status EncodeTensor(const Compression& compression, absl::Span<const float> values,
                          absl::Span<float> residual, char* out);

// The codecs one by one, for callers that checked their arguments (ComputeBackend's CPU
// implementation). REQUIRES: finite values; residual.size() == values.size(); 1 <= block_size
// <= kMaxCodecBlock; 1 <= k <= values.size() <= 2^32.
void EncodeHalf(absl::Span<const float> values, char* out);
void EncodeInt8Blocks(absl::Span<const float> values, uint32_t block_size, char* out);
void EncodeTopk(absl::Span<const float> values, absl::Span<float> residual, uint64_t k, char* out);
void EncodeOneBit(absl::Span<const float> values, absl::Span<float> residual, uint32_t block_size,
                  char* out);

// Errors: InvalidArgument naming the first value that is NaN or infinite.
absl::Status CheckFiniteGradient(absl::Span<const float> values);

}  // namespace ps

#endif  // PS_COMMON_CODEC_ENCODER_H_
