// The CUDA backend's host arrays (page-locked memory) as transfer buffers: a round trip through
// the device, reuse, and an Upload whose source is rewritten as soon as it returns. Skips
// without a usable CUDA device (always in CPU-only builds) unless PS_REQUIRE_CUDA=1, then
// fails. On a GPU machine it also runs standalone: bazel-bin/worker/compute/cuda/host_array_test.
#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "worker/compute/compute_backend.h"
#include "worker/compute/cuda/gpu_vs_cpu_test_util.h"

namespace ps {
namespace {

// 16 MiB: large enough that an unfinished asynchronous copy would show.
constexpr size_t kCount = size_t{4} << 20;

std::vector<float> Values(size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> distribution(-1, 1);
  std::vector<float> values(n);
  for (float& value : values) value = distribution(random);
  return values;
}

std::vector<float> Contents(const HostArray<float>& host) {
  return std::vector<float>(host.data(), host.data() + host.size());
}

using CudaHostArrayTest = GpuVsCpuTest;

TEST_F(CudaHostArrayTest, RoundTripsThroughTheDeviceAndIsReused) {
  absl::StatusOr<HostArray<float>> up = gpu_->AllocateHost<float>(kCount);
  absl::StatusOr<HostArray<float>> down = gpu_->AllocateHost<float>(kCount);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(down.ok()) << down.status();
  ASSERT_EQ(up->size(), kCount);
  ASSERT_NE(up->data(), nullptr);
  absl::StatusOr<DeviceArray<float>> device = gpu_->Allocate<float>(kCount);
  ASSERT_TRUE(device.ok()) << device.status();
  float* const down_memory = down->data();

  for (unsigned round = 0; round < 3; ++round) {
    const std::vector<float> values = Values(kCount, round);
    std::copy(values.begin(), values.end(), up->data());
    ASSERT_TRUE(gpu_->Upload<float>(up->span(), *device).ok());
    // The upload has finished reading: this must not reach the device.
    std::fill(up->data(), up->data() + kCount, -7.0f);
    ASSERT_TRUE(gpu_->Download(*device, down->span()).ok());
    EXPECT_EQ(Contents(*down), values) << "round " << round;
    EXPECT_EQ(down->data(), down_memory);
  }

  // The same transfers through the CPU backend's host arrays give the same bytes.
  absl::StatusOr<HostArray<float>> cpu_host = cpu_->AllocateHost<float>(kCount);
  ASSERT_TRUE(cpu_host.ok()) << cpu_host.status();
  const std::vector<float> values = Values(kCount, 99);
  const DeviceArray<float> cpu_device = ToBackend(*cpu_, values);
  ASSERT_TRUE(cpu_->Download(cpu_device, cpu_host->span()).ok());
  ASSERT_TRUE(gpu_->Upload<float>(cpu_host->span(), *device).ok());
  ASSERT_TRUE(gpu_->Download(*device, down->span()).ok());
  EXPECT_EQ(Contents(*down), values);

  // Host arrays outlive the backend that allocated them.
  gpu_.reset();
}

TEST_F(CudaHostArrayTest, AnImpossibleHostAllocationIsResourceExhausted) {
  const absl::StatusOr<HostArray<char>> huge = gpu_->AllocateHost<char>(size_t{1} << 50);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status();
  EXPECT_NE(huge.status().message().find("cudaMallocHost"), absl::string_view::npos)
      << huge.status();
}

}  // namespace
}  // namespace ps
