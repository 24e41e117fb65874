#include "worker/compute/device.h"

#include "absl/strings/str_cat.h"
#include "worker/compute/cpu_backend.h"
#include "worker/compute/cuda/cuda_backend.h"
#include "worker/compute/cuda/cuda_probe.h"

namespace ps {

absl::StatusOr<DeviceChoice> ChooseDevice(absl::string_view requested) {
  if (requested == "cpu") return DeviceChoice{DeviceKind::kCpu, "CPU (requested)"};
  if (requested != "cuda" && requested != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device must be auto, cuda or cpu, got '", requested, "'"));
  }
  const CudaAvailability cuda = ProbeCuda();
  if (cuda.usable) return DeviceChoice{DeviceKind::kCuda, cuda.detail};
  if (requested == "cuda") {
    return absl::FailedPreconditionError(
        absl::StrCat("--device=cuda but no usable CUDA device: ", cuda.detail));
  }
  return DeviceChoice{DeviceKind::kCpu, absl::StrCat("CPU (fell back: ", cuda.detail, ")")};
}

const char* DeviceKindName(DeviceKind kind) { return kind == DeviceKind::kCuda ? "cuda" : "cpu"; }

absl::StatusOr<std::unique_ptr<ComputeBackend>> CreateComputeBackend(const DeviceChoice& choice,
                                                                     int cpu_threads) {
  if (choice.kind == DeviceKind::kCuda) return CreateCudaBackend();
  return CreateCpuBackend(cpu_threads);
}

}  // namespace ps
