// Whether this process can use a CUDA GPU. Two implementations: cuda_probe.cu (CUDA build) and
// cuda_probe_absent.cc (CPU-only build). No CUDA headers here, so host code may include it.
// Safe for concurrent use.
#ifndef PS_WORKER_COMPUTE_CUDA_CUDA_PROBE_H_
#define PS_WORKER_COMPUTE_CUDA_CUDA_PROBE_H_

#include <string>

namespace ps {

struct CudaAvailability {
  // True when at least one device can be used.
  bool usable = false;
  int device_count = 0;
  // Device 0's name and compute capability when usable; otherwise why not (e.g. "CUDA driver
  // version is insufficient for CUDA runtime version", or "built without CUDA").
  std::string detail;
};

CudaAvailability ProbeCuda();

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_CUDA_CUDA_PROBE_H_
