// Host launchers for the element-wise and reduction kernels of the CUDA backend. Included only by
// .cu files. Each launcher enqueues its kernel on `stream` and returns the launch error
// (cudaGetLastError); errors during execution surface at the next synchronisation. Sizes of zero
// enqueue nothing and return cudaSuccess. Pointers are device memory.
#ifndef PS_WORKER_COMPUTE_CUDA_CUDA_KERNELS_CUH_
#define PS_WORKER_COMPUTE_CUDA_CUDA_KERNELS_CUH_

#include <cuda_runtime.h>

#include <cstdint>

namespace ps {
namespace cuda_kernels {

// The device-side result of SoftmaxCrossEntropy, reduced across rows with atomics.
struct LossTotals {
  double loss_sum;
  unsigned long long correct;
  // The smallest row whose label is outside [0, classes), or `rows` when every label is valid.
  int first_bad_row;
};

// z[r][c] += bias[c] for a rows x cols row-major matrix.
cudaError_t LaunchAddBias(cudaStream_t stream, float* z, const float* bias, int rows, int cols);

// sums[c] = sum over r of m[r][c], summed in row order like the CPU backend.
cudaError_t LaunchColumnSums(cudaStream_t stream, const float* m, int rows, int cols, float* sums);

// x = max(x, 0).
cudaError_t LaunchRelu(cudaStream_t stream, float* x, int n);

// gradient[i] = 0 where activation[i] <= 0.
cudaError_t LaunchReluBackward(cudaStream_t stream, const float* activation, float* gradient,
                               int n);

// One warp per row: resets *totals, then adds each valid row's loss and correctness to it and
// writes that row's gradient (when `gradient` is not null). Rows with a bad label are skipped and
// recorded in totals->first_bad_row. The caller copies *totals back after the kernel.
cudaError_t LaunchSoftmaxCrossEntropy(cudaStream_t stream, const float* logits,
                                      const int32_t* labels, int rows, int classes,
                                      float gradient_scale, float* gradient, LossTotals* totals);

}  // namespace cuda_kernels
}  // namespace ps

#endif  // PS_WORKER_COMPUTE_CUDA_CUDA_KERNELS_CUH_
