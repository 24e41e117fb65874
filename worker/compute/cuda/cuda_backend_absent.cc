#include "worker/compute/cuda/cuda_backend.h"

namespace ps {

absl::StatusOr<std::unique_ptr<ComputeBackend>> CreateCudaBackend() {
  return absl::FailedPreconditionError("built without CUDA (CUDA toolkit absent or --config=cpu)");
}

}  // namespace ps
