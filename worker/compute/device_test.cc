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

}  // namespace
}  // namespace ps
