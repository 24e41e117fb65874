// The CPU implementation of ComputeBackend: OpenBLAS SGEMM plus plain loops.
#ifndef PS_WORKER_COMPUTE_CPU_BACKEND_H_
#define PS_WORKER_COMPUTE_CPU_BACKEND_H_

#include <memory>

#include "worker/compute/compute_backend.h"

namespace ps {

// `threads` sets OpenBLAS's thread count for the whole process (it is a global setting);
// 0 keeps OpenBLAS's default (one per core).
std::unique_ptr<ComputeBackend> CreateCpuBackend(int threads = 0);

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_CPU_BACKEND_H_
