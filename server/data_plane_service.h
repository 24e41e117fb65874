// The parameter server's gRPC service: Push and Pull for workers, Replicate and
// FetchShardSnapshot between replicas, DescribeShards for operators, all over gRPC's callback
// API so that no thread waits for a clock, a replica's acknowledgement or a newer map.
//
// Roles come from the cluster map (proto/types.proto): for every shard this server is the
// primary, a backup, a learner or nothing, and it holds a TableShard per table for each shard it
// has a role in.
//   Primary: validates a push completely, applies it all-or-nothing under the shards' locks, then
//     sends each shard's log entry to that shard's backups and learners (Replicator) and
//     acknowledges the worker once every one of them answered. A replica that fails is reported
//     to the coordinator at once, and the push waits for the map that no longer lists it.
//     Pulls are parked until the shard's clock allows them.
//   Backup, learner: applies Replicate entries in log order (TableShard::OfferLocked); a request
//     routed with a map this server has not seen yet waits for it.
//   Learner: a thread of this service copies each table's snapshot from the primary, installs
//     it and reports to the coordinator that it caught up.
// Fencing: while the lease with the coordinator has lapsed (options.lease_valid), pushes and
// pulls fail with UNAVAILABLE: a hung or partitioned primary may already have been replaced.
//
// Thread-safety: safe for concurrent use; gRPC calls it from its callback threads and the
// coordinator session calls OnClusterMap from its watch thread. Lock order: state_mu_, then
// waiting_mu_, then TableShard::mu() in ascending (table, shard) order.
#ifndef PS_SERVER_DATA_PLANE_SERVICE_H_
#define PS_SERVER_DATA_PLANE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/coordinator.pb.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/replicator.h"
#include "server/table_shard.h"

namespace ps {

struct DataPlaneOptions {
  // Whether the lease with the coordinator holds; a server outside it serves nothing.
  std::function<bool()> lease_valid = [] { return true; };
  // Reports a replica this primary could not replicate to (fire and forget: the outcome arrives
  // as a new map).
  std::function<void(const v1::ReportReplicaFailureRequest&)> report_replica_failure =
      [](const v1::ReportReplicaFailureRequest&) {};
  // Tells the coordinator this learner caught up with `shard` for every table of the catalog
  // version; returns its answer.
  std::function<absl::Status(uint32_t shard, uint64_t catalog_version)> report_learner_caught_up =
      [](uint32_t, uint64_t) { return absl::UnimplementedError("no coordinator"); };
  // Deadline of one Replicate call and of one snapshot copy.
  absl::Duration replication_timeout = absl::Seconds(5);
  absl::Duration snapshot_timeout = absl::Seconds(120);
};

class DataPlaneService final
    : public v1::ParameterServer::WithRawCallbackMethod_Push<
          v1::ParameterServer::WithRawCallbackMethod_Pull<
              v1::ParameterServer::WithRawCallbackMethod_Replicate<
                  v1::ParameterServer::WithRawCallbackMethod_FetchShardSnapshot<
                      v1::ParameterServer::CallbackService>>>> {
 public:
  explicit DataPlaneService(DataPlaneOptions options = DataPlaneOptions());
  ~DataPlaneService() override;

  // Adopts `map` if it is newer than the current one in epoch, membership or catalog: creates,
  // re-roles or drops this server's TableShards, tells primaries which workers are alive, and
  // re-examines everything waiting on the map.
  void OnClusterMap(const v1::ClusterMap& map, uint32_t self_id);

  // Answers every parked call with UNAVAILABLE and stops the learner thread; call before shutting
  // the gRPC server down.
  void Stop();

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Replicate(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  // Raw: chunks are ShardSnapshotChunk messages assembled around slices of the serialised state,
  // so the state is not copied again on its way out.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* FetchShardSnapshot(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* DescribeShards(grpc::CallbackServerContext* context,
                                           const v1::DescribeShardsRequest* request,
                                           v1::DescribeShardsResponse* response) override;

 private:
  class PullCall;
  class PushCall;
  class ReplicateCall;
  class SnapshotWriter;
  struct PushProgress;
  using ShardKey = std::pair<uint32_t, uint32_t>;  // (table id, shard id)

  // A validated push slice bound to its shard, with its bytes for forwarding.
  struct BoundPush {
    std::shared_ptr<TableShard> shard;
    PushPayload payload;
    v1::ShardSlice slice;
    std::vector<grpc::Slice> bytes;
    size_t request_index = 0;
  };

  // Validates and applies a push and sends it to the replicas (ReplicatePush) between deciding
  // its log entries and applying them; fills `progress` with the answer.
  absl::Status ApplyPush(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                         const std::shared_ptr<PushProgress>& progress);
  // Sends a push's entries; settles `progress` once every replica has them (after a map
  // without the failed ones, if some failed) or fails it.
  void ReplicatePush(const std::shared_ptr<PushProgress>& progress,
                     std::vector<ReplicationRequest> requests, uint64_t epoch);
  absl::Status PreparePull(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                           PullCall* call);
  // Checks the request's epoch; on a mismatch sets the `ps-epoch` trailer where it helps.
  absl::Status CheckRouting(grpc::CallbackServerContext* context, uint64_t epoch)
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  absl::StatusOr<std::shared_ptr<TableShard>> PrimaryShardFor(
      grpc::CallbackServerContext* context, const v1::ShardSlice& slice, uint64_t catalog_version)
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Replicas (backups, and learners that fetched their snapshot) of `shard` besides this server.
  std::vector<uint32_t> TargetsLocked(uint32_t shard_id, const TableShard& table_shard) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Adds `entry` (with its payload slices) to the request for each target.
  void AddEntryLocked(const v1::LogEntry& entry, const std::vector<uint32_t>& targets,
                      const std::vector<grpc::Slice>& bytes,
                      std::vector<ReplicationRequest>* requests) ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Sends `requests`; reports failed replicas; calls `done` with the failures still to be
  // resolved by a new map (empty: all acknowledged) or an error that fails the push.
  void Replicate(std::vector<ReplicationRequest> requests, uint64_t epoch,
                 std::function<void(absl::Status, std::vector<ReplicationResult>)> done);
  // Whether the current map no longer lists `server` as a replica of any of `shard_ids` this
  // server leads.
  bool ReplicaRemovedLocked(uint32_t server, const std::vector<uint32_t>& shard_ids) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Re-examines pushes waiting for a map without their failed replicas.
  void ResolveWaitingPushes();

  // Handles a Replicate frame once this server's map has caught up with it.
  void HandleReplicate(ReplicateCall* call);

  bool ParkUnlessReadable(PullCall* call);
  void ServeReadyPulls();
  void CancelWaiting(PullCall* call);

  // The learner thread: copies snapshots for shards this server is a learner of.
  void LearnerLoop();
  // Copies and installs one table's part of `shard` from `primary_address`.
  absl::Status FetchAndInstall(uint32_t table_id, uint32_t shard_id, uint32_t primary,
                               const std::string& primary_address, uint64_t epoch);

  const DataPlaneOptions options_;
  Replicator replicator_;

  absl::Mutex state_mu_;
  uint32_t self_id_ ABSL_GUARDED_BY(state_mu_) = 0;
  v1::ClusterMap map_ ABSL_GUARDED_BY(state_mu_);
  // Live workers at map_: id -> incarnation.
  absl::flat_hash_map<uint32_t, uint64_t> live_workers_ ABSL_GUARDED_BY(state_mu_);
  absl::flat_hash_map<uint32_t, std::string> server_addresses_ ABSL_GUARDED_BY(state_mu_);
  absl::flat_hash_map<uint32_t, v1::TableInfo> tables_ ABSL_GUARDED_BY(state_mu_);
  // Shared with in-flight calls, which keep a shard alive after the map drops it.
  absl::flat_hash_map<ShardKey, std::shared_ptr<TableShard>> shards_ ABSL_GUARDED_BY(state_mu_);
  bool stopping_ ABSL_GUARDED_BY(state_mu_) = false;
  // Replicate calls waiting for this server's map to reach their epoch or catalog version.
  std::vector<ReplicateCall*> replicate_waiting_ ABSL_GUARDED_BY(state_mu_);
  // Pushes waiting for a map without a replica that failed.
  std::vector<std::shared_ptr<PushProgress>> pushes_waiting_ ABSL_GUARDED_BY(state_mu_);

  absl::Mutex waiting_mu_ ABSL_ACQUIRED_AFTER(state_mu_);
  absl::flat_hash_set<PullCall*> waiting_ ABSL_GUARDED_BY(waiting_mu_);
  bool pulls_stopping_ ABSL_GUARDED_BY(waiting_mu_) = false;

  // Wakes the learner thread on map changes and at Stop().
  absl::Mutex learner_mu_;
  uint64_t learner_generation_ ABSL_GUARDED_BY(learner_mu_) = 0;
  bool learner_stop_ ABSL_GUARDED_BY(learner_mu_) = false;
  std::thread learner_thread_;
};

}  // namespace ps

#endif  // PS_SERVER_DATA_PLANE_SERVICE_H_
