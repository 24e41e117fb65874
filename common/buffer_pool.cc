#include "common/buffer_pool.h"

#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/slice.h"

namespace ps {
namespace {

// Idle buffers beyond this many bytes are freed instead of kept.
constexpr size_t kMaxIdleBytes = size_t{512} << 20;
// Small payloads are cheap to allocate; pooling them would only fragment the pool.
constexpr size_t kMinPooledBytes = size_t{64} << 10;

struct Buffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
};

class Pool {
 public:
  Buffer Take(size_t size) {
    {
      absl::MutexLock lock(&mu_);
      // Best fit among idle buffers; the pool holds a handful, so a scan is cheap.
      int best = -1;
      for (int i = 0; i < static_cast<int>(idle_.size()); ++i) {
        if (idle_[i].capacity >= size &&
            (best < 0 || idle_[i].capacity < idle_[best].capacity)) {
          best = i;
        }
      }
      if (best >= 0) {
        Buffer buffer = std::move(idle_[best]);
        idle_[best] = std::move(idle_.back());
        idle_.pop_back();
        idle_bytes_ -= buffer.capacity;
        return buffer;
      }
    }
    return Buffer{std::unique_ptr<char[]>(new char[size]), size};
  }

  void Give(Buffer buffer) {
    absl::MutexLock lock(&mu_);
    while (!idle_.empty() && idle_bytes_ + buffer.capacity > kMaxIdleBytes) {
      idle_bytes_ -= idle_.front().capacity;
      idle_.erase(idle_.begin());  // The oldest goes first.
    }
    if (buffer.capacity > kMaxIdleBytes) return;
    idle_bytes_ += buffer.capacity;
    idle_.push_back(std::move(buffer));
  }

 private:
  absl::Mutex mu_;
  std::vector<Buffer> idle_ ABSL_GUARDED_BY(mu_);
  size_t idle_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Never destroyed: slices may be released by gRPC threads during process exit.
Pool& SharedPool() {
  static Pool* pool = new Pool;
  return *pool;
}

// What a pooled slice's destroy callback receives.
struct Lease {
  Buffer buffer;
};

void ReturnLease(void* lease) {
  std::unique_ptr<Lease> owned(static_cast<Lease*>(lease));
  SharedPool().Give(std::move(owned->buffer));
}

}  // namespace

grpc::Slice PooledSlice(size_t size, absl::FunctionRef<void(char*)> fill) {
  if (size < kMinPooledBytes) {
    // Always on the heap: a slice of up to 15 bytes would otherwise keep them inline, at an odd
    // offset, and `fill` may write floats.
    grpc::Slice slice(grpc_slice_malloc_large(size), grpc::Slice::STEAL_REF);
    // The slice was just allocated and nobody else references it, so writing it is safe.
    fill(const_cast<char*>(reinterpret_cast<const char*>(slice.begin())));
    return slice;
  }
  auto lease = std::make_unique<Lease>();
  lease->buffer = SharedPool().Take(size);
  fill(lease->buffer.data.get());
  char* data = lease->buffer.data.get();
  return grpc::Slice(data, size, &ReturnLease, lease.release());
}

}  // namespace ps
