// The parameter server's data plane: Push and Pull over gRPC's callback API, routed to the
// TableShards this server leads according to the cluster map.
//
// Pushes are validated completely (epoch, primacy, worker membership, tables, lengths, keys,
// finite values) before any shard changes, then applied all-or-nothing under the shards' locks.
// Pulls that must wait for a clock (BSP, SSP) are parked without a thread and answered by whichever
// thread makes them readable (a push completing a clock, a map change removing a dead worker);
// a client that gives up (deadline, cancel) has its parked pull finished at once.
//
// Thread-safety: safe for concurrent use; gRPC calls it from its callback threads and the
// coordinator session calls OnClusterMap from its watch thread. Lock order: state_mu_, then
// waiting_mu_, then TableShard::mu() in ascending (table, shard) order.
#ifndef PS_SERVER_DATA_PLANE_SERVICE_H_
#define PS_SERVER_DATA_PLANE_SERVICE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/table_shard.h"

namespace ps {

class DataPlaneService final
    : public v1::ParameterServer::WithRawCallbackMethod_Push<
          v1::ParameterServer::WithRawCallbackMethod_Pull<v1::ParameterServer::CallbackService>> {
 public:
  DataPlaneService() = default;
  ~DataPlaneService() override;

  // Adopts `map` if it is newer than the current one: creates the shards `self_id` now leads for
  // every table in the catalog and tells every shard which workers are alive.
  void OnClusterMap(const v1::ClusterMap& map, uint32_t self_id);

  // Answers every parked pull with UNAVAILABLE; call before shutting the gRPC server down.
  void FinishWaitingPulls();

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Pull(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;

 private:
  class PullCall;
  // A validated push slice bound to its shard.
  struct BoundPush {
    TableShard* shard;
    PushPayload payload;
  };

  // Applies a push frame; returns whether it was a duplicate.
  absl::StatusOr<bool> ApplyPush(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer& request);
  // Validates a pull frame and binds it to its shards.
  absl::Status PreparePull(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                           PullCall* call);
  // Checks the request's epoch and catalog version; on a mismatch sets the `ps-epoch` trailer.
  absl::Status CheckRouting(grpc::CallbackServerContext* context, uint64_t epoch)
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // The shard `slice` names, if this server leads it for a table it knows.
  absl::StatusOr<TableShard*> ShardFor(grpc::CallbackServerContext* context,
                                       const v1::ShardSlice& slice, uint64_t catalog_version)
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);

  // Parks `call` unless it is readable now; returns whether it was parked.
  bool ParkUnlessReadable(PullCall* call);
  // Answers every parked pull that has become readable.
  void ServeReadyPulls();
  // Called by a parked pull whose client went away.
  void CancelWaiting(PullCall* call);

  absl::Mutex state_mu_;
  uint32_t self_id_ ABSL_GUARDED_BY(state_mu_) = 0;
  uint64_t epoch_ ABSL_GUARDED_BY(state_mu_) = 0;
  uint64_t catalog_version_ ABSL_GUARDED_BY(state_mu_) = 0;
  uint32_t num_shards_ ABSL_GUARDED_BY(state_mu_) = 0;
  // Primary server of each shard at epoch_.
  std::vector<uint32_t> primaries_ ABSL_GUARDED_BY(state_mu_);
  absl::flat_hash_map<uint32_t, v1::TableInfo> tables_ ABSL_GUARDED_BY(state_mu_);
  // Live workers at epoch_: id -> incarnation.
  absl::flat_hash_map<uint32_t, uint64_t> live_workers_ ABSL_GUARDED_BY(state_mu_);
  // (table id, shard id) -> shard. Shards are never removed while the service lives, so pointers
  // handed to parked pulls stay valid.
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, std::unique_ptr<TableShard>> shards_
      ABSL_GUARDED_BY(state_mu_);

  absl::Mutex waiting_mu_ ABSL_ACQUIRED_AFTER(state_mu_);
  absl::flat_hash_set<PullCall*> waiting_ ABSL_GUARDED_BY(waiting_mu_);
  bool stopping_ ABSL_GUARDED_BY(waiting_mu_) = false;
};

}  // namespace ps

#endif  // PS_SERVER_DATA_PLANE_SERVICE_H_
