#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "worker/compute/compute_backend.h"
#include "worker/compute/cuda/codec_kernels.cuh"
#include "worker/compute/cuda/cuda_backend.h"
#include "worker/compute/cuda/cuda_kernels.cuh"

namespace ps {
namespace {

// The one place a cudaError_t becomes a Status (mapping documented in cuda_backend.h).
absl::Status FromCuda(cudaError_t error, absl::string_view call) {
  if (error == cudaSuccess) return absl::OkStatus();
  // A failed call also sets the thread's last error; clear it so the next launch check does not
  // report this failure again (sticky errors stay, and every later call reports them).
  cudaGetLastError();
  const std::string message =
      absl::StrCat(call, ": ", cudaGetErrorName(error), ": ", cudaGetErrorString(error));
  switch (error) {
    case cudaErrorMemoryAllocation:
      return absl::ResourceExhaustedError(message);
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status FromCublas(cublasStatus_t status, absl::string_view call) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  const std::string message =
      absl::StrCat(call, ": ", cublasGetStatusName(status), ": ", cublasGetStatusString(status));
  switch (status) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

#define PS_RETURN_IF_ERROR(expr)      \
  do {                                \
    absl::Status ps_status_ = (expr); \
    if (!ps_status_.ok()) {           \
      return ps_status_;              \
    }                                 \
  } while (false)

// Errors from these releases have nobody to report to: a sticky error already failed the call
// that caused it.
struct StreamDeleter {
  void operator()(cudaStream_t stream) const { cudaStreamDestroy(stream); }
};
struct CublasDeleter {
  void operator()(cublasHandle_t handle) const { cublasDestroy(handle); }
};
struct DeviceMemoryDeleter {
  void operator()(void* memory) const { cudaFree(memory); }
};
using UniqueStream = std::unique_ptr<CUstream_st, StreamDeleter>;
using UniqueCublas = std::unique_ptr<cublasContext, CublasDeleter>;
template <typename T>
using UniqueDeviceMemory = std::unique_ptr<T, DeviceMemoryDeleter>;

// The release functions DeviceArray and HostArray call; they need no backend, so arrays may
// outlive it.
void FreeDeviceMemory(void* memory) { cudaFree(memory); }
void FreeHostMemory(void* memory) { cudaFreeHost(memory); }

absl::Status CheckSizes(absl::string_view operation, std::initializer_list<int> sizes) {
  for (const int size : sizes) {
    if (size < 0) {
      return absl::InvalidArgumentError(absl::StrCat(operation, ": negative size ", size));
    }
  }
  return absl::OkStatus();
}

class CudaBackend final : public ComputeBackend {
 public:
  static absl::StatusOr<std::unique_ptr<ComputeBackend>> Create() {
    int device_count = 0;
    PS_RETURN_IF_ERROR(FromCuda(cudaGetDeviceCount(&device_count), "cudaGetDeviceCount"));
    if (device_count == 0) return absl::FailedPreconditionError("no CUDA device found");
    PS_RETURN_IF_ERROR(FromCuda(cudaSetDevice(0), "cudaSetDevice(0)"));
    cudaDeviceProp properties;
    PS_RETURN_IF_ERROR(
        FromCuda(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties(0)"));

    cudaStream_t raw_stream = nullptr;
    PS_RETURN_IF_ERROR(FromCuda(cudaStreamCreate(&raw_stream), "cudaStreamCreate"));
    UniqueStream stream(raw_stream);

    cublasHandle_t raw_cublas = nullptr;
    PS_RETURN_IF_ERROR(FromCublas(cublasCreate(&raw_cublas), "cublasCreate"));
    UniqueCublas cublas(raw_cublas);
    PS_RETURN_IF_ERROR(FromCublas(cublasSetStream(cublas.get(), stream.get()), "cublasSetStream"));
    // Plain FP32 (no TF32 tensor cores): results stay within float rounding of the CPU backend.
    PS_RETURN_IF_ERROR(
        FromCublas(cublasSetMathMode(cublas.get(), CUBLAS_DEFAULT_MATH), "cublasSetMathMode"));

    void* raw_totals = nullptr;
    PS_RETURN_IF_ERROR(FromCuda(cudaMalloc(&raw_totals, sizeof(cuda_kernels::LossTotals)),
                                "cudaMalloc(loss totals)"));
    UniqueDeviceMemory<cuda_kernels::LossTotals> totals(
        static_cast<cuda_kernels::LossTotals*>(raw_totals));

    std::string name =
        absl::StrCat("cuda (", properties.name, ", sm_", properties.major, properties.minor, ")");
    return std::unique_ptr<ComputeBackend>(
        new CudaBackend(std::move(name), std::move(stream), std::move(cublas), std::move(totals)));
  }

  std::string name() const override { return name_; }

  absl::Status Gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
                    const float* a, const float* b, float beta, float* c) override {
    PS_RETURN_IF_ERROR(CheckSizes("Gemm", {m, n, k}));
    if (m == 0 || n == 0) return absl::OkStatus();
    // cuBLAS is column-major, and a row-major matrix read column-major is its transpose. So the
    // row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T: B goes first, m and n
    // swap, and each operand keeps its own transpose flag. Leading dimensions are the row-major
    // row lengths of the stored matrices (at least 1, as cuBLAS requires).
    const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int lda = std::max(1, transpose_a ? m : k);
    const int ldb = std::max(1, transpose_b ? k : n);
    return FromCublas(
        cublasSgemm(cublas_.get(), op_b, op_a, n, m, k, &alpha, b, ldb, a, lda, &beta, c, n),
        "cublasSgemm");
  }

  absl::Status AddBias(float* z, const float* bias, int rows, int cols) override {
    PS_RETURN_IF_ERROR(CheckSizes("AddBias", {rows, cols}));
    return FromCuda(cuda_kernels::LaunchAddBias(stream_.get(), z, bias, rows, cols),
                    "AddBias kernel launch");
  }

  absl::Status ColumnSums(const float* m, int rows, int cols, float* sums) override {
    PS_RETURN_IF_ERROR(CheckSizes("ColumnSums", {rows, cols}));
    return FromCuda(cuda_kernels::LaunchColumnSums(stream_.get(), m, rows, cols, sums),
                    "ColumnSums kernel launch");
  }

  absl::Status Relu(float* x, int n) override {
    PS_RETURN_IF_ERROR(CheckSizes("Relu", {n}));
    return FromCuda(cuda_kernels::LaunchRelu(stream_.get(), x, n), "Relu kernel launch");
  }

  absl::Status ReluBackward(const float* activation, float* gradient, int n) override {
    PS_RETURN_IF_ERROR(CheckSizes("ReluBackward", {n}));
    return FromCuda(cuda_kernels::LaunchReluBackward(stream_.get(), activation, gradient, n),
                    "ReluBackward kernel launch");
  }

  absl::StatusOr<BatchLoss> SoftmaxCrossEntropy(const float* logits, const int32_t* labels,
                                                int rows, int classes, float gradient_scale,
                                                float* gradient) override {
    PS_RETURN_IF_ERROR(CheckSizes("SoftmaxCrossEntropy", {rows, classes}));
    if (rows == 0) return BatchLoss{};
    PS_RETURN_IF_ERROR(FromCuda(
        cuda_kernels::LaunchSoftmaxCrossEntropy(stream_.get(), logits, labels, rows, classes,
                                                gradient_scale, gradient, loss_totals_.get()),
        "SoftmaxCrossEntropy kernel launch"));
    cuda_kernels::LossTotals totals;
    PS_RETURN_IF_ERROR(CopyToHost(loss_totals_.get(), &totals, sizeof(totals)));
    if (totals.first_bad_row < rows) {
      int32_t label = 0;
      PS_RETURN_IF_ERROR(CopyToHost(labels + totals.first_bad_row, &label, sizeof(label)));
      return absl::InvalidArgumentError(absl::StrCat(
          "label ", label, " of row ", totals.first_bad_row, " is outside [0, ", classes, ")"));
    }
    BatchLoss result;
    result.loss_sum = totals.loss_sum;
    result.correct = static_cast<int64_t>(totals.correct);
    return result;
  }

  absl::Status EncodeHalf(const float* values, size_t count, char* out) override {
    const size_t bytes = 2 * count;
    PS_RETURN_IF_ERROR(Reserve(payload_, bytes));
    PS_RETURN_IF_ERROR(FromCuda(
        cuda_kernels::LaunchEncodeHalf(stream_.get(), values, count, payload_.memory.get()),
        "EncodeHalf kernel launch"));
    return CopyToHost(payload_.memory.get(), out, bytes);
  }

  absl::Status EncodeInt8Blocks(const float* values, size_t count, uint32_t block_size,
                                char* out) override {
    if (block_size == 0) return absl::InvalidArgumentError("int8 blocks need a block size");
    const size_t bytes = (count + block_size - 1) / block_size * sizeof(float) + count;
    PS_RETURN_IF_ERROR(Reserve(payload_, bytes));
    PS_RETURN_IF_ERROR(
        FromCuda(cuda_kernels::LaunchEncodeInt8Blocks(stream_.get(), values, count, block_size,
                                                      payload_.memory.get()),
                 "EncodeInt8Blocks kernel launch"));
    return CopyToHost(payload_.memory.get(), out, bytes);
  }

  absl::Status EncodeTopk(const float* values, float* residual, size_t count, size_t k,
                          char* out) override {
    if (k > count || count > UINT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("top-", k, " of ", count, " values"));
    }
    const size_t bytes = k * (sizeof(uint32_t) + sizeof(float));
    PS_RETURN_IF_ERROR(Reserve(payload_, bytes));
    PS_RETURN_IF_ERROR(Reserve(topk_magnitudes_, count * sizeof(float)));
    PS_RETURN_IF_ERROR(Reserve(topk_indices_, count * sizeof(uint32_t)));
    PS_RETURN_IF_ERROR(
        FromCuda(cuda_kernels::EncodeTopk(stream_.get(), values, residual, count, k,
                                          reinterpret_cast<float*>(topk_magnitudes_.memory.get()),
                                          reinterpret_cast<uint32_t*>(topk_indices_.memory.get()),
                                          payload_.memory.get()),
                 "EncodeTopk"));
    return CopyToHost(payload_.memory.get(), out, bytes);
  }

  absl::Status EncodeOneBit(const float* values, float* residual, size_t count, uint32_t block_size,
                            char* out) override {
    if (block_size == 0) return absl::InvalidArgumentError("one-bit blocks need a block size");
    const size_t blocks = (count + block_size - 1) / block_size;
    const size_t last = count - (blocks == 0 ? 0 : (blocks - 1) * block_size);
    const size_t bytes = blocks == 0 ? 0
                                     : blocks * sizeof(float) +
                                           (blocks - 1) * ((block_size + 7) / 8) + (last + 7) / 8;
    PS_RETURN_IF_ERROR(Reserve(payload_, bytes));
    PS_RETURN_IF_ERROR(
        FromCuda(cuda_kernels::LaunchEncodeOneBit(stream_.get(), values, residual, count,
                                                  block_size, payload_.memory.get()),
                 "EncodeOneBit kernel launch"));
    return CopyToHost(payload_.memory.get(), out, bytes);
  }

 protected:
  absl::StatusOr<void*> AllocateBytes(size_t bytes) override {
    void* memory = nullptr;
    PS_RETURN_IF_ERROR(
        FromCuda(cudaMalloc(&memory, bytes), absl::StrCat("cudaMalloc(", bytes, " bytes)")));
    return memory;
  }

  void (*release_function() const)(void*) override { return &FreeDeviceMemory; }

  absl::StatusOr<void*> AllocateHostBytes(size_t bytes) override {
    void* memory = nullptr;
    PS_RETURN_IF_ERROR(FromCuda(cudaMallocHost(&memory, bytes),
                                absl::StrCat("cudaMallocHost(", bytes, " bytes)")));
    return memory;
  }

  void (*host_release_function() const)(void*) override { return &FreeHostMemory; }

  absl::Status CopyToDevice(const void* host, void* device, size_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    PS_RETURN_IF_ERROR(
        FromCuda(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_.get()),
                 "cudaMemcpyAsync(host to device)"));
    // From pageable memory the call returns once `host` is staged, so the caller may reuse it.
    // From page-locked memory (AllocateHost's) the copy is truly asynchronous: wait for it, or
    // the caller's next write to `host` could reach the device.
    cudaPointerAttributes attributes;
    PS_RETURN_IF_ERROR(
        FromCuda(cudaPointerGetAttributes(&attributes, host), "cudaPointerGetAttributes"));
    if (attributes.type != cudaMemoryTypeHost) return absl::OkStatus();
    return FromCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  }

  absl::Status CopyToHost(const void* device, void* host, size_t bytes) override {
    if (bytes > 0) {
      PS_RETURN_IF_ERROR(
          FromCuda(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_.get()),
                   "cudaMemcpyAsync(device to host)"));
    }
    // Also where errors of earlier asynchronous work surface.
    return FromCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  }

 private:
  // Device memory reused across calls, grown on demand.
  struct Scratch {
    UniqueDeviceMemory<uint8_t> memory;
    size_t capacity = 0;
  };

  absl::Status Reserve(Scratch& scratch, size_t bytes) {
    if (bytes <= scratch.capacity) return absl::OkStatus();
    // Work queued on the stream may still use the old buffer.
    PS_RETURN_IF_ERROR(FromCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize"));
    scratch.memory.reset();
    scratch.capacity = 0;
    void* memory = nullptr;
    PS_RETURN_IF_ERROR(
        FromCuda(cudaMalloc(&memory, bytes), absl::StrCat("cudaMalloc(", bytes, " bytes)")));
    scratch.memory.reset(static_cast<uint8_t*>(memory));
    scratch.capacity = bytes;
    return absl::OkStatus();
  }

  CudaBackend(std::string name, UniqueStream stream, UniqueCublas cublas,
              UniqueDeviceMemory<cuda_kernels::LossTotals> loss_totals)
      : name_(std::move(name)),
        stream_(std::move(stream)),
        cublas_(std::move(cublas)),
        loss_totals_(std::move(loss_totals)) {}

  // Constant after construction. Destroyed in reverse order: the scratch, then the cuBLAS handle
  // bound to the stream, then the stream.
  const std::string name_;
  UniqueStream stream_;
  UniqueCublas cublas_;
  // SoftmaxCrossEntropy's device-side totals, copied back after each call.
  UniqueDeviceMemory<cuda_kernels::LossTotals> loss_totals_;
  // The encoders' payload (copied to the host after each call) and top-k's sort scratch.
  Scratch payload_;
  Scratch topk_magnitudes_;
  Scratch topk_indices_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ComputeBackend>> CreateCudaBackend() {
  return CudaBackend::Create();
}

}  // namespace ps
