#include <cuda_fp16.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system_error.h>

#include <new>

#include "worker/compute/cuda/codec_kernels.cuh"

namespace ps {
namespace cuda_kernels {
namespace {

constexpr int kThreads = 256;

unsigned GridFor(size_t count) {
  const size_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

// Payload offsets need not be 4-byte aligned (any block size is allowed), so floats are stored
// byte by byte.
__device__ void StoreFloat(uint8_t* out, float value) {
  const uint32_t bits = __float_as_uint(value);
  out[0] = bits & 0xff;
  out[1] = (bits >> 8) & 0xff;
  out[2] = (bits >> 16) & 0xff;
  out[3] = bits >> 24;
}

// Block-wide reductions over one value per thread (blockDim.x == kThreads).
__device__ float BlockMaxPropagatingNan(float value, float* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const float other = shared[threadIdx.x + stride];
      const float mine = shared[threadIdx.x];
      // NaN wins, so a NaN gradient yields a NaN scale that the server refuses.
      shared[threadIdx.x] = (other > mine || isnan(other)) && !isnan(mine) ? other : mine;
    }
    __syncthreads();
  }
  const float result = shared[0];
  __syncthreads();
  return result;
}

__device__ float BlockSum(float value, float* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  const float result = shared[0];
  __syncthreads();
  return result;
}

__global__ void EncodeHalfKernel(const float* values, size_t count, uint8_t* out) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x) {
    float value = values[i];
    if (isfinite(value) && fabsf(value) > 65504.0f) value = copysignf(65504.0f, value);
    const unsigned short half = __half_as_ushort(__float2half_rn(value));
    out[2 * i] = half & 0xff;
    out[2 * i + 1] = half >> 8;
  }
}

// One thread block per codec block.
__global__ void EncodeInt8Kernel(const float* values, size_t count, uint32_t block_size,
                                 uint8_t* out) {
  __shared__ float shared[kThreads];
  const size_t block = blockIdx.x;
  const size_t first = block * block_size;
  const size_t length = min(size_t(block_size), count - first);
  float max_magnitude = 0.0f;
  for (size_t i = threadIdx.x; i < length; i += kThreads) {
    const float magnitude = fabsf(values[first + i]);
    if (magnitude > max_magnitude || isnan(magnitude)) max_magnitude = magnitude;
  }
  const float scale = BlockMaxPropagatingNan(max_magnitude, shared) / 127.0f;
  uint8_t* block_out = out + block * (sizeof(float) + size_t(block_size));
  if (threadIdx.x == 0) StoreFloat(block_out, scale);
  for (size_t i = threadIdx.x; i < length; i += kThreads) {
    float level = scale > 0.0f ? rintf(values[first + i] / scale) : 0.0f;
    level = isnan(level) ? 0.0f : fminf(fmaxf(level, -127.0f), 127.0f);
    block_out[sizeof(float) + i] = static_cast<uint8_t>(static_cast<int8_t>(level));
  }
}

// One thread block per codec block; thread t builds sign bytes t, t + kThreads, ...
__global__ void EncodeOneBitKernel(const float* values, float* residual, size_t count,
                                   uint32_t block_size, uint8_t* out) {
  __shared__ float shared[kThreads];
  const size_t block = blockIdx.x;
  const size_t first = block * block_size;
  const size_t length = min(size_t(block_size), count - first);
  float magnitude_sum = 0.0f;
  for (size_t i = threadIdx.x; i < length; i += kThreads) {
    const float corrected = residual[first + i] + values[first + i];
    residual[first + i] = corrected;
    magnitude_sum += fabsf(corrected);
  }
  const float scale = BlockSum(magnitude_sum, shared) / static_cast<float>(length);
  uint8_t* block_out = out + block * (sizeof(float) + (size_t(block_size) + 7) / 8);
  if (threadIdx.x == 0) StoreFloat(block_out, scale);
  for (size_t byte = threadIdx.x; byte < (length + 7) / 8; byte += kThreads) {
    uint8_t bits = 0;
    for (size_t j = byte * 8; j < min(length, byte * 8 + 8); ++j) {
      float& corrected = residual[first + j];
      const bool positive = corrected >= 0.0f;
      if (positive) bits |= 1u << (j % 8);
      corrected -= positive ? scale : -scale;
    }
    block_out[sizeof(float) + byte] = bits;
  }
}

__global__ void AccumulateMagnitudesKernel(const float* values, float* residual, size_t count,
                                           float* magnitudes) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x) {
    const float corrected = residual[i] + values[i];
    residual[i] = corrected;
    magnitudes[i] = fabsf(corrected);
  }
}

// Writes the k chosen (ascending) indices and their values, and zeroes them in the residual.
__global__ void GatherTopkKernel(const uint32_t* chosen, size_t k, float* residual, uint8_t* out) {
  uint32_t* out_indices = reinterpret_cast<uint32_t*>(out);  // The payload starts aligned.
  float* out_values = reinterpret_cast<float*>(out + k * sizeof(uint32_t));
  for (size_t j = blockIdx.x * size_t(blockDim.x) + threadIdx.x; j < k;
       j += size_t(gridDim.x) * blockDim.x) {
    const uint32_t index = chosen[j];
    out_indices[j] = index;
    out_values[j] = residual[index];
    residual[index] = 0.0f;
  }
}

}  // namespace

cudaError_t LaunchEncodeHalf(cudaStream_t stream, const float* values, size_t count, uint8_t* out) {
  if (count == 0) return cudaSuccess;
  EncodeHalfKernel<<<GridFor(count), kThreads, 0, stream>>>(values, count, out);
  return cudaGetLastError();
}

cudaError_t LaunchEncodeInt8Blocks(cudaStream_t stream, const float* values, size_t count,
                                   uint32_t block_size, uint8_t* out) {
  if (count == 0) return cudaSuccess;
  const size_t blocks = (count + block_size - 1) / block_size;
  EncodeInt8Kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(values, count,
                                                                           block_size, out);
  return cudaGetLastError();
}

cudaError_t LaunchEncodeOneBit(cudaStream_t stream, const float* values, float* residual,
                               size_t count, uint32_t block_size, uint8_t* out) {
  if (count == 0) return cudaSuccess;
  const size_t blocks = (count + block_size - 1) / block_size;
  EncodeOneBitKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      values, residual, count, block_size, out);
  return cudaGetLastError();
}

cudaError_t EncodeTopk(cudaStream_t stream, const float* values, float* residual, size_t count,
                       size_t k, float* magnitudes, uint32_t* indices, uint8_t* out) {
  if (count == 0 || k == 0) return cudaSuccess;
  AccumulateMagnitudesKernel<<<GridFor(count), kThreads, 0, stream>>>(values, residual, count,
                                                                      magnitudes);
  if (cudaError_t error = cudaGetLastError(); error != cudaSuccess) return error;
  // Thrust reports failures by throwing; this boundary turns them back into CUDA errors.
  try {
    const auto policy = thrust::cuda::par_nosync.on(stream);
    thrust::sequence(policy, indices, indices + count, 0u);
    // A stable sort by descending magnitude keeps equal magnitudes in index order: its first k
    // indices are the CPU encoder's choice, ties included.
    thrust::stable_sort_by_key(policy, magnitudes, magnitudes + count, indices,
                               thrust::greater<float>());
    thrust::sort(policy, indices, indices + k);
  } catch (const thrust::system_error& error) {
    return static_cast<cudaError_t>(error.code().value());
  } catch (const std::bad_alloc&) {
    return cudaErrorMemoryAllocation;
  }
  GatherTopkKernel<<<GridFor(k), kThreads, 0, stream>>>(indices, k, residual, out);
  return cudaGetLastError();
}

}  // namespace cuda_kernels
}  // namespace ps
