// The CUDA encoders against the CPU encoder (through each backend's Encode* operations) on the
// same seeded inputs. Skips when no usable CUDA device exists (always in CPU-only builds); on a GPU
// machine it also runs standalone: bazel-bin/worker/compute/cuda/codec_kernels_test.
//
// Expected agreement: F16, INT8_BLOCK and TOPK payloads byte for byte, and TOPK's residual
// exactly (the same float operations per element). ONEBIT's scales are sums taken in another
// order: within 1e-5 relative, with the same sign bits and residuals within 1e-5 of the scale.
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/codec/codec_test_util.h"
#include "common/codec/compression.h"
#include "gtest/gtest.h"
#include "worker/compute/compute_backend.h"
#include "worker/compute/cuda/gpu_vs_cpu_test_util.h"
#include "worker/compute/encode_on_backend.h"

namespace ps {
namespace {

// Gaussian values with some exact ties and a few beyond the half range.
std::vector<float> Gradient(size_t n, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = normal(random);
    if (i % 97 == 0) values[i] = 0.02f;  // Ties for top-k to break by index.
    if (i % 1009 == 0) values[i] = -1e5f;
  }
  return values;
}

class CodecKernelsTest : public GpuVsCpuTest {
 protected:
  // Encodes `steps` gradients with `codec` on `backend`, carrying the residual on the backend;
  // returns every payload and the final residual.
  static std::pair<std::vector<std::string>, std::vector<float>> Run(ComputeBackend& backend,
                                                                     const char* codec, size_t n,
                                                                     int steps) {
    const Compression compression = *ParseCompression(codec);
    DeviceArray<float> residual = ToBackend(backend, std::vector<float>(n, 0.0f));
    std::vector<std::string> payloads;
    for (int step = 0; step < steps; ++step) {
      const DeviceArray<float> gradient = ToBackend(backend, Gradient(n, 7 + step));
      std::string out(EncodedBytes(compression, n), '\0');
      const absl::Status status =
          EncodeOnBackend(backend, compression, gradient.data(), residual.data(), n, out.data());
      EXPECT_TRUE(status.ok()) << backend.name() << " " << codec << ": " << status;
      payloads.push_back(std::move(out));
    }
    return {payloads, ToHost(backend, residual)};
  }
};

TEST_F(CodecKernelsTest, HalfInt8AndTopkMatchTheCpuEncoderByteForByte) {
  for (size_t n : {1, 255, 256, 1000, 100003}) {
    for (const char* codec : {"fp16", "int8", "int8:7", "topk:0.01", "topk:0.3"}) {
      const auto [cpu_payloads, cpu_residual] = Run(*cpu_, codec, n, 3);
      const auto [gpu_payloads, gpu_residual] = Run(*gpu_, codec, n, 3);
      for (size_t step = 0; step < cpu_payloads.size(); ++step) {
        EXPECT_EQ(gpu_payloads[step], cpu_payloads[step])
            << codec << " n=" << n << " step " << step;
      }
      EXPECT_EQ(gpu_residual, cpu_residual) << codec << " n=" << n;
    }
  }
}

TEST_F(CodecKernelsTest, OneBitMatchesTheCpuEncoderWithinFloatRounding) {
  for (size_t n : {1, 300, 100003}) {
    for (const char* codec : {"onebit", "onebit:7"}) {
      const Compression compression = *ParseCompression(codec);
      const auto [cpu_payloads, cpu_residual] = Run(*cpu_, codec, n, 3);
      const auto [gpu_payloads, gpu_residual] = Run(*gpu_, codec, n, 3);
      for (size_t step = 0; step < cpu_payloads.size(); ++step) {
        const v1::TensorHeader header = DescribeEncoded(compression, n);
        absl::StatusOr<std::vector<float>> cpu = ValidateAndDecode(header, cpu_payloads[step], n);
        absl::StatusOr<std::vector<float>> gpu = ValidateAndDecode(header, gpu_payloads[step], n);
        ASSERT_TRUE(cpu.ok() && gpu.ok()) << cpu.status() << " " << gpu.status();
        for (size_t i = 0; i < n; ++i) {
          ASSERT_NEAR((*gpu)[i], (*cpu)[i], 1e-5f * std::fabs((*cpu)[i]) + 1e-12f)
              << codec << " n=" << n << " step " << step << " value " << i;
        }
      }
      for (size_t i = 0; i < n; ++i) {
        ASSERT_NEAR(gpu_residual[i], cpu_residual[i], 1e-5f * (1.0f + std::fabs(cpu_residual[i])))
            << codec << " n=" << n << " value " << i;
      }
    }
  }
}

TEST_F(CodecKernelsTest, NonFiniteGradientsProducePayloadsTheServerRefuses) {
  std::vector<float> values(300, 0.5f);
  values[10] = NAN;
  const DeviceArray<float> gradient = ToBackend(*gpu_, values);
  DeviceArray<float> residual = ToBackend(*gpu_, std::vector<float>(values.size(), 0.0f));
  for (const char* codec : {"fp16", "int8", "onebit"}) {
    const Compression compression = *ParseCompression(codec);
    std::string out(EncodedBytes(compression, values.size()), '\0');
    const absl::Status status = EncodeOnBackend(*gpu_, compression, gradient.data(),
                                                residual.data(), values.size(), out.data());
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(ValidateAndDecode(DescribeEncoded(compression, values.size()), out, values.size())
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << codec;
  }
}

}  // namespace
}  // namespace ps
