#include "worker/compute/device.h"

#include "gtest/gtest.h"
#include "worker/compute/cuda/cuda_probe.h"

namespace ps {
namespace {

TEST(ChooseDeviceTest, CpuIsAlwaysAvailable) {
  const auto choice = ChooseDevice("cpu");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->kind, DeviceKind::kCpu);
}

TEST(ChooseDeviceTest, RejectsUnknownDevice) {
  EXPECT_EQ(ChooseDevice("tpu").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChooseDeviceTest, AutoAndCudaFollowTheProbe) {
  const CudaAvailability cuda = ProbeCuda();
  const auto automatic = ChooseDevice("auto");
  ASSERT_TRUE(automatic.ok());
  const auto forced = ChooseDevice("cuda");
  if (cuda.usable) {
    EXPECT_EQ(automatic->kind, DeviceKind::kCuda);
    ASSERT_TRUE(forced.ok());
    EXPECT_EQ(forced->kind, DeviceKind::kCuda);
  } else {
    EXPECT_EQ(automatic->kind, DeviceKind::kCpu);
    EXPECT_NE(automatic->description.find(cuda.detail), std::string::npos)
        << "the fallback must say why: " << automatic->description;
    EXPECT_EQ(forced.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(CreateComputeBackendTest, CpuChoiceGivesTheCpuBackend) {
  const auto backend = CreateComputeBackend(DeviceChoice{DeviceKind::kCpu, "test"}, 1);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->name().rfind("cpu", 0), 0u) << (*backend)->name();
}

TEST(CreateComputeBackendTest, CudaChoiceFollowsTheProbe) {
  const CudaAvailability cuda = ProbeCuda();
  const auto backend = CreateComputeBackend(DeviceChoice{DeviceKind::kCuda, "test"}, 1);
  if (cuda.usable) {
    ASSERT_TRUE(backend.ok()) << backend.status();
    EXPECT_EQ((*backend)->name().rfind("cuda", 0), 0u) << (*backend)->name();
  } else {
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition) << backend.status();
  }
}

}  // namespace
}  // namespace ps
