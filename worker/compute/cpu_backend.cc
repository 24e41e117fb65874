#include "worker/compute/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/codec/encoder.h"

namespace ps {
namespace {

class CpuBackend final : public ComputeBackend {
 public:
  explicit CpuBackend(int threads) {
    if (threads > 0) openblas_set_num_threads(threads);
  }

  std::string name() const override {
    return absl::StrCat("cpu (OpenBLAS, ", openblas_get_num_threads(), " threads)");
  }

  absl::Status Gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
                    const float* a, const float* b, float beta, float* c) override {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                transpose_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
                transpose_a ? m : k, b, transpose_b ? k : n, beta, c, n);
    return absl::OkStatus();
  }

  absl::Status AddBias(float* z, const float* bias, int rows, int cols) override {
    for (int r = 0; r < rows; ++r) {
      float* row = z + static_cast<size_t>(r) * cols;
      for (int c = 0; c < cols; ++c) row[c] += bias[c];
    }
    return absl::OkStatus();
  }

  absl::Status ColumnSums(const float* m, int rows, int cols, float* sums) override {
    std::fill(sums, sums + cols, 0.0f);
    for (int r = 0; r < rows; ++r) {
      const float* row = m + static_cast<size_t>(r) * cols;
      for (int c = 0; c < cols; ++c) sums[c] += row[c];
    }
    return absl::OkStatus();
  }

  absl::Status Relu(float* x, int n) override {
    for (int i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
    return absl::OkStatus();
  }

  absl::Status ReluBackward(const float* activation, float* gradient, int n) override {
    for (int i = 0; i < n; ++i) {
      if (activation[i] <= 0.0f) gradient[i] = 0.0f;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<BatchLoss> SoftmaxCrossEntropy(const float* logits, const int32_t* labels,
                                                int rows, int classes, float gradient_scale,
                                                float* gradient) override {
    BatchLoss result;
    for (int r = 0; r < rows; ++r) {
      const float* row = logits + static_cast<size_t>(r) * classes;
      const int label = labels[r];
      if (label < 0 || label >= classes) {
        return absl::InvalidArgumentError(
            absl::StrCat("label ", label, " of row ", r, " is outside [0, ", classes, ")"));
      }
      const int predicted = static_cast<int>(std::max_element(row, row + classes) - row);
      result.correct += predicted == label;
      // Shifted by the maximum so exp() cannot overflow.
      const float max_logit = row[predicted];
      double denominator = 0;
      for (int c = 0; c < classes; ++c) denominator += std::exp(double{row[c]} - max_logit);
      result.loss_sum += std::log(denominator) - (double{row[label]} - max_logit);
      if (gradient != nullptr) {
        float* out = gradient + static_cast<size_t>(r) * classes;
        for (int c = 0; c < classes; ++c) {
          const double probability = std::exp(double{row[c]} - max_logit) / denominator;
          out[c] = gradient_scale * static_cast<float>(probability - (c == label ? 1.0 : 0.0));
        }
      }
    }
    return result;
  }

  absl::Status EncodeHalf(const float* values, size_t count, char* out) override {
    return EncodeFinite(values, count, [&](absl::Span<const float> span) {
      ps::EncodeHalf(span, out);
    });
  }

  absl::Status EncodeInt8Blocks(const float* values, size_t count, uint32_t block_size,
                                char* out) override {
    return EncodeFinite(values, count, [&](absl::Span<const float> span) {
      ps::EncodeInt8Blocks(span, block_size, out);
    });
  }

  absl::Status EncodeTopk(const float* values, float* residual, size_t count, size_t k,
                          char* out) override {
    return EncodeFinite(values, count, [&](absl::Span<const float> span) {
      ps::EncodeTopk(span, absl::MakeSpan(residual, count), k, out);
    });
  }

  absl::Status EncodeOneBit(const float* values, float* residual, size_t count, uint32_t block_size,
                            char* out) override {
    return EncodeFinite(values, count, [&](absl::Span<const float> span) {
      ps::EncodeOneBit(span, absl::MakeSpan(residual, count), block_size, out);
    });
  }

 protected:
  absl::StatusOr<void*> AllocateBytes(size_t bytes) override {
    // 64-byte alignment suits AVX-512 loads; aligned_alloc wants a multiple of the alignment.
    void* memory = std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
    if (memory == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", bytes, " bytes"));
    }
    return memory;
  }
  void (*release_function() const)(void*) override { return &std::free; }
  // Host and "device" memory are the same thing here.
  absl::StatusOr<void*> AllocateHostBytes(size_t bytes) override { return AllocateBytes(bytes); }
  void (*host_release_function() const)(void*) override { return &std::free; }
  absl::Status CopyToDevice(const void* host, void* device, size_t bytes) override {
    std::memcpy(device, host, bytes);
    return absl::OkStatus();
  }
  absl::Status CopyToHost(const void* device, void* host, size_t bytes) override {
    std::memcpy(host, device, bytes);
    return absl::OkStatus();
  }

 private:
  // Runs `encode` on the `count` values at `values` once they are known to be finite (the codecs
  // assume it; top-k's selection would misorder a NaN).
  template <typename Encode>
  static absl::Status EncodeFinite(const float* values, size_t count, Encode&& encode) {
    const absl::Span<const float> span(values, count);
    if (absl::Status finite = CheckFiniteGradient(span); !finite.ok()) return finite;
    encode(span);
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<ComputeBackend> CreateCpuBackend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace ps
