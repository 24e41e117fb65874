#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "worker/compute/cuda/cuda_kernels.cuh"

namespace ps {
namespace cuda_kernels {
namespace {

constexpr int kThreadsPerBlock = 256;
constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = kThreadsPerBlock / kWarpSize;
constexpr unsigned kFullWarp = 0xffffffffu;
// Element-wise kernels stride over the grid, so more blocks than this only adds scheduling work.
constexpr size_t kMaxBlocks = 4096;

unsigned BlocksFor(size_t threads) {
  return static_cast<unsigned>(
      std::min(kMaxBlocks, (threads + kThreadsPerBlock - 1) / kThreadsPerBlock));
}

__global__ void AddBiasKernel(float* z, const float* bias, size_t total, int cols) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    z[i] += bias[i % cols];
  }
}

// One thread per column: neighbouring threads read neighbouring addresses of each row.
__global__ void ColumnSumsKernel(const float* m, int rows, int cols, float* sums) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float sum = 0.0f;
  for (int r = 0; r < rows; ++r) sum += m[static_cast<size_t>(r) * cols + c];
  sums[c] = sum;
}

__global__ void ReluKernel(float* x, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    x[i] = fmaxf(x[i], 0.0f);
  }
}

__global__ void ReluBackwardKernel(const float* activation, float* gradient, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    if (activation[i] <= 0.0f) gradient[i] = 0.0f;
  }
}

__global__ void ResetLossTotalsKernel(LossTotals* totals, int rows) {
  totals->loss_sum = 0.0;
  totals->correct = 0;
  totals->first_bad_row = rows;
}

// Each warp owns one row; lanes stride over its classes and combine with shuffles. Mirrors the CPU
// backend: the prediction is the first largest logit, the denominator is summed in double after
// shifting by the largest logit, and the gradient is rounded to float before scaling.
__global__ void SoftmaxCrossEntropyKernel(const float* logits, const int32_t* labels, int rows,
                                          int classes, float gradient_scale, float* gradient,
                                          LossTotals* totals) {
  const int lane = threadIdx.x % kWarpSize;
  const int r = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (r >= rows) return;  // Uniform across the warp, so the shuffles below see every lane.
  const int label = labels[r];
  if (label < 0 || label >= classes) {
    if (lane == 0) atomicMin(&totals->first_bad_row, r);
    return;
  }
  const float* row = logits + static_cast<size_t>(r) * classes;

  // Argmax with ties to the lowest index; a lane without classes holds (-inf, INT_MAX).
  float best = -INFINITY;
  int best_index = INT_MAX;
  for (int c = lane; c < classes; c += kWarpSize) {
    if (best_index == INT_MAX || row[c] > best) {
      best = row[c];
      best_index = c;
    }
  }
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(kFullWarp, best, offset);
    const int other_index = __shfl_xor_sync(kFullWarp, best_index, offset);
    if (other > best || (other == best && other_index < best_index)) {
      best = other;
      best_index = other_index;
    }
  }
  const float max_logit = best;

  double denominator = 0.0;
  for (int c = lane; c < classes; c += kWarpSize) {
    denominator += exp(static_cast<double>(row[c]) - max_logit);
  }
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    denominator += __shfl_xor_sync(kFullWarp, denominator, offset);
  }

  if (lane == 0) {
    atomicAdd(&totals->loss_sum, log(denominator) - (static_cast<double>(row[label]) - max_logit));
    if (best_index == label) atomicAdd(&totals->correct, 1ULL);
  }
  if (gradient != nullptr) {
    float* out = gradient + static_cast<size_t>(r) * classes;
    for (int c = lane; c < classes; c += kWarpSize) {
      const double probability = exp(static_cast<double>(row[c]) - max_logit) / denominator;
      out[c] = gradient_scale * static_cast<float>(probability - (c == label ? 1.0 : 0.0));
    }
  }
}

}  // namespace

cudaError_t LaunchAddBias(cudaStream_t stream, float* z, const float* bias, int rows, int cols) {
  const size_t total = static_cast<size_t>(rows) * cols;
  if (total == 0) return cudaSuccess;
  AddBiasKernel<<<BlocksFor(total), kThreadsPerBlock, 0, stream>>>(z, bias, total, cols);
  return cudaGetLastError();
}

cudaError_t LaunchColumnSums(cudaStream_t stream, const float* m, int rows, int cols, float* sums) {
  if (cols == 0) return cudaSuccess;
  const unsigned blocks = (static_cast<unsigned>(cols) + kThreadsPerBlock - 1) / kThreadsPerBlock;
  ColumnSumsKernel<<<blocks, kThreadsPerBlock, 0, stream>>>(m, rows, cols, sums);
  return cudaGetLastError();
}

cudaError_t LaunchRelu(cudaStream_t stream, float* x, int n) {
  if (n == 0) return cudaSuccess;
  ReluKernel<<<BlocksFor(n), kThreadsPerBlock, 0, stream>>>(x, n);
  return cudaGetLastError();
}

cudaError_t LaunchReluBackward(cudaStream_t stream, const float* activation, float* gradient,
                               int n) {
  if (n == 0) return cudaSuccess;
  ReluBackwardKernel<<<BlocksFor(n), kThreadsPerBlock, 0, stream>>>(activation, gradient, n);
  return cudaGetLastError();
}

cudaError_t LaunchSoftmaxCrossEntropy(cudaStream_t stream, const float* logits,
                                      const int32_t* labels, int rows, int classes,
                                      float gradient_scale, float* gradient, LossTotals* totals) {
  ResetLossTotalsKernel<<<1, 1, 0, stream>>>(totals, rows);
  const cudaError_t reset_error = cudaGetLastError();
  if (reset_error != cudaSuccess || rows == 0) return reset_error;
  const unsigned blocks = (static_cast<unsigned>(rows) + kWarpsPerBlock - 1) / kWarpsPerBlock;
  SoftmaxCrossEntropyKernel<<<blocks, kThreadsPerBlock, 0, stream>>>(
      logits, labels, rows, classes, gradient_scale, gradient, totals);
  return cudaGetLastError();
}

}  // namespace cuda_kernels
}  // namespace ps
