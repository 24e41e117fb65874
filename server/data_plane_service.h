// The parameter server's gRPC service: Push, PushStream, Pull and PushPull for workers, Replicate
// and FetchShardSnapshot between replicas, DescribeShards for operators, Checkpoint for the
// coordinator (server/checkpoint_writer.h, on a thread of its own), all over gRPC's callback
// API so that no thread waits for a clock, a replica's acknowledgement or a newer map. The
// decisions are ReplicaSet's (replica_set.h); this class converts frames and statuses, parks
// calls and sends replication.
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
// coordinator session calls OnClusterMap from its watch thread. Lock order: mu_, then the
// ReplicaSet's, then TableShard::mu(); waiting_mu_ is taken alone, then TableShard::mu();
// handoff_mu_ is a leaf.
#ifndef PS_SERVER_DATA_PLANE_SERVICE_H_
#define PS_SERVER_DATA_PLANE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/authorizer.h"
#include "common/metrics/metric_registry.h"
#include "common/transport_security.h"
#include "proto/coordinator.pb.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/parked_pulls.h"
#include "server/replica_set.h"
#include "server/replicator.h"
#include "server/server_metrics.h"
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
  // Tells the coordinator this primary is ready to hand sealed `shard` over: every entry it sent
  // is acknowledged (fire and forget: the outcome arrives as a new map). `epoch`: the map that
  // sealed it.
  std::function<void(uint32_t shard, uint64_t epoch)> report_handoff_ready = [](uint32_t,
                                                                                uint64_t) {};
  // Deadline of one Replicate call and of one snapshot copy.
  absl::Duration replication_timeout = absl::Seconds(5);
  absl::Duration snapshot_timeout = absl::Seconds(120);
  // How long a checkpoint waits for a BSP shard to reach its cut clock (training goes on
  // meanwhile; only the checkpoint waits).
  absl::Duration checkpoint_cut_timeout = absl::Minutes(10);
  // Memory quotas of the shards this server holds (unlimited by default).
  MemoryLimits memory;
  // Pulls waiting for slower workers (BSP, SSP), in all and per client connection; beyond,
  // RESOURCE_EXHAUSTED.
  size_t max_parked_pulls = 65536;
  size_t max_parked_pulls_per_client = 1024;
  // Push streams open at once per client connection; beyond, RESOURCE_EXHAUSTED.
  int max_streams_per_client = 64;
  // Who callers are (every rpc checks their roles against its allowed_roles in the proto) and
  // how this server's channels to other servers are secured.
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
};

class DataPlaneService final
    : public v1::ParameterServer::WithRawCallbackMethod_Push<
          v1::ParameterServer::WithRawCallbackMethod_Pull<
              v1::ParameterServer::WithRawCallbackMethod_PushPull<
                  v1::ParameterServer::WithRawCallbackMethod_PushStream<
                      v1::ParameterServer::WithRawCallbackMethod_Replicate<
                          v1::ParameterServer::WithRawCallbackMethod_FetchShardSnapshot<
                              v1::ParameterServer::CallbackService>>>>>> {
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
  grpc::ServerUnaryReactor* PushPull(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* PushStream(grpc::CallbackServerContext* context,
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
  // Runs WriteCheckpointShards on a thread of its own (it waits for BSP cuts and writes files);
  // one checkpoint at a time (ABORTED while another is being written).
  grpc::ServerUnaryReactor* Checkpoint(grpc::CallbackServerContext* context,
                                       const v1::CheckpointRequest* request,
                                       v1::CheckpointResponse* response) override;

 private:
  class PullCall;
  class PushCall;
  class PushPullCall;
  class PushStreamCall;
  struct PushStreamState;
  struct ReplicateWork;
  class SnapshotWriter;
  struct PushProgress;

  // Validates and applies a push (Push and PushPull), replicates it, and settles `progress`.
  // Counts an open push stream of `client`; RESOURCE_EXHAUSTED at its cap.
  grpc::Status OpenStream(const std::string& client);
  void CloseStream(const std::string& client);
  void StartPush(grpc::CallbackServerContext* context, const v1::PushRequest& header,
                 FrameReader& reader, const std::shared_ptr<PushProgress>& progress);
  void FailPush(grpc::CallbackServerContext* context, PushProgress& progress,
                const absl::Status& status, uint64_t refresh_epoch);
  // One message of a PushStream: a push of its own, acknowledged to `state` as message `index`.
  void HandlePushStreamMessage(grpc::CallbackServerContext* context, const grpc::ByteBuffer& frame,
                               const std::shared_ptr<PushStreamState>& state, size_t index);
  // Sends a push's entries (ReplicaSet::SendFn); settles `progress` once every replica has them
  // (after a map without the failed ones, if some failed) or fails it.
  void ReplicatePush(const std::shared_ptr<PushProgress>& progress,
                     std::vector<ReplicationRequest> requests, uint64_t epoch);
  // Sends `requests`, reports failed replicas to the coordinator, and calls `done` with an error
  // that fails the push (a replica says this server was deposed) or the failures still to be
  // resolved by a new map (empty: all acknowledged).
  void Replicate(std::vector<ReplicationRequest> requests, uint64_t epoch,
                 std::function<void(absl::Status, std::vector<ReplicationResult>)> done);
  // Re-examines pushes waiting for a map without their failed replicas.
  void ResolveWaitingPushes();
  // Wakes the handoff thread, which notes the sealed shards this server leads (after a map
  // change) and reports those with no replication in flight, each once per epoch. A thread of
  // its own, because it waits for shard locks and the report must not run under the map
  // callback's locks.
  void WakeHandoffs();
  void HandoffLoop();
  // Handles a Replicate frame once this server's map has caught up with it.
  void HandleReplicate(const std::shared_ptr<ReplicateWork>& work);

  absl::Status PreparePull(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                           PullCall* call);
  // Checks a pull's header and keys and binds `call` to the shards it reads (Pull and PushPull).
  absl::Status BindPull(grpc::CallbackServerContext* context, const v1::PullRequest& header,
                        FrameReader& reader, PullCall* call);
  bool ParkUnlessReadable(PullCall* call);
  // Answers the parked pulls on `touched` shards that have become readable.
  void ServeReadyPulls(absl::Span<const TableShard* const> touched);
  // Answers `pulls` (unparked), or refuses them if this server's lease lapsed meanwhile.
  void AnswerUnparked(const std::vector<ParkedPull*>& pulls);
  void CancelWaiting(PullCall* call);

  // The learner thread: copies the snapshots of shards this server learns, and reports them.
  void LearnerLoop();
  // Copies and installs one table's part of a shard from its primary.
  absl::Status FetchAndInstall(const ReplicaSet::SnapshotToFetch& item);

  const DataPlaneOptions options_;
  ServerMetrics metrics_{GlobalMetrics()};
  // The scrape-time part of metrics_, removed by the destructor (before the members it reads).
  int metrics_collector_ = -1;
  MemoryQuota memory_quota_;
  absl::Mutex streams_mu_;
  absl::flat_hash_map<std::string, int> streams_by_client_ ABSL_GUARDED_BY(streams_mu_);
  ReplicaSet replicas_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Replicate calls waiting for this server's map to reach their epoch or catalog version.
  std::vector<std::shared_ptr<ReplicateWork>> replicate_waiting_ ABSL_GUARDED_BY(mu_);
  // Pushes waiting for a map without a replica that failed.
  std::vector<std::shared_ptr<PushProgress>> pushes_waiting_ ABSL_GUARDED_BY(mu_);

  absl::Mutex waiting_mu_;
  ParkedPulls parked_ ABSL_GUARDED_BY(waiting_mu_);
  bool pulls_stopping_ ABSL_GUARDED_BY(waiting_mu_) = false;

  // Wakes the learner thread on map changes and at Stop().
  absl::Mutex learner_mu_;
  uint64_t learner_generation_ ABSL_GUARDED_BY(learner_mu_) = 0;
  bool learner_stop_ ABSL_GUARDED_BY(learner_mu_) = false;
  std::thread learner_thread_;

  // A leaf: taken inside ApplyPush's `send`, with shard locks held, so nothing is taken under it.
  absl::Mutex handoff_mu_;
  uint64_t handoff_generation_ ABSL_GUARDED_BY(handoff_mu_) = 0;
  // Replicate calls in flight per shard (a handoff waits for none), and the (shard, epoch)
  // handoffs reported already.
  absl::flat_hash_map<uint32_t, int> replicating_ ABSL_GUARDED_BY(handoff_mu_);
  std::set<std::pair<uint32_t, uint64_t>> handoffs_reported_ ABSL_GUARDED_BY(handoff_mu_);
  // Sealed shards this server leads, as the handoff thread last saw them.
  std::set<uint32_t> sealed_led_ ABSL_GUARDED_BY(handoff_mu_);
  bool handoff_stop_ ABSL_GUARDED_BY(handoff_mu_) = false;
  std::thread handoff_thread_;

  // The thread writing a checkpoint, if one ran; joined before the next and at destruction.
  absl::Mutex checkpoint_mu_;
  bool checkpoint_running_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  // Set by Stop(): a checkpoint waiting for a BSP cut gives up.
  std::atomic<bool> checkpoint_cancelled_{false};
  std::thread checkpoint_thread_ ABSL_GUARDED_BY(checkpoint_mu_);

  // Last, so that it is destroyed first: its destructor waits for the callbacks of the calls in
  // flight, which use the members above.
  const Authorizer authorizer_;
  Replicator replicator_;
};

}  // namespace ps

#endif  // PS_SERVER_DATA_PLANE_SERVICE_H_
