// How much memory a server's shards may hold, per table and in all, and how much they hold.
// Stores charge what they allocate (MemoryCharge); a primary asks Admit() before applying a push
// that would create sparse rows, and refuses it with RESOURCE_EXHAUSTED beyond either limit, so
// that client traffic cannot grow a server until the kernel kills it. Backups never refuse what
// their primary admitted (they would diverge); they hold the same rows, so the primary's check
// bounds them too. The check is made per push under its shards' locks: pushes admitted at the
// same moment to different shards can overshoot a limit by at most their own size (bounded by the
// maximum message size). Thread-safe.
#ifndef PS_SERVER_MEMORY_QUOTA_H_
#define PS_SERVER_MEMORY_QUOTA_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace ps {

struct MemoryLimits {
  // 0: unlimited.
  uint64_t server_bytes = 0;
  uint64_t table_bytes = 0;
};

class MemoryQuota {
 public:
  explicit MemoryQuota(MemoryLimits limits = {}) : limits_(limits) {}
  MemoryQuota(const MemoryQuota&) = delete;
  MemoryQuota& operator=(const MemoryQuota&) = delete;

  const MemoryLimits& limits() const { return limits_; }

  // OK when `more` bytes for table `table_id` fit both limits; ResourceExhausted naming the
  // limit, the table and the figures otherwise.
  absl::Status Admit(uint32_t table_id, const std::string& table_name, uint64_t more) const;

  // Adds `delta` (negative: released) to what table `table_id` holds on this server.
  void Charge(uint32_t table_id, int64_t delta);

  uint64_t used() const;
  uint64_t used(uint32_t table_id) const;

 private:
  const MemoryLimits limits_;
  mutable absl::Mutex mu_;
  int64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint32_t, int64_t> by_table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_MEMORY_QUOTA_H_
