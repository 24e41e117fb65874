// The MLP's analytic gradient against central finite differences of its loss, on the CPU backend.
#include "worker/model/mlp.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "worker/compute/cpu_backend.h"

namespace ps {
namespace {

std::vector<float> RandomValues(size_t n, float scale, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(n);
  for (float& value : values) value = uniform(generator);
  return values;
}

TEST(MlpTest, ParameterCountFollowsTheLayout) {
  EXPECT_EQ(MlpParameterCount({784, 256, 128, 10}),
            784u * 256 + 256 + 256u * 128 + 128 + 128u * 10 + 10);
  EXPECT_EQ(MlpParameterCount({3, 2}), 8u);
}

TEST(MlpTest, GradientMatchesFiniteDifferences) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  const std::vector<int> layers = {6, 5, 4, 3};
  const int rows = 4;
  absl::StatusOr<std::unique_ptr<Mlp>> mlp = Mlp::Create(backend.get(), layers, rows);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  std::vector<float> parameters = RandomValues(MlpParameterCount(layers), 0.8f, 1);
  const std::vector<float> features = RandomValues(rows * 6, 1.0f, 2);
  const std::vector<int32_t> labels = {0, 2, 1, 2};

  ASSERT_TRUE((*mlp)->SetParameters(parameters).ok());
  ASSERT_TRUE((*mlp)->ComputeGradient(features, labels).ok());
  std::vector<float> gradient(parameters.size());
  ASSERT_TRUE((*mlp)->DownloadGradient(absl::MakeSpan(gradient)).ok());

  // Mean loss at the current parameters with parameter i moved by delta.
  auto mean_loss = [&](size_t i, float delta) {
    const float original = parameters[i];
    parameters[i] = original + delta;
    EXPECT_TRUE((*mlp)->SetParameters(parameters).ok());
    parameters[i] = original;
    absl::StatusOr<BatchLoss> loss = (*mlp)->Evaluate(features, labels);
    EXPECT_TRUE(loss.ok());
    return loss->loss_sum / rows;
  };
  const float epsilon = 1e-3f;
  int nonzero = 0;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const double numeric = (mean_loss(i, epsilon) - mean_loss(i, -epsilon)) / (2 * epsilon);
    EXPECT_NEAR(gradient[i], numeric, 2e-3 + 2e-2 * std::abs(numeric)) << "parameter " << i;
    nonzero += std::abs(gradient[i]) > 1e-4;
  }
  // Most parameters matter for this batch, so the comparison above is not vacuous.
  EXPECT_GT(nonzero, static_cast<int>(parameters.size()) / 2);
}

TEST(MlpTest, TrainingByGradientDescentLowersTheLoss) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  const std::vector<int> layers = {4, 8, 2};
  absl::StatusOr<std::unique_ptr<Mlp>> mlp = Mlp::Create(backend.get(), layers, 16);
  ASSERT_TRUE(mlp.ok());
  std::vector<float> parameters = RandomValues(MlpParameterCount(layers), 0.5f, 3);
  // Class 1 exactly when the first feature exceeds the second.
  const std::vector<float> features = RandomValues(16 * 4, 1.0f, 4);
  std::vector<int32_t> labels(16);
  for (int r = 0; r < 16; ++r) labels[r] = features[r * 4] > features[r * 4 + 1];
  std::vector<float> gradient(parameters.size());
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    ASSERT_TRUE((*mlp)->SetParameters(parameters).ok());
    absl::StatusOr<BatchLoss> loss = (*mlp)->ComputeGradient(features, labels);
    ASSERT_TRUE(loss.ok());
    (step == 0 ? first_loss : last_loss) = loss->loss_sum;
    ASSERT_TRUE((*mlp)->DownloadGradient(absl::MakeSpan(gradient)).ok());
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i] -= 0.5f * gradient[i];
  }
  EXPECT_LT(last_loss, first_loss * 0.3);
}

TEST(MlpTest, LayerDoneCallbackReportsEachLayerInBackwardOrderWithFinalValues) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  const std::vector<int> layers = {6, 5, 4, 3};
  const int rows = 4;
  absl::StatusOr<std::unique_ptr<Mlp>> mlp = Mlp::Create(backend.get(), layers, rows);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  const std::vector<float> parameters = RandomValues(MlpParameterCount(layers), 0.8f, 5);
  const std::vector<float> features = RandomValues(rows * 6, 1.0f, 6);
  const std::vector<int32_t> labels = {2, 0, 1, 1};
  ASSERT_TRUE((*mlp)->SetParameters(parameters).ok());

  // Without the callback: the reference gradient.
  absl::StatusOr<BatchLoss> plain = (*mlp)->ComputeGradient(features, labels);
  ASSERT_TRUE(plain.ok()) << plain.status();
  std::vector<float> expected(parameters.size());
  ASSERT_TRUE((*mlp)->DownloadGradient(absl::MakeSpan(expected)).ok());

  // With it: each reported range, downloaded when reported, already holds its final values.
  // Poison the gradient first so that a range reported too early cannot match by accident.
  ASSERT_TRUE(backend
                  ->Upload<float>(std::vector<float>(parameters.size(), -12345.0f),
                                  (*mlp)->gradient())
                  .ok());
  std::vector<std::pair<uint64_t, uint64_t>> reported;
  std::vector<float> seen(parameters.size(), 0.0f);
  absl::StatusOr<BatchLoss> with_callback = (*mlp)->ComputeGradient(
      features, labels, [&](uint64_t begin, uint64_t count) {
        reported.emplace_back(begin, count);
        return backend->Download((*mlp)->gradient(), absl::MakeSpan(seen).subspan(begin, count),
                                 begin);
      });
  ASSERT_TRUE(with_callback.ok()) << with_callback.status();
  EXPECT_EQ(with_callback->loss_sum, plain->loss_sum);
  EXPECT_EQ(with_callback->correct, plain->correct);
  // Layer 3: 4x3 weights + 3 biases from 30 + 5 + 20 + 4 = 59; layer 2: 5x4 + 4 from 35;
  // layer 1: 6x5 + 5 from 0.
  const std::vector<std::pair<uint64_t, uint64_t>> layer_ranges = {{59, 15}, {35, 24}, {0, 35}};
  EXPECT_EQ(reported, layer_ranges);
  EXPECT_EQ(seen, expected) << "each range was final when reported";
  std::vector<float> gradient(parameters.size());
  ASSERT_TRUE((*mlp)->DownloadGradient(absl::MakeSpan(gradient)).ok());
  EXPECT_EQ(gradient, expected) << "the callback changes nothing computed";

  // A callback's error stops the pass there.
  int calls = 0;
  absl::StatusOr<BatchLoss> failed = (*mlp)->ComputeGradient(
      features, labels, [&](uint64_t, uint64_t) {
        ++calls;
        return absl::UnavailableError("exchange failed");
      });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 1);
}

TEST(MlpTest, RejectsBadShapesAndBatches) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  EXPECT_EQ(Mlp::Create(backend.get(), {4}, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Mlp::Create(backend.get(), {4, 0, 2}, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<Mlp>> mlp = Mlp::Create(backend.get(), {4, 2}, 2);
  ASSERT_TRUE(mlp.ok());
  const std::vector<float> too_few(3);
  EXPECT_EQ((*mlp)->SetParameters(too_few).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*mlp)->SetParameters(std::vector<float>(10)).ok());
  const std::vector<float> features(12);
  EXPECT_EQ((*mlp)->ComputeGradient(features, std::vector<int32_t>{0, 1, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);  // 3 rows > max_batch 2.
  EXPECT_EQ((*mlp)->ComputeGradient(absl::MakeSpan(features).subspan(0, 8),
                                    std::vector<int32_t>{0, 5})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);  // Label 5 of 2 classes.
}

}  // namespace
}  // namespace ps
