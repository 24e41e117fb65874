#include "worker/compute/cuda/cuda_probe.h"

namespace ps {

CudaAvailability ProbeCuda() {
  CudaAvailability availability;
  availability.detail = "this build has no CUDA support (CUDA toolkit absent or --config=cpu)";
  return availability;
}

}  // namespace ps
