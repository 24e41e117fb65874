// Reusable payload buffers for outgoing gRPC messages. A fresh 64 MB allocation page-faults at
// about 1 GB/s on these machines, several times slower than the loopback link, so pull responses
// are written into buffers that come back here when gRPC has sent them.
#ifndef PS_COMMON_BUFFER_POOL_H_
#define PS_COMMON_BUFFER_POOL_H_

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "grpcpp/support/slice.h"

namespace ps {

// A gRPC slice of `size` bytes whose memory `fill` writes before the slice is handed out. The
// memory is aligned for 8-byte values and returns to a process-wide pool when gRPC releases the
// slice. Thread-safe.
grpc::Slice PooledSlice(size_t size, absl::FunctionRef<void(char*)> fill);

}  // namespace ps

#endif  // PS_COMMON_BUFFER_POOL_H_
