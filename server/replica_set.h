// This server's replicas of the shards it holds, seen through the cluster map, and every decision
// the data plane makes about them: which shards it leads, backs up or learns (map adoption, with
// promotions), the routing checks of a request, the all-or-nothing push transaction, the intake of
// replicated entries, snapshots for learners and their installation, and the bookkeeping of a
// learner's catch-up. Plain logic without network calls, driven by unit tests; the gRPC service
// (data_plane_service.h) adapts it to the wire and the Replicator sends what it returns.
//
// Thread-safety: safe for concurrent use. Lock order: the set's mutex, then TableShard::mu() in
// ascending (table, shard) order. Callbacks returned in FinishedCallbacks lists must be run by the
// caller with no lock held.
#ifndef PS_SERVER_REPLICA_SET_H_
#define PS_SERVER_REPLICA_SET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/frame.h"
#include "proto/parameter_server.pb.h"
#include "proto/types.pb.h"
#include "server/memory_quota.h"
#include "server/replicator.h"
#include "server/table_shard.h"

namespace ps {

// An error of a request with, where it helps the client, the epoch its map refresh must reach
// (the `ps-epoch` trailer); 0 for none.
struct RoutedError {
  absl::Status status;
  uint64_t refresh_epoch = 0;
};

// The encoding a pull is answered in: F32 (value_encoding unspecified or F32) or F16.
// Errors: InvalidArgument for any other.
absl::StatusOr<v1::Encoding> PullAnswerEncoding(const v1::PullRequest& header);

// A PushPull frame's payload starts with its pull's keys (proto/parameter_server.proto, Frames):
// consumes them from `reader` and returns a reader over just them, leaving `reader` at the push's
// payload; the split trusts nothing of the push. Errors: InvalidArgument when the pull's slices
// name more keys than the payload holds (nothing is consumed).
absl::StatusOr<FrameReader> SplitPullKeys(const v1::PullRequest& pull, FrameReader& reader);

class ReplicaSet {
 public:
  // `quota` (borrowed, may be null: unlimited) is charged with every store's memory and asked
  // before a push creates sparse rows.
  explicit ReplicaSet(MemoryQuota* quota = nullptr) : quota_(quota) {}
  ReplicaSet(const ReplicaSet&) = delete;
  ReplicaSet& operator=(const ReplicaSet&) = delete;

  // --- Map adoption ---
  struct Adoption {
    // False when the map was not newer than the current one (nothing changed).
    bool adopted = false;
    uint64_t epoch = 0;
    // Entries of BSP clocks that completed because workers left, to replicate.
    std::vector<ReplicationRequest> requests;
    FinishedCallbacks finished;
  };
  // Adopts `map` if it is newer (epoch, membership or catalog) or names another `self_id` (the
  // server joined again): creates a TableShard per table for every shard it now holds, promotes
  // backups the map made primaries (starting their term), re-creates a replica made a learner
  // (it copies afresh), drops shards it no longer holds, and tells primaries which workers live.
  // A fresh primary or backup of a table the map restores from a checkpoint (ClusterMap.restore)
  // loads the table's part of the shard from its file first; one whose file cannot be read is
  // not created (logged; requests for it answer UNAVAILABLE) rather than served empty.
  Adoption AdoptMap(const v1::ClusterMap& map, uint32_t self_id);

  uint64_t epoch() const;
  uint32_t self_id() const;

  // --- Primary: pushes and pulls ---
  struct PushOutcome {
    v1::PushResponse answer;
    // The shards of the push, and the epoch it was applied at.
    std::vector<uint32_t> shard_ids;
    // The same shards' objects, for waking the pulls parked on them.
    std::vector<const TableShard*> shards;
    uint64_t epoch = 0;
  };
  // Sends the replication requests of a push; called once per admitted push, after its entries
  // are decided (and `outcome` is complete) and before this replica applies them, so that the
  // replicas work meanwhile. Must not block.
  using SendFn = std::function<void(std::vector<ReplicationRequest>, const PushOutcome& outcome)>;
  // Validates a push frame completely (routing, worker, shards, payloads), then admits it on all
  // its shards or none, decides its log entries, calls `send`, and applies it. Duplicates are
  // acknowledged behind a replication barrier (LogEntry.barrier). Nothing changes on error.
  absl::StatusOr<PushOutcome> ApplyPush(const v1::PushRequest& header, FrameReader& reader,
                                        const SendFn& send, RoutedError* error);

  struct PullPart {
    std::shared_ptr<TableShard> shard;
    v1::ShardSlice slice;
    std::vector<uint64_t> keys;
  };
  // Validates a pull frame and binds its slices to the shards this server leads.
  absl::StatusOr<std::vector<PullPart>> BindPull(const v1::PullRequest& header, FrameReader& reader,
                                                 RoutedError* error);

  // Whether a push replicated at `replicated_epoch` whose replication to `failures` failed can now
  // be acknowledged: every failed server is either out of its shards in the current map or a
  // learner assigned after `replicated_epoch` (it will copy a snapshot holding the push)
  // (kAcknowledge), this server no longer leads one of the push's shards (kDeposed), or neither
  // yet (kWaiting).
  enum class Resolution { kWaiting, kAcknowledge, kDeposed };
  Resolution Resolve(const std::vector<uint32_t>& shard_ids,
                     const std::vector<ReplicationResult>& failures,
                     uint64_t replicated_epoch) const;

  // --- Backup and learner: replication intake ---
  // The entries of a Replicate frame bound to their shards and validated (nothing applied yet);
  // nullopt when this server's map is behind the request's (wait for it and call again).
  // Errors: Aborted (the sender is not the primary in this map), FailedPrecondition (no replica
  // of a shard here), InvalidArgument (malformed).
  using Offers = std::vector<std::pair<std::shared_ptr<TableShard>, OfferedEntry>>;
  absl::StatusOr<std::optional<Offers>> TakeReplicate(const v1::ReplicateRequest& header,
                                                      FrameReader& reader);

  // --- Snapshots ---
  struct Snapshot {
    v1::ShardState state;
    // The ShardState frame, as slices (copied from the shard).
    std::vector<grpc::Slice> frame;
  };
  // The state of a (table, shard) for `request`'s requester: a learner of the shard this server
  // leads (registered as a forwarding target from the snapshot's log index on), or an observer
  // (requester 0) asking any replica. Errors: Unavailable (map behind, or not installed yet),
  // Aborted (not a learner of a shard led here), NotFound.
  absl::StatusOr<Snapshot> TakeSnapshot(const v1::FetchShardSnapshotRequest& request);
  // Installs a snapshot frame into this learner's (table, shard). Errors: Aborted when it is no
  // longer a learner waiting for one; InvalidArgument for a frame that does not fit.
  absl::Status Install(uint32_t table_id, uint32_t shard_id, const grpc::ByteBuffer& frame,
                       FinishedCallbacks* finished);

  // The learner's (table, shard), for a SnapshotSink. Errors: NotFound when not held.
  absl::StatusOr<std::shared_ptr<TableShard>> LearnerShard(uint32_t table_id,
                                                           uint32_t shard_id) const;

  // --- Learner bookkeeping ---
  struct SnapshotToFetch {
    uint32_t table_id = 0;
    uint32_t shard_id = 0;
    uint32_t primary = 0;
    std::string primary_address;
    uint64_t epoch = 0;
  };
  // The (table, shard)s this learner still has to copy.
  std::vector<SnapshotToFetch> SnapshotsToFetch() const;
  // Shards this server learns whose every table is installed, with the catalog version they
  // cover: ready for ReportLearnerCaughtUp.
  std::vector<uint32_t> CaughtUpShards(uint64_t* catalog_version) const;

  // --- Handing a shard over ---
  // Shards this server leads that its map seals (ShardAssignment.sealed): it takes no push on
  // them, and reports each once every entry it sent is acknowledged. Returns only after every
  // push admitted before the seal has handed its entries to `send`.
  std::vector<uint32_t> SealedShardsLed() const;

  // --- Checkpoints ---
  // The (table, shard)s this server leads in its map, ordered by (table, shard).
  std::vector<std::shared_ptr<TableShard>> LedShards() const;

  // Every replica held, with its role, log position and state checksum.
  v1::DescribeShardsResponse Describe() const;
  // Every shard held, summarised for monitoring (cheap: no snapshot, no checksum).
  std::vector<TableShard::Summary> Summaries() const;

 private:
  MemoryQuota* const quota_;
  using ShardKey = std::pair<uint32_t, uint32_t>;  // (table id, shard id)

  // A request routed with a newer map than this server's waits for it (Unavailable); one routed
  // with an older map is served where this server still leads the shards (PrimaryShardFor).
  RoutedError CheckRouting(uint64_t epoch) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The shard of `slice` this server leads. Errors: Aborted with the epoch to refresh to when a
  // request routed with an older map names a shard another server leads now (set in `error`);
  // NotFound, Unavailable, InvalidArgument as the request's errors say.
  absl::StatusOr<std::shared_ptr<TableShard>> PrimaryShardFor(const v1::ShardSlice& slice,
                                                              uint64_t catalog_version,
                                                              uint64_t request_epoch,
                                                              RoutedError* error) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Backups, and learners that fetched their snapshot, of `shard_id` besides this server.
  std::vector<uint32_t> TargetsLocked(uint32_t shard_id, TableShard& table_shard) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_) ABSL_EXCLUSIVE_LOCKS_REQUIRED(table_shard.mu());
  // Adds `entry` (with its payload slices) to the request for each target.
  void AddEntryLocked(const v1::LogEntry& entry, const std::vector<uint32_t>& targets,
                      const std::vector<grpc::Slice>& bytes,
                      std::vector<ReplicationRequest>* requests) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  const v1::ShardAssignment* AssignmentLocked(uint32_t shard_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint32_t self_id_ ABSL_GUARDED_BY(mu_) = 0;
  v1::ClusterMap map_ ABSL_GUARDED_BY(mu_);
  // Live workers at map_: id -> incarnation.
  absl::flat_hash_map<uint32_t, uint64_t> live_workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, std::string> server_addresses_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, v1::TableInfo> tables_ ABSL_GUARDED_BY(mu_);
  // Shared with in-flight calls, which keep a shard alive after the map drops it.
  absl::flat_hash_map<ShardKey, std::shared_ptr<TableShard>> shards_ ABSL_GUARDED_BY(mu_);
  // Learner shards: the epoch of the assignment they were created for (a newer assignment of the
  // same server as learner replaces them: the copy starts afresh).
  absl::flat_hash_map<ShardKey, uint64_t> learner_since_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_REPLICA_SET_H_
