#include <cuda_runtime.h>

#include <string>

#include "worker/compute/cuda/cuda_probe.h"

namespace ps {

CudaAvailability ProbeCuda() {
  CudaAvailability availability;
  const cudaError_t count_error = cudaGetDeviceCount(&availability.device_count);
  if (count_error != cudaSuccess) {
    availability.device_count = 0;
    availability.detail = cudaGetErrorString(count_error);
    return availability;
  }
  if (availability.device_count == 0) {
    availability.detail = "no CUDA device found";
    return availability;
  }
  cudaDeviceProp properties;
  const cudaError_t property_error = cudaGetDeviceProperties(&properties, 0);
  if (property_error != cudaSuccess) {
    availability.detail = cudaGetErrorString(property_error);
    return availability;
  }
  availability.usable = true;
  availability.detail = std::string(properties.name) + " (sm_" + std::to_string(properties.major) +
                        std::to_string(properties.minor) + ", " +
                        std::to_string(properties.totalGlobalMem >> 20) + " MiB)";
  return availability;
}

}  // namespace ps
