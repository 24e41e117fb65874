// Compresses a gradient where the model computed it (on the GPU under the CUDA backend), with the
// error-feedback residual kept there too: only the encoded bytes cross to the host. This is the
// GradientEncoder a compressed cluster table pushes through.
#ifndef PS_WORKER_TRAINING_BACKEND_GRADIENT_ENCODER_H_
#define PS_WORKER_TRAINING_BACKEND_GRADIENT_ENCODER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/codec/compression.h"
#include "worker/client/ps_client.h"
#include "worker/compute/compute_backend.h"

namespace ps {

class BackendGradientEncoder final : public GradientEncoder {
 public:
  // An encoder for gradients of `size` values in `backend` memory (which must outlive it), with a
  // zero residual for the error-feedback codecs. Errors: InvalidArgument for F32 (nothing to
  // compress); the backend's allocation errors.
  static absl::StatusOr<std::unique_ptr<BackendGradientEncoder>> Create(
      ComputeBackend* backend, const Compression& compression, uint64_t size);

  // The gradient the next Encode calls read: `size` values of backend memory.
  void set_gradient(const float* gradient) { gradient_ = gradient; }

  absl::StatusOr<EncodedValues> Encode(uint64_t begin, uint64_t count) override;

 private:
  BackendGradientEncoder(ComputeBackend* backend, const Compression& compression, uint64_t size,
                         DeviceArray<float> residual)
      : backend_(backend), compression_(compression), size_(size), residual_(std::move(residual)) {}

  ComputeBackend* const backend_;
  const Compression compression_;
  const uint64_t size_;
  // What error feedback has not sent yet; empty for the other codecs.
  DeviceArray<float> residual_;
  const float* gradient_ = nullptr;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_BACKEND_GRADIENT_ENCODER_H_
