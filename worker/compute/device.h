// Chooses the compute device a worker trains on from --device=auto|cuda|cpu.
#ifndef PS_WORKER_COMPUTE_DEVICE_H_
#define PS_WORKER_COMPUTE_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_DEVICE_H_
