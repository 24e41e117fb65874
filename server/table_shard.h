// One table within one virtual shard on its primary: the store (values, optimizer state), the
// consistency clock and the exactly-once record of which pushes were applied, under one mutex.
//
// Thread-safety: methods named *Locked require mu() held (a push spanning several shards locks
// them all, in ascending (table, shard) order, so that it is all-or-nothing); the others take it.
// store() validation methods read only immutable geometry and need no lock.
#ifndef PS_SERVER_TABLE_SHARD_H_
#define PS_SERVER_TABLE_SHARD_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/consistency_clock.h"
#include "server/shard_store.h"

namespace ps {

// Who sent a push and where it belongs in that worker's sequence.
struct PushIdentity {
  uint32_t worker_id = 0;
  uint64_t incarnation = 0;
  uint64_t seq = 0;
  uint64_t clock = 0;
};

class TableShard {
 public:
  TableShard(std::unique_ptr<ShardStore> store, absl::flat_hash_set<uint32_t> live_workers);

  const ShardStore& store() const { return *store_; }
  absl::Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // Whether the push was already applied (true: acknowledge without applying).
  // Errors: FailedPrecondition for an older incarnation of the worker or a push the consistency
  // model refuses (see ConsistencyClock::CheckPush).
  absl::StatusOr<bool> AdmitLocked(const PushIdentity& push) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies (ASP, SSP) or accumulates (BSP) an admitted, non-duplicate push and completes every
  // BSP clock that became complete.
  void ApplyLocked(const PushIdentity& push, PushPayload& payload) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Live workers changed (cluster map): BSP clocks waiting only for departed workers complete.
  void SetLiveWorkers(absl::flat_hash_set<uint32_t> live);

  bool Readable(uint64_t reader_clock);
  // The current values of `keys` (see ShardStore::Read) and the shard's clock.
  grpc::Slice Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                   v1::TensorHeader* header, uint64_t* clock);

 private:
  void CompleteClocksLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Applied {
    uint64_t incarnation = 0;
    uint64_t seq = 0;
  };

  absl::Mutex mu_;
  const std::unique_ptr<ShardStore> store_;  // Mutable parts guarded by mu_.
  ConsistencyClock clock_ ABSL_GUARDED_BY(mu_);
  // Per worker: the incarnation and highest seq applied.
  absl::flat_hash_map<uint32_t, Applied> applied_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_TABLE_SHARD_H_
