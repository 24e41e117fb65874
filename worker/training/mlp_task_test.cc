// MlpTask's exchange protocol with its DenseParameters: each layer's gradient range is handed over
// during backward, last layer first, before the step's PushAndPull.
#include "worker/training/mlp_task.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "worker/compute/cpu_backend.h"

namespace ps {
namespace {

// Records the calls it gets; parameters stay at zero.
class RecordingParameters final : public DenseParameters {
 public:
  absl::Status Pull(absl::Span<float> values) override {
    calls.push_back("Pull");
    std::fill(values.begin(), values.end(), 0.0f);
    return absl::OkStatus();
  }
  absl::Status Push(const DeviceArray<float>&) override {
    calls.push_back("Push");
    return absl::OkStatus();
  }
  void AdvanceClock() override { calls.push_back("AdvanceClock"); }
  absl::Status GradientReady(const DeviceArray<float>& gradient, uint64_t begin,
                             uint64_t count) override {
    calls.push_back(absl::StrCat("GradientReady ", begin, " ", count, " of ", gradient.size()));
    return absl::OkStatus();
  }
  absl::Status PushAndPull(const DeviceArray<float>&, std::vector<float>*) override {
    calls.push_back("PushAndPull");
    return absl::OkStatus();
  }
  ClientStats stats() const override { return {}; }

  std::vector<std::string> calls;
};

TEST(MlpTaskTest, HandsEachLayersGradientOverDuringBackwardBeforeThePushAndPull) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  // Parameters: layer 1 [0, 35), layer 2 [35, 59), layer 3 [59, 74).
  absl::StatusOr<std::unique_ptr<Mlp>> mlp = Mlp::Create(backend.get(), {6, 5, 4, 3}, 2);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  DenseDataset data;
  data.num_examples = 4;
  data.feature_dim = 6;
  data.num_classes = 3;
  data.features.assign(4 * 6, 0.5f);
  data.labels = {0, 1, 2, 1};
  RecordingParameters parameters;
  MlpTask task(mlp->get(), &parameters, &data, &data, /*batch_size=*/2, /*seed=*/1);
  task.BeginEpoch(0);
  ASSERT_TRUE(task.Step(0).ok());
  ASSERT_TRUE(task.Step(1).ok());
  const std::vector<std::string> step = {"GradientReady 59 15 of 74", "GradientReady 35 24 of 74",
                                         "GradientReady 0 35 of 74", "PushAndPull"};
  std::vector<std::string> expected = {"Pull"};  // The first step's values.
  expected.insert(expected.end(), step.begin(), step.end());
  expected.insert(expected.end(), step.begin(), step.end());  // Then from the exchange.
  EXPECT_EQ(parameters.calls, expected);
}

}  // namespace
}  // namespace ps
