// Runs a codec (common/codec/compression.h) through a backend's Encode* operations: the one
// place that maps a Compression to the backend call that produces its payload.
#ifndef PS_WORKER_COMPUTE_ENCODE_ON_BACKEND_H_
#define PS_WORKER_COMPUTE_ENCODE_ON_BACKEND_H_

#include <cstddef>

#include "absl/status/status.h"
#include "common/codec/compression.h"
#include "worker/compute/compute_backend.h"

namespace ps {

// Writes the EncodedBytes(compression, count) payload of `count` values at `values` (backend
// memory) to host memory `out`. Error-feedback codecs use and update `residual` (backend memory,
// `count` values; may be null for the others). Errors: InvalidArgument for F32 (nothing to
// encode), a missing residual or a bad block size; what the backend returns.
absl::Status EncodeOnBackend(ComputeBackend& backend, const Compression& compression,
                             const float* values, float* residual, size_t count, char* out);

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_ENCODE_ON_BACKEND_H_
