// Chooses the compute device a worker trains on from --device=auto|cuda|cpu, and creates the
// ComputeBackend for that choice.
#ifndef PS_WORKER_COMPUTE_DEVICE_H_
#define PS_WORKER_COMPUTE_DEVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/compute/compute_backend.h"

namespace ps {

enum class DeviceKind { kCpu, kCuda };

struct DeviceChoice {
  DeviceKind kind = DeviceKind::kCpu;
  // Human-readable: the GPU's name, or why the CPU was chosen.
  std::string description;
};

// "cpu" -> CPU. "cuda" -> the GPU, or FailedPrecondition saying why none is usable. "auto" -> the
// GPU when usable, else the CPU with a description of the fallback (the caller logs it).
// Errors: InvalidArgument for any other value.
absl::StatusOr<DeviceChoice> ChooseDevice(absl::string_view requested);

const char* DeviceKindName(DeviceKind kind);

// The backend for `choice`: CPU -> CreateCpuBackend(cpu_threads) (0 keeps OpenBLAS's default);
// CUDA -> CreateCudaBackend(), whose errors it returns (FailedPrecondition in a CPU-only build).
absl::StatusOr<std::unique_ptr<ComputeBackend>> CreateComputeBackend(const DeviceChoice& choice,
                                                                     int cpu_threads);

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_DEVICE_H_
