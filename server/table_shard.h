// One table within one virtual shard on one replica: the store (values, optimizer state), the
// consistency clock, the exactly-once record of applied pushes and the position in the shard's
// replication log, under one mutex.
//
// On the primary, pushes are admitted and applied here and each applied push (or BSP clock
// completed because a worker left) becomes a LogEntry that the caller sends to the backups. On a
// backup or learner, entries are offered in any order and applied strictly in log order, so every
// replica's state is the state the primary had after the same prefix of its log: bitwise equal,
// because the stores are deterministic (common/table/optimizer.h). Backups never decide anything on
// their own: BSP clocks complete only through the primary's ClockCompletions.
//
// Terms: a primary's term starts at the epoch it was promoted (or created) with the log index it
// held then. A replica follows one term at a time and takes up a newer one only if it holds
// exactly the new primary's base index; otherwise its copy diverged (it missed entries or holds
// entries the new primary never had) and it must be re-filled as a learner.
//
// Thread-safety: methods named *Locked require mu() held (a push spanning several shards locks
// them all, in ascending (table, shard) order, so that it is all-or-nothing); the others take it.
// store() validation methods read only immutable geometry and need no lock. Callbacks collected
// in `finished` lists must be run by the caller after releasing mu().
#ifndef PS_SERVER_TABLE_SHARD_H_
#define PS_SERVER_TABLE_SHARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/parameter_server.pb.h"
#include "server/consistency_clock.h"
#include "server/dedupe_table.h"
#include "server/shard_store.h"

namespace ps {

// Who sent a push and where it belongs in that worker's sequence.
struct PushIdentity {
  uint32_t worker_id = 0;
  uint64_t incarnation = 0;
  uint64_t seq = 0;
  uint64_t clock = 0;
};

enum class ReplicaRole { kPrimary, kBackup, kLearner };

// An entry offered to a backup or learner, with what to call once it is applied.
struct OfferedEntry {
  v1::LogEntry entry;
  // The push's validated payload (has_push entries).
  std::optional<PushPayload> payload;
  // Called once: OK when the entry is applied (a learner acknowledges as soon as it has queued
  // it), or the error that refused it.
  std::function<void(const absl::Status&)> done;
};

// Work to run after unlocking.
using FinishedCallbacks = std::vector<std::function<void()>>;

class TableShard {
 public:
  // A fresh shard (log index 0). A learner starts uninstalled: it queues entries until
  // InstallLocked(). `epoch` starts the term of a primary.
  TableShard(std::unique_ptr<ShardStore> store, ReplicaRole role, uint64_t epoch,
             absl::flat_hash_set<uint32_t> live_workers);

  TableShard(const TableShard&) = delete;
  TableShard& operator=(const TableShard&) = delete;

  const ShardStore& store() const { return *store_; }

  // What monitoring reads of a shard (server metrics): cheap, unlike a snapshot.
  struct Summary {
    uint32_t table_id = 0;
    uint32_t shard_id = 0;
    ReplicaRole role = ReplicaRole::kBackup;
    bool installed = false;
    uint64_t memory_bytes = 0;
    // ConsistencyClock::LiveWorkerClockRange.
    uint64_t slowest_clock = 0;
    uint64_t fastest_clock = 0;
  };
  Summary Summarize();
  absl::Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

  ReplicaRole RoleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return role_; }
  // The replica set no longer holds this shard (a map moved it away). Whoever still holds the
  // object (a parked pull, a push in flight) must not take it for the shard's current copy.
  void MarkDroppedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { dropped_ = true; }
  bool DroppedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return dropped_; }
  uint64_t LogIndexLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return log_index_; }
  bool InstalledLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return installed_; }
  // Map adoption. A backup promoted to primary starts a term at `epoch` with its log position;
  // entries it had queued are refused (their sender is gone). A learner becoming a backup keeps
  // everything.
  void SetRoleLocked(ReplicaRole role, uint64_t epoch, FinishedCallbacks* finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- Primary ---
  // Whether the push was already applied (true: acknowledge without applying). See DedupeTable.
  // Errors: FailedPrecondition for a push the dedupe record or the consistency model refuses.
  absl::StatusOr<bool> AdmitLocked(const PushIdentity& push) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies (ASP, SSP) or accumulates (BSP) an admitted, non-duplicate push, completes every BSP
  // clock that became complete, and returns the log entry to replicate (without its slice and
  // payload, which the caller forwards from the request). The same as BeginApplyLocked followed
  // by FinishApplyLocked.
  v1::LogEntry ApplyLocked(const PushIdentity& push, PushPayload& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The two halves of ApplyLocked, for a primary that sends the entry to its replicas while it
  // applies it itself. Begin records the push (clock, dedupe table), assigns the next log index
  // and decides which BSP clocks it completes: none of that depends on the values. Finish applies
  // it to the store. REQUIRES: mu() held from Begin through Finish, so that the store applies
  // entries in log order.
  v1::LogEntry BeginApplyLocked(const PushIdentity& push) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishApplyLocked(const v1::LogEntry& entry, PushPayload& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Live workers changed (cluster map). On a primary, BSP clocks waiting only for departed workers
  // complete, and the entry recording that is returned for replication.
  std::optional<v1::LogEntry> SetLiveWorkers(absl::flat_hash_set<uint32_t> live);

  // A barrier entry at the current log index (see LogEntry.barrier).
  v1::LogEntry BarrierLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Servers that fetched a snapshot as learners: the primary forwards them every later entry.
  void AddForwardTargetLocked(uint32_t server) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    forward_learners_.insert(server);
  }
  const absl::flat_hash_set<uint32_t>& ForwardTargetsLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return forward_learners_;
  }

  // --- Backup and learner ---
  // Applies `offered` if it is next in the log (then every queued entry it unblocks), queues it if
  // it is early, acknowledges it at once if already held. Errors go to its `done`: Aborted for an
  // entry of an older term, FailedPrecondition when this copy does not continue the sender's log.
  void OfferLocked(OfferedEntry offered, FinishedCallbacks* finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the state with a snapshot (ShardState frame) and applies the queued entries after it.
  // Errors: InvalidArgument for a state that does not fit this table and shard (nothing changes).
  absl::Status InstallLocked(const v1::ShardState& state, FrameReader& reader,
                             FinishedCallbacks* finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same in place (ShardStore::BeginInstallInPlace): Begin returns the ranges the snapshot's
  // payload goes to (nullopt: use InstallLocked), which the caller fills without holding mu()
  // (an uninstalled learner's store is read by nobody); Finish completes the installation.
  // Errors: InvalidArgument as InstallLocked; FailedPrecondition when this is not a learner
  // waiting for its snapshot.
  absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> BeginInstallInPlaceLocked(
      const v1::ShardState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishInstallInPlaceLocked(const v1::ShardState& state, FinishedCallbacks* finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- Any replica ---
  // The canonical state as a ShardState frame's header and payload (copied).
  void SerializeLocked(v1::ShardState* state, std::vector<grpc::Slice>* payload) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- Checkpoints ---
  // A primary's state for a checkpoint, copied under the lock (as SerializeLocked) so that the
  // file is written without it. With `cut_clock` (a BSP table), first waits (until `deadline`)
  // for the shard to complete exactly that many clocks, or to stand still short of it (no live
  // worker left, or no push accumulating and none for kIdleCut: the job is idle, between
  // steps, and every shard of the table stands at the same clock), and leaves out the pending
  // clocks and their accumulated sums: the copy holds the clocks it completed applied and nothing
  // after, which is what workers resuming at that clock expect (ShardState.completed_clocks says
  // which). Errors: Aborted when this replica is not the primary (any more) or the shard already
  // completed more clocks than the cut; DeadlineExceeded.
  static constexpr absl::Duration kIdleCut = absl::Milliseconds(250);
  absl::Status CaptureForCheckpoint(std::optional<uint64_t> cut_clock, absl::Time deadline,
                                    v1::ShardState* state, std::vector<grpc::Slice>* payload);
  // A fresh primary or backup of a restored cluster takes the state of its checkpoint file; a
  // primary starts its term at `epoch` from the file's log index. Errors: InvalidArgument for a
  // state that does not fit this table and shard (nothing changes).
  absl::Status RestoreLocked(const v1::ShardState& state, FrameReader& reader, uint64_t epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same in place (ShardStore::BeginInstallInPlace), so that a large file is read straight
  // into the store: Begin returns the ranges the file's payload goes to (nullopt: use
  // RestoreLocked), which the caller fills holding mu() (the replica is not serving yet; on a
  // failure it is discarded); Finish completes the restore.
  absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> BeginRestoreInPlaceLocked(
      const v1::ShardState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishRestoreInPlaceLocked(const v1::ShardState& state, uint64_t epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BSP: clocks completed.
  uint64_t CompletedClocksLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return clock_.completed();
  }

  bool Readable(uint64_t reader_clock);
  // ConsistencyClock::DescribeWait, naming the table and shard.
  std::string DescribeWait(uint64_t reader_clock);
  // The current values of `keys` (see ShardStore::Read) and the shard's clock.
  grpc::Slice Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                   v1::TensorHeader* header, uint64_t* clock);

 private:
  // Completes every completable BSP clock in the clock's bookkeeping, recording each in `entry`
  // (the store applies them in ApplyCompletionsLocked).
  void CompleteClocksLocked(v1::LogEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyCompletionsLocked(const v1::LogEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::LogEntry NextEntryLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Checks an entry's term against the one followed, taking up a newer one if this copy is
  // exactly at its base.
  absl::Status CheckTermLocked(const v1::LogEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the entry at log_index_ + 1.
  absl::Status ApplyEntryLocked(OfferedEntry& offered) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies queued entries while the next one is there.
  void DrainLocked(FinishedCallbacks* finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefuseQueuedLocked(const absl::Status& why, FinishedCallbacks* finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckSnapshotOfThisShard(const v1::ShardState& state) const;
  // Takes the snapshot's clock, dedupe record and log position once its store part is in, and
  // applies the entries queued after it.
  void AdoptSnapshotLocked(const v1::ShardState& state, FinishedCallbacks* finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A restored primary's term starts at `epoch` from its log index.
  void StartRestoredTermLocked(uint64_t epoch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Answers the barriers the log has reached.
  void ReleaseBarriersLocked(FinishedCallbacks* finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Queued {
    OfferedEntry offered;
    bool acknowledged = false;
  };

  absl::Mutex mu_;
  const std::unique_ptr<ShardStore> store_;  // Mutable parts guarded by mu_.
  ConsistencyClock clock_ ABSL_GUARDED_BY(mu_);
  DedupeTable dedupe_ ABSL_GUARDED_BY(mu_);
  ReplicaRole role_ ABSL_GUARDED_BY(mu_);
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
  // False for a learner until its snapshot is installed.
  bool installed_ ABSL_GUARDED_BY(mu_);
  uint64_t log_index_ ABSL_GUARDED_BY(mu_) = 0;
  // When the newest log entry was made (primary).
  absl::Time last_entry_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t term_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t term_base_index_ ABSL_GUARDED_BY(mu_) = 0;
  // Backup, learner: entries that arrived before their predecessors, by log index.
  std::map<uint64_t, Queued> queued_ ABSL_GUARDED_BY(mu_);
  // Barriers waiting for the log to reach their index.
  std::multimap<uint64_t, std::function<void(const absl::Status&)>> barriers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint32_t> forward_learners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_TABLE_SHARD_H_
