// The CUDA implementation of ComputeBackend: cuBLAS SGEMM plus small kernels (cuda_kernels.cuh),
// all ordered on one CUDA stream that the backend owns. Two variants: cuda_backend.cu (CUDA
// build) and cuda_backend_absent.cc (CPU-only build). No CUDA headers here, so host code may
// include it.
//
// The backend uses device 0. Its memory is plain cudaMalloc memory, its host arrays
// (AllocateHost) cudaMallocHost memory; arrays it allocated may outlive it (their release
// functions are cudaFree and cudaFreeHost). Downloads are synchronous; an Upload from page-locked
// memory waits for its copy, so the host buffer may be rewritten once it returns (from pageable
// memory the driver's staging gives that already). Gemm computes in true FP32 (cuBLAS's default
// math mode, no TF32), so results match the CPU backend to float rounding.
//
// Error mapping, once at this boundary: cudaErrorMemoryAllocation and CUBLAS_STATUS_ALLOC_FAILED
// -> ResourceExhausted; no device or a driver too old -> FailedPrecondition; a label outside
// [0, classes) in SoftmaxCrossEntropy -> InvalidArgument; every other CUDA or cuBLAS failure ->
// Internal. Messages name the failing call and CUDA's error name and string.
//
// Thread-safety: like every ComputeBackend, one thread at a time.
#ifndef PS_WORKER_COMPUTE_CUDA_CUDA_BACKEND_H_
#define PS_WORKER_COMPUTE_CUDA_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "worker/compute/compute_backend.h"

namespace ps {

// Creates the stream, the cuBLAS handle and the reduction scratch on device 0.
// Errors: FailedPrecondition when there is no usable device or the build has no CUDA support;
// ResourceExhausted or Internal when a CUDA or cuBLAS resource cannot be created.
absl::StatusOr<std::unique_ptr<ComputeBackend>> CreateCudaBackend();

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_CUDA_CUDA_BACKEND_H_
