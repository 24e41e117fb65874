// What the CUDA tests share: a fixture holding the CUDA backend and a CPU backend to compare it
// with (skipping the test when no usable GPU exists, failing it instead when the environment sets
// PS_REQUIRE_CUDA=1, as a GPU machine's checks do: `bazel test --test_env=PS_REQUIRE_CUDA=1`, or
// the variable exported before running the test binary), and copies between host vectors and a
// backend's memory.
#ifndef PS_WORKER_COMPUTE_CUDA_GPU_VS_CPU_TEST_UTIL_H_
#define PS_WORKER_COMPUTE_CUDA_GPU_VS_CPU_TEST_UTIL_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "worker/compute/compute_backend.h"
#include "worker/compute/cpu_backend.h"
#include "worker/compute/cuda/cuda_backend.h"
#include "worker/compute/cuda/cuda_probe.h"

namespace ps {

// A copy of `host` in new memory of `backend` (an empty array after a reported failure).
template <typename T>
DeviceArray<T> ToBackend(ComputeBackend& backend, const std::vector<T>& host) {
  absl::StatusOr<DeviceArray<T>> array = backend.Allocate<T>(host.size());
  EXPECT_TRUE(array.ok()) << backend.name() << ": " << array.status();
  if (!array.ok()) return DeviceArray<T>();
  const absl::Status upload = backend.Upload<T>(host, *array);
  EXPECT_TRUE(upload.ok()) << backend.name() << ": " << upload;
  return std::move(*array);
}

template <typename T>
std::vector<T> ToHost(ComputeBackend& backend, const DeviceArray<T>& array) {
  std::vector<T> host(array.size());
  const absl::Status download = backend.Download(array, absl::MakeSpan(host));
  EXPECT_TRUE(download.ok()) << backend.name() << ": " << download;
  return host;
}

class GpuVsCpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaAvailability cuda = ProbeCuda();
    if (!cuda.usable) {
      const char* required = std::getenv("PS_REQUIRE_CUDA");
      if (required != nullptr && std::string(required) == "1") {
        FAIL() << "PS_REQUIRE_CUDA=1 but no usable CUDA device: " << cuda.detail;
      }
      GTEST_SKIP() << "no usable CUDA device: " << cuda.detail;
    }
    absl::StatusOr<std::unique_ptr<ComputeBackend>> gpu = CreateCudaBackend();
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    gpu_ = std::move(*gpu);
    cpu_ = CreateCpuBackend(1);
  }

  std::unique_ptr<ComputeBackend> gpu_;
  std::unique_ptr<ComputeBackend> cpu_;
};

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_CUDA_GPU_VS_CPU_TEST_UTIL_H_
