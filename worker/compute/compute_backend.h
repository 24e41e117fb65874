// The numerical kernels a model needs, behind one interface with a CPU implementation (OpenBLAS
// plus plain loops, cpu_backend.h) and a CUDA one (cuBLAS plus small kernels, cuda/cuda_backend.h).
// Models allocate their buffers through the backend and call only these operations, so the same
// model code runs on either device.
//
// Conventions: matrices are row-major float32; pointers passed to the operations point into
// memory the same backend allocated (device memory for CUDA); sizes are element counts. Every
// operation is ordered after the previous ones on the same backend; Download() and the reductions
// that return host values wait for the work before them.
//
// Thread-safety: a backend serves one thread at a time.
#ifndef PS_WORKER_COMPUTE_COMPUTE_BACKEND_H_
#define PS_WORKER_COMPUTE_COMPUTE_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ps {

// `count` elements of T in a backend's memory, freed when the array is destroyed. Move-only.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() : memory_(nullptr, nullptr) {}
  DeviceArray(void* memory, size_t count, void (*release)(void*))
      : memory_(static_cast<T*>(memory), release), count_(count) {}

  T* data() const { return memory_.get(); }
  size_t size() const { return count_; }

 private:
  std::unique_ptr<T, void (*)(void*)> memory_;
  size_t count_ = 0;
};

// `count` elements of T in host memory that a backend copies to and from directly: page-locked
// under CUDA, so Download and Upload DMA into and out of it without a staging copy through the
// driver's own pinned buffer; ordinary memory on the CPU. Freed when the array is destroyed (the
// release function needs no backend, so the array may outlive it). Move-only.
template <typename T>
class HostArray {
 public:
  HostArray() : memory_(nullptr, nullptr) {}
  HostArray(void* memory, size_t count, void (*release)(void*))
      : memory_(static_cast<T*>(memory), release), count_(count) {}

  T* data() const { return memory_.get(); }
  size_t size() const { return count_; }
  absl::Span<T> span() const { return absl::Span<T>(data(), count_); }

 private:
  std::unique_ptr<T, void (*)(void*)> memory_;
  size_t count_ = 0;
};

// Sum of the cross-entropy losses and count of correct argmax predictions over a batch.
struct BatchLoss {
  double loss_sum = 0;
  int64_t correct = 0;
};

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;

  // "cpu (OpenBLAS, 2 threads)", "cuda (NVIDIA H100 ...)".
  virtual std::string name() const = 0;

  // Uninitialised memory for `count` elements. Errors: ResourceExhausted.
  template <typename T>
  absl::StatusOr<DeviceArray<T>> Allocate(size_t count) {
    absl::StatusOr<void*> memory = AllocateBytes(count * sizeof(T));
    if (!memory.ok()) return memory.status();
    return DeviceArray<T>(*memory, count, release_function());
  }
  // Uninitialised host memory for `count` elements (see HostArray), for a buffer that Download
  // and Upload use step after step. Page-locking is slow and takes memory from the whole system:
  // allocate once and reuse. Errors: ResourceExhausted.
  template <typename T>
  absl::StatusOr<HostArray<T>> AllocateHost(size_t count) {
    absl::StatusOr<void*> memory = AllocateHostBytes(count * sizeof(T));
    if (!memory.ok()) return memory.status();
    return HostArray<T>(*memory, count, host_release_function());
  }
  // Copies host values to `device` starting at element `offset`; `host` may be changed as soon
  // as this returns. Errors: OutOfRange when they do not fit; Internal for a device failure.
  template <typename T>
  absl::Status Upload(absl::Span<const T> host, const DeviceArray<T>& device, size_t offset = 0) {
    if (offset > device.size() || host.size() > device.size() - offset) {
      return absl::OutOfRangeError("upload past the end of a device array");
    }
    return CopyToDevice(host.data(), device.data() + offset, host.size() * sizeof(T));
  }
  // Copies host.size() elements of `device` starting at element `offset` to the host, waiting
  // for the work enqueued before it (and only that: later work may still be running after it
  // returns). Errors: OutOfRange when they are not all in `device`; Internal for a device failure.
  template <typename T>
  absl::Status Download(const DeviceArray<T>& device, absl::Span<T> host, size_t offset = 0) {
    if (offset > device.size() || host.size() > device.size() - offset) {
      return absl::OutOfRangeError("download past the end of a device array");
    }
    return CopyToHost(device.data() + offset, host.data(), host.size() * sizeof(T));
  }

  // C (m x n) = alpha * op(A) * op(B) + beta * C, where op(A) is m x k (A stored k x m when
  // transpose_a) and op(B) is k x n (B stored n x k when transpose_b).
  virtual absl::Status Gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
                            const float* a, const float* b, float beta, float* c) = 0;
  // z[r][c] += bias[c] for a rows x cols matrix.
  virtual absl::Status AddBias(float* z, const float* bias, int rows, int cols) = 0;
  // sums[c] = sum over r of m[r][c] (a bias gradient).
  virtual absl::Status ColumnSums(const float* m, int rows, int cols, float* sums) = 0;
  // x = max(x, 0) for n elements.
  virtual absl::Status Relu(float* x, int n) = 0;
  // gradient[i] = 0 where activation[i] <= 0 (activation is the ReLU's output).
  virtual absl::Status ReluBackward(const float* activation, float* gradient, int n) = 0;
  // Softmax cross-entropy of `logits` (rows x classes) against `labels` (rows values in
  // [0, classes)). When `gradient` is not null it receives gradient_scale * (softmax - one_hot),
  // the gradient of gradient_scale * loss_sum with respect to the logits. Returns the loss sum and
  // the number of rows whose largest logit is the label.
  virtual absl::StatusOr<BatchLoss> SoftmaxCrossEntropy(const float* logits,
                                                        const int32_t* labels, int rows,
                                                        int classes, float gradient_scale,
                                                        float* gradient) = 0;

  // Gradient compression: byte layouts in proto/types.proto (Encoding), semantics and the
  // error-feedback contract in common/codec/encoder.h, whose CPU encoder the CUDA kernels match.
  // `values` and `residual` (count elements) are backend memory; the payload goes to host memory
  // at `out`. The CPU backend refuses non-finite values (InvalidArgument); the CUDA kernels pass
  // them into the payload, which the server then refuses.
  virtual absl::Status EncodeHalf(const float* values, size_t count, char* out) = 0;
  virtual absl::Status EncodeInt8Blocks(const float* values, size_t count, uint32_t block_size,
                                        char* out) = 0;
  // REQUIRES: 1 <= k <= count <= 2^32.
  virtual absl::Status EncodeTopk(const float* values, float* residual, size_t count, size_t k,
                                  char* out) = 0;
  virtual absl::Status EncodeOneBit(const float* values, float* residual, size_t count,
                                    uint32_t block_size, char* out) = 0;

 protected:
  virtual absl::StatusOr<void*> AllocateBytes(size_t bytes) = 0;
  // Frees what AllocateBytes returned; outlives the backend (arrays may be destroyed later).
  virtual void (*release_function() const)(void*) = 0;
  // The same for AllocateHost's memory.
  virtual absl::StatusOr<void*> AllocateHostBytes(size_t bytes) = 0;
  virtual void (*host_release_function() const)(void*) = 0;
  virtual absl::Status CopyToDevice(const void* host, void* device, size_t bytes) = 0;
  virtual absl::Status CopyToHost(const void* device, void* host, size_t bytes) = 0;
};

}  // namespace ps

#endif  // PS_WORKER_COMPUTE_COMPUTE_BACKEND_H_
