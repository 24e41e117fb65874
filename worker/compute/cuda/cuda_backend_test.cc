// The CUDA backend against the CPU backend: every operation runs on both with the same seeded
// random inputs. Skips when no usable CUDA device exists (always in CPU-only builds). On a GPU
// machine it also runs standalone: bazel-bin/worker/compute/cuda/cuda_backend_test.
//
// Tolerances (the two backends sum in different orders, never in lower precision):
//   Gemm:                1e-4 of the magnitude of what each element sums,
//                        |alpha| * sum_i |op(A)[r][i] * op(B)[i][c]| + |beta * C[r][c]|.
//   ColumnSums:          1e-5 of the sum of the magnitudes in the column.
//   AddBias, Relu, ReluBackward: exact (one float operation per element on both).
//   SoftmaxCrossEntropy: loss sum 1e-4 relative, correct count exact, gradient 1e-5 absolute.
#include "worker/compute/cuda/cuda_backend.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "worker/compute/compute_backend.h"
#include "worker/compute/cpu_backend.h"
#include "worker/compute/cuda/gpu_vs_cpu_test_util.h"

namespace ps {
namespace {

std::vector<float> RandomValues(size_t n, std::mt19937& random, float low = -1, float high = 1) {
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(n);
  for (float& value : values) value = distribution(random);
  return values;
}

// Element (r, c) of a row-major matrix stored transposed or not.
float At(const std::vector<float>& m, bool transposed, int rows, int cols, int r, int c) {
  return transposed ? m[static_cast<size_t>(c) * rows + r] : m[static_cast<size_t>(r) * cols + c];
}

class CudaBackendTest : public GpuVsCpuTest {
 protected:
  // C after Gemm on `backend` with copies of the inputs.
  static std::vector<float> Gemm(ComputeBackend& backend, bool transpose_a, bool transpose_b, int m,
                                 int n, int k, float alpha, const std::vector<float>& a,
                                 const std::vector<float>& b, float beta,
                                 const std::vector<float>& c) {
    const DeviceArray<float> device_a = ToBackend(backend, a);
    const DeviceArray<float> device_b = ToBackend(backend, b);
    const DeviceArray<float> device_c = ToBackend(backend, c);
    const absl::Status status =
        backend.Gemm(transpose_a, transpose_b, m, n, k, alpha, device_a.data(), device_b.data(),
                     beta, device_c.data());
    EXPECT_TRUE(status.ok()) << backend.name() << ": " << status;
    return ToHost(backend, device_c);
  }

  static absl::StatusOr<BatchLoss> Softmax(ComputeBackend& backend,
                                           const std::vector<float>& logits,
                                           const std::vector<int32_t>& labels, int classes,
                                           float gradient_scale, std::vector<float>* gradient) {
    const DeviceArray<float> device_logits = ToBackend(backend, logits);
    const DeviceArray<int32_t> device_labels = ToBackend(backend, labels);
    DeviceArray<float> device_gradient;
    if (gradient != nullptr)
      device_gradient = ToBackend(backend, std::vector<float>(logits.size()));
    absl::StatusOr<BatchLoss> loss = backend.SoftmaxCrossEntropy(
        device_logits.data(), device_labels.data(), static_cast<int>(labels.size()), classes,
        gradient_scale, device_gradient.data());
    if (loss.ok() && gradient != nullptr) *gradient = ToHost(backend, device_gradient);
    return loss;
  }

  std::mt19937 random_{20240607};
};

TEST_F(CudaBackendTest, NameSaysCudaAndTheDevice) {
  EXPECT_EQ(gpu_->name().rfind("cuda (", 0), 0u) << gpu_->name();
  EXPECT_NE(gpu_->name().find("sm_"), std::string::npos) << gpu_->name();
}

TEST_F(CudaBackendTest, GemmMatchesTheCpuForEveryTranspositionAndSize) {
  struct Shape {
    int m, n, k;
  };
  for (const Shape shape :
       {Shape{64, 256, 784}, Shape{7, 5, 3}, Shape{1, 1, 1}, Shape{33, 1, 70}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        const int m = shape.m, n = shape.n, k = shape.k;
        const float alpha = 1.5f, beta = 0.5f;
        const std::vector<float> a = RandomValues(static_cast<size_t>(m) * k, random_);
        const std::vector<float> b = RandomValues(static_cast<size_t>(k) * n, random_);
        const std::vector<float> c = RandomValues(static_cast<size_t>(m) * n, random_);
        const std::vector<float> on_gpu = Gemm(*gpu_, ta, tb, m, n, k, alpha, a, b, beta, c);
        const std::vector<float> on_cpu = Gemm(*cpu_, ta, tb, m, n, k, alpha, a, b, beta, c);
        ASSERT_EQ(on_gpu.size(), on_cpu.size());
        int mismatches = 0;
        for (int r = 0; r < m; ++r) {
          for (int col = 0; col < n; ++col) {
            double magnitude = 0;
            for (int i = 0; i < k; ++i) {
              magnitude += std::fabs(double{At(a, ta, m, k, r, i)} * At(b, tb, k, n, i, col));
            }
            const size_t index = static_cast<size_t>(r) * n + col;
            magnitude = std::fabs(alpha) * magnitude + std::fabs(beta * c[index]);
            if (std::fabs(double{on_gpu[index]} - on_cpu[index]) > 1e-4 * magnitude &&
                ++mismatches <= 5) {
              ADD_FAILURE() << "C[" << r << "][" << col << "] gpu " << on_gpu[index] << " cpu "
                            << on_cpu[index] << " (magnitude " << magnitude << ") for m=" << m
                            << " n=" << n << " k=" << k << " transpose_a=" << ta
                            << " transpose_b=" << tb;
            }
          }
        }
        EXPECT_EQ(mismatches, 0);
      }
    }
  }
}

TEST_F(CudaBackendTest, AddBiasAndColumnSumsMatchTheCpu) {
  struct Shape {
    int rows, cols;
  };
  for (const Shape shape : {Shape{64, 256}, Shape{7, 5}, Shape{1000, 10}, Shape{3, 1000}}) {
    const size_t total = static_cast<size_t>(shape.rows) * shape.cols;
    const std::vector<float> z = RandomValues(total, random_);
    const std::vector<float> bias = RandomValues(shape.cols, random_);
    std::vector<float> results[2];
    std::vector<float> sums[2];
    ComputeBackend* backends[2] = {gpu_.get(), cpu_.get()};
    for (int i = 0; i < 2; ++i) {
      ComputeBackend& backend = *backends[i];
      const DeviceArray<float> device_z = ToBackend(backend, z);
      const DeviceArray<float> device_bias = ToBackend(backend, bias);
      const DeviceArray<float> device_sums = ToBackend(backend, std::vector<float>(shape.cols));
      ASSERT_TRUE(
          backend.AddBias(device_z.data(), device_bias.data(), shape.rows, shape.cols).ok());
      ASSERT_TRUE(
          backend.ColumnSums(device_z.data(), shape.rows, shape.cols, device_sums.data()).ok());
      results[i] = ToHost(backend, device_z);
      sums[i] = ToHost(backend, device_sums);
    }
    EXPECT_EQ(results[0], results[1]) << shape.rows << " x " << shape.cols;
    for (int c = 0; c < shape.cols; ++c) {
      double magnitude = 0;
      for (int r = 0; r < shape.rows; ++r) {
        magnitude += std::fabs(results[1][static_cast<size_t>(r) * shape.cols + c]);
      }
      EXPECT_NEAR(sums[0][c], sums[1][c], 1e-5 * magnitude)
          << "column " << c << " of " << shape.rows << " x " << shape.cols;
    }
  }
}

TEST_F(CudaBackendTest, ReluAndReluBackwardMatchTheCpu) {
  // Past 4096 blocks of 256 threads, so the grid-stride loops take more than one step.
  for (const int n : {1, 37, 64 * 256, (1 << 21) + 5}) {
    std::vector<float> x = RandomValues(n, random_);
    x[0] = 0.0f;  // ReluBackward zeroes where the activation is exactly 0 too.
    const std::vector<float> gradient = RandomValues(n, random_);
    std::vector<float> activations[2];
    std::vector<float> gradients[2];
    ComputeBackend* backends[2] = {gpu_.get(), cpu_.get()};
    for (int i = 0; i < 2; ++i) {
      ComputeBackend& backend = *backends[i];
      const DeviceArray<float> device_x = ToBackend(backend, x);
      const DeviceArray<float> device_gradient = ToBackend(backend, gradient);
      ASSERT_TRUE(backend.Relu(device_x.data(), n).ok());
      ASSERT_TRUE(backend.ReluBackward(device_x.data(), device_gradient.data(), n).ok());
      activations[i] = ToHost(backend, device_x);
      gradients[i] = ToHost(backend, device_gradient);
    }
    EXPECT_EQ(activations[0], activations[1]) << "n=" << n;
    EXPECT_EQ(gradients[0], gradients[1]) << "n=" << n;
  }
}

TEST_F(CudaBackendTest, SoftmaxCrossEntropyMatchesTheCpu) {
  struct Shape {
    int rows, classes;
  };
  // 10 classes is the MNIST case; 3 leaves most of a warp idle; 100 makes lanes stride.
  for (const Shape shape : {Shape{1000, 10}, Shape{37, 3}, Shape{64, 100}, Shape{1, 1}}) {
    const size_t total = static_cast<size_t>(shape.rows) * shape.classes;
    std::vector<float> logits = RandomValues(total, random_, -4, 4);
    // Row 0 ties everywhere (the prediction is class 0); row 1, if any, needs the max shift.
    for (int c = 0; c < shape.classes; ++c) logits[c] = 0.5f;
    if (shape.rows > 1) {
      for (int c = 0; c < shape.classes; ++c) logits[shape.classes + c] = 1000.0f - c;
    }
    std::uniform_int_distribution<int32_t> label_distribution(0, shape.classes - 1);
    std::vector<int32_t> labels(shape.rows);
    for (int32_t& label : labels) label = label_distribution(random_);
    labels[0] = 0;
    const float scale = 1.0f / shape.rows;

    std::vector<float> gpu_gradient, cpu_gradient;
    const absl::StatusOr<BatchLoss> on_gpu =
        Softmax(*gpu_, logits, labels, shape.classes, scale, &gpu_gradient);
    const absl::StatusOr<BatchLoss> on_cpu =
        Softmax(*cpu_, logits, labels, shape.classes, scale, &cpu_gradient);
    ASSERT_TRUE(on_gpu.ok()) << on_gpu.status();
    ASSERT_TRUE(on_cpu.ok()) << on_cpu.status();
    EXPECT_NEAR(on_gpu->loss_sum, on_cpu->loss_sum, 1e-4 * std::fabs(on_cpu->loss_sum))
        << shape.rows << " x " << shape.classes;
    EXPECT_EQ(on_gpu->correct, on_cpu->correct) << shape.rows << " x " << shape.classes;
    ASSERT_EQ(gpu_gradient.size(), cpu_gradient.size());
    for (size_t i = 0; i < total; ++i) {
      ASSERT_NEAR(gpu_gradient[i], cpu_gradient[i], 1e-5)
          << "element " << i << " of " << shape.rows << " x " << shape.classes;
    }

    // Without a gradient the loss and the count are the same.
    const absl::StatusOr<BatchLoss> loss_only =
        Softmax(*gpu_, logits, labels, shape.classes, scale, nullptr);
    ASSERT_TRUE(loss_only.ok()) << loss_only.status();
    EXPECT_NEAR(loss_only->loss_sum, on_cpu->loss_sum, 1e-4 * std::fabs(on_cpu->loss_sum));
    EXPECT_EQ(loss_only->correct, on_cpu->correct);
  }
}

TEST_F(CudaBackendTest, SoftmaxCrossEntropyRejectsALabelOutOfRangeAndKeepsWorking) {
  const int rows = 20, classes = 10;
  const std::vector<float> logits = RandomValues(rows * classes, random_);
  std::vector<int32_t> labels(rows, 3);
  labels[9] = -1;
  labels[5] = classes;
  std::vector<float> gradient;
  const absl::StatusOr<BatchLoss> rejected =
      Softmax(*gpu_, logits, labels, classes, 1.0f, &gradient);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument) << rejected.status();
  EXPECT_NE(rejected.status().message().find("label 10 of row 5"), absl::string_view::npos)
      << rejected.status();

  labels[5] = labels[9] = 3;
  const absl::StatusOr<BatchLoss> accepted =
      Softmax(*gpu_, logits, labels, classes, 1.0f, &gradient);
  EXPECT_TRUE(accepted.ok()) << accepted.status();
}

TEST_F(CudaBackendTest, UploadAndDownloadRoundTripAndCheckBounds) {
  absl::StatusOr<DeviceArray<float>> array = gpu_->Allocate<float>(1000);
  ASSERT_TRUE(array.ok()) << array.status();
  const std::vector<float> values = RandomValues(600, random_);
  ASSERT_TRUE(gpu_->Upload<float>(values, *array, 400).ok());
  ASSERT_TRUE(gpu_->Upload<float>(absl::MakeConstSpan(values).subspan(0, 400), *array, 0).ok());
  std::vector<float> back(1000);
  ASSERT_TRUE(gpu_->Download(*array, absl::MakeSpan(back)).ok());
  EXPECT_EQ(std::vector<float>(back.begin(), back.begin() + 400),
            std::vector<float>(values.begin(), values.begin() + 400));
  EXPECT_EQ(std::vector<float>(back.begin() + 400, back.end()), values);
  EXPECT_EQ(gpu_->Upload<float>(values, *array, 401).code(), absl::StatusCode::kOutOfRange);
  std::vector<float> too_many(1001);
  EXPECT_EQ(gpu_->Download(*array, absl::MakeSpan(too_many)).code(), absl::StatusCode::kOutOfRange);

  // Arrays outlive the backend that allocated them.
  gpu_.reset();
}

// cudaErrorMemoryAllocation maps to ResourceExhausted; the failure must not leak into the next
// kernel launch's error check.
TEST_F(CudaBackendTest, AnImpossibleAllocationIsResourceExhausted) {
  const absl::StatusOr<DeviceArray<char>> huge = gpu_->Allocate<char>(size_t{1} << 50);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status();
  EXPECT_NE(huge.status().message().find("cudaMalloc"), absl::string_view::npos) << huge.status();

  const std::vector<float> x = {-1, 2, -3};
  const DeviceArray<float> device_x = ToBackend(*gpu_, x);
  ASSERT_TRUE(gpu_->Relu(device_x.data(), 3).ok());
  EXPECT_EQ(ToHost(*gpu_, device_x), (std::vector<float>{0, 2, 0}));
}

TEST_F(CudaBackendTest, NegativeSizesAreInvalidArguments) {
  EXPECT_EQ(gpu_->Relu(nullptr, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gpu_->Gemm(false, false, 2, 2, -2, 1, nullptr, nullptr, 0, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gpu_->SoftmaxCrossEntropy(nullptr, nullptr, -1, 10, 1, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
