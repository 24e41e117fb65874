// The CPU backend against direct double-precision evaluations of each operation.
#include "worker/compute/cpu_backend.h"

#include <cmath>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// Element (r, c) of a row-major matrix stored transposed or not.
float At(const std::vector<float>& m, bool transposed, int rows, int cols, int r, int c) {
  return transposed ? m[static_cast<size_t>(c) * rows + r] : m[static_cast<size_t>(r) * cols + c];
}

std::vector<float> Sequence(size_t n, float scale) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = scale * static_cast<float>((i * 7919) % 23) - 1.0f;
  return values;
}

TEST(CpuBackendTest, GemmMatchesTheDefinitionForEveryTransposition) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  const int m = 5, n = 3, k = 4;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const std::vector<float> a = Sequence(m * k, 0.1f), b = Sequence(k * n, 0.07f);
      std::vector<float> c = Sequence(m * n, 0.03f);
      std::vector<double> expected(m * n);
      for (int r = 0; r < m; ++r) {
        for (int col = 0; col < n; ++col) {
          double sum = 0;
          for (int i = 0; i < k; ++i) {
            sum += double{At(a, ta, m, k, r, i)} * At(b, tb, k, n, i, col);
          }
          expected[r * n + col] = 2.0 * sum + 0.5 * c[r * n + col];
        }
      }
      ASSERT_TRUE(backend->Gemm(ta, tb, m, n, k, 2.0f, a.data(), b.data(), 0.5f, c.data()).ok());
      for (int i = 0; i < m * n; ++i) {
        EXPECT_NEAR(c[i], expected[i], 1e-5) << "transpose_a=" << ta << " transpose_b=" << tb;
      }
    }
  }
}

TEST(CpuBackendTest, BiasReluAndColumnSums) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  std::vector<float> z = {1, -2, 3, -4, 5, -6};  // 2 x 3
  const std::vector<float> bias = {0.5f, 1.0f, -4.0f};
  ASSERT_TRUE(backend->AddBias(z.data(), bias.data(), 2, 3).ok());
  EXPECT_EQ(z, (std::vector<float>{1.5f, -1, -1, -3.5f, 6, -10}));
  std::vector<float> sums(3);
  ASSERT_TRUE(backend->ColumnSums(z.data(), 2, 3, sums.data()).ok());
  EXPECT_EQ(sums, (std::vector<float>{-2, 5, -11}));
  ASSERT_TRUE(backend->Relu(z.data(), 6).ok());
  EXPECT_EQ(z, (std::vector<float>{1.5f, 0, 0, 0, 6, 0}));
  std::vector<float> gradient = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(backend->ReluBackward(z.data(), gradient.data(), 6).ok());
  EXPECT_EQ(gradient, (std::vector<float>{1, 0, 0, 0, 5, 0}));
}

TEST(CpuBackendTest, SoftmaxCrossEntropyLossAccuracyAndGradient) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  // Large logits in row 1 check the overflow guard.
  const std::vector<float> logits = {1, 2, 3, 1000, 999, 0};
  const std::vector<int32_t> labels = {2, 1};
  std::vector<float> gradient(6);
  absl::StatusOr<BatchLoss> loss =
      backend->SoftmaxCrossEntropy(logits.data(), labels.data(), 2, 3, 0.5f, gradient.data());
  ASSERT_TRUE(loss.ok()) << loss.status();
  const double z0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double z1 = 1 + std::exp(-1.0) + std::exp(-1000.0);
  EXPECT_NEAR(loss->loss_sum, (std::log(z0) - 3) + (std::log(z1) + 1), 1e-6);
  EXPECT_EQ(loss->correct, 1);  // Row 0 right, row 1 predicts class 0.
  EXPECT_NEAR(gradient[2], 0.5 * (std::exp(3.0) / z0 - 1), 1e-6);
  EXPECT_NEAR(gradient[3], 0.5 * (1 / z1), 1e-6);
  EXPECT_NEAR(gradient[4], 0.5 * (std::exp(-1.0) / z1 - 1), 1e-6);
}

TEST(CpuBackendTest, SoftmaxCrossEntropyRejectsALabelOutOfRange) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  const std::vector<float> logits = {1, 2};
  const std::vector<int32_t> labels = {2};
  EXPECT_EQ(backend->SoftmaxCrossEntropy(logits.data(), labels.data(), 1, 2, 1.0f, nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CpuBackendTest, UploadAndDownloadCheckBounds) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  absl::StatusOr<DeviceArray<float>> array = backend->Allocate<float>(4);
  ASSERT_TRUE(array.ok());
  const std::vector<float> values = {1, 2, 3};
  ASSERT_TRUE(backend->Upload<float>(values, *array, 1).ok());
  EXPECT_EQ(backend->Upload<float>(values, *array, 2).code(), absl::StatusCode::kOutOfRange);
  std::vector<float> back(3);
  ASSERT_TRUE(backend->Download(*array, absl::MakeSpan(back)).ok());
  EXPECT_EQ(back[1], 1);
  EXPECT_EQ(back[2], 2);
  std::vector<float> too_many(5);
  EXPECT_EQ(backend->Download(*array, absl::MakeSpan(too_many)).code(),
            absl::StatusCode::kOutOfRange);
}

// Host arrays on the CPU are ordinary memory: the requested size, and the same buffer for every
// transfer through it.
TEST(CpuBackendTest, HostArraysAreReusableTransferBuffers) {
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  absl::StatusOr<HostArray<float>> host = backend->AllocateHost<float>(1000);
  ASSERT_TRUE(host.ok()) << host.status();
  ASSERT_NE(host->data(), nullptr);
  EXPECT_EQ(host->size(), 1000u);
  EXPECT_EQ(host->span().size(), 1000u);
  EXPECT_EQ(host->span().data(), host->data());
  float* const memory = host->data();

  absl::StatusOr<DeviceArray<float>> device = backend->Allocate<float>(1000);
  ASSERT_TRUE(device.ok());
  for (int round = 0; round < 3; ++round) {
    std::vector<float> values = Sequence(1000, 0.5f + static_cast<float>(round));
    ASSERT_TRUE(backend->Upload<float>(values, *device).ok());
    ASSERT_TRUE(backend->Download(*device, host->span()).ok());
    EXPECT_EQ(std::vector<float>(host->data(), host->data() + host->size()), values);
    // And back the other way, from the host array.
    for (float& value : host->span()) value *= 2;
    ASSERT_TRUE(backend->Upload<float>(host->span(), *device).ok());
    std::vector<float> back(1000);
    ASSERT_TRUE(backend->Download(*device, absl::MakeSpan(back)).ok());
    for (float& value : values) value *= 2;
    EXPECT_EQ(back, values);
    EXPECT_EQ(host->data(), memory);  // Reused, never reallocated.
  }

  // Empty arrays and moves.
  absl::StatusOr<HostArray<float>> empty = backend->AllocateHost<float>(0);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->size(), 0u);
  HostArray<float> moved = std::move(*host);
  EXPECT_EQ(moved.data(), memory);
  EXPECT_EQ(moved.size(), 1000u);
  // Host arrays outlive the backend that allocated them.
  backend.reset();
  moved.span()[999] = 1;
}

}  // namespace
}  // namespace ps
