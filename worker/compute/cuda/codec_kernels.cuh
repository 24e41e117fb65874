// Device encoders of the gradient codecs. They write the exact byte layouts of
// proto/types.proto (Encoding) into device memory and follow common/codec/encoder.h, so a payload
// encoded here decodes like one from the CPU encoder: byte for byte for F16, INT8_BLOCK and TOPK;
// ONEBIT's block scales are float sums taken in another order (within float rounding).
// Included only by .cu files. Launchers enqueue on `stream` and return the launch error; pointers
// are device memory; a count of zero enqueues nothing.
#ifndef PS_WORKER_COMPUTE_CUDA_CODEC_KERNELS_CUH_
#define PS_WORKER_COMPUTE_CUDA_CODEC_KERNELS_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ps {
namespace cuda_kernels {

// 2 * count bytes of half precision, finite values beyond +-65504 saturated.
cudaError_t LaunchEncodeHalf(cudaStream_t stream, const float* values, size_t count, uint8_t* out);

// Per block of `block_size`: the float scale max|v| / 127, then one int8 per value.
cudaError_t LaunchEncodeInt8Blocks(cudaStream_t stream, const float* values, size_t count,
                                   uint32_t block_size, uint8_t* out);

// residual += values; per block the float scale mean|residual| and one sign bit per value; then
// residual -= the value sent.
cudaError_t LaunchEncodeOneBit(cudaStream_t stream, const float* values, float* residual,
                               size_t count, uint32_t block_size, uint8_t* out);

// residual += values; sends the k entries of largest |residual| (lower index first among ties) as
// k ascending uint32 indices then their k float values, and zeroes them in the residual.
// `magnitudes` and `indices` are scratch of `count` elements each.
cudaError_t EncodeTopk(cudaStream_t stream, const float* values, float* residual, size_t count,
                       size_t k, float* magnitudes, uint32_t* indices, uint8_t* out);

}  // namespace cuda_kernels
}  // namespace ps

#endif  // PS_WORKER_COMPUTE_CUDA_CODEC_KERNELS_CUH_
