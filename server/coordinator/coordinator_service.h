// gRPC adapter of the Coordinator service over ClusterState: converts protos and statuses, no
// logic of its own. Safe for concurrent use by gRPC's server threads.
#ifndef PS_SERVER_COORDINATOR_COORDINATOR_SERVICE_H_
#define PS_SERVER_COORDINATOR_COORDINATOR_SERVICE_H_

#include <atomic>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/authorizer.h"
#include "common/connection_probe.h"
#include "common/transport_security.h"
#include "proto/coordinator.grpc.pb.h"
#include "server/coordinator/checkpoint_manager.h"
#include "server/coordinator/cluster_state.h"
#include "server/coordinator/worker_progress.h"

namespace ps {

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  // `state` is borrowed and must outlive the service; `prober` checks suspects (tests fake it);
  // `checkpoints`, borrowed too, takes checkpoints (null: the Checkpoint rpc answers
  // FAILED_PRECONDITION); `security` says who callers are (every rpc checks their roles against
  // its allowed_roles in the proto); `progress`, borrowed, keeps the workers' training reports
  // (null: they are dropped and the status shows none).
  explicit CoordinatorService(
      ClusterState& state, ConnectionProber prober = DefaultProber(),
      CheckpointManager* checkpoints = nullptr,
      std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext(),
      WorkerProgressBook* progress = nullptr);

  // What GetClusterStatus answers (also the status page's /api/status).
  v1::ClusterStatus FullStatus(bool with_curves) const;
  // The port of this coordinator's HTTP endpoint, for ClusterStatus.http_port.
  void SetHttpPort(int port) { http_port_.store(port); }

  grpc::Status RegisterServer(grpc::ServerContext* context,
                              const v1::RegisterServerRequest* request,
                              v1::RegisterServerResponse* response) override;
  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status Leave(grpc::ServerContext* context, const v1::LeaveRequest* request,
                     v1::LeaveResponse* response) override;
  // Blocks a server thread per watcher; members are few (one per daemon), unlike data-plane waits.
  grpc::Status WatchClusterMap(grpc::ServerContext* context,
                               const v1::WatchClusterMapRequest* request,
                               grpc::ServerWriter<v1::ClusterMap>* writer) override;
  grpc::Status CreateTable(grpc::ServerContext* context, const v1::CreateTableRequest* request,
                           v1::CreateTableResponse* response) override;
  grpc::Status DescribeTable(grpc::ServerContext* context, const v1::DescribeTableRequest* request,
                             v1::TableInfo* response) override;
  grpc::Status GetClusterStatus(grpc::ServerContext* context,
                                const v1::GetClusterStatusRequest* request,
                                v1::ClusterStatus* response) override;
  grpc::Status ReportReplicaFailure(grpc::ServerContext* context,
                                    const v1::ReportReplicaFailureRequest* request,
                                    v1::ReportReplicaFailureResponse* response) override;
  grpc::Status ReportLearnerCaughtUp(grpc::ServerContext* context,
                                     const v1::ReportLearnerCaughtUpRequest* request,
                                     v1::ReportLearnerCaughtUpResponse* response) override;

  // Waits until the suspect's lease has lapsed (at most 3/4 of the failure timeout), then probes
  // it; one probe per server at a time.
  grpc::Status ReportUnreachable(grpc::ServerContext* context,
                                 const v1::ReportUnreachableRequest* request,
                                 v1::ReportUnreachableResponse* response) override;

  grpc::Status Checkpoint(grpc::ServerContext* context, const v1::CheckpointNowRequest* request,
                          v1::CheckpointNowResponse* response) override;
  grpc::Status Drain(grpc::ServerContext* context, const v1::DrainRequest* request,
                     v1::DrainResponse* response) override;
  grpc::Status Undrain(grpc::ServerContext* context, const v1::DrainRequest* request,
                       v1::DrainResponse* response) override;
  grpc::Status ReportHandoffReady(grpc::ServerContext* context,
                                  const v1::ReportHandoffReadyRequest* request,
                                  v1::ReportHandoffReadyResponse* response) override;

  // Connects to the suspect's address itself (ProbeConnection).
  static ConnectionProber DefaultProber();

  // Whether this coordinator may answer now. With several coordinators (etcd) only the leader
  // whose lease is surely alive may (LeaderElection::MayServe): every rpc, and every map a watch
  // sends, is refused with UNAVAILABLE otherwise, so that a paused or cut-off ex-leader never
  // acknowledges a heartbeat or publishes a map. Unset: always.
  // REQUIRES: called before the service serves.
  void SetServingGate(std::function<bool()> may_serve) { may_serve_ = std::move(may_serve); }

 private:
  // OK, or the UNAVAILABLE status every rpc answers while the serving gate is closed.
  grpc::Status Serving() const;
  // Serving(), then the caller's roles against `method`'s (their set in `*caller`). Every rpc
  // starts with it.
  grpc::Status Admit(const grpc::ServerContext& context, absl::string_view method,
                     RoleSet* caller = nullptr) const;
  // Admit(), and the caller has the role of `member` (server or worker) it speaks for.
  grpc::Status AdmitMember(const grpc::ServerContext& context, absl::string_view method,
                           const v1::MemberRef& member) const;

  ClusterState& state_;
  CheckpointManager* const checkpoints_;
  WorkerProgressBook* const progress_;
  std::atomic<int> http_port_{0};
  const ConnectionProber prober_;
  std::function<bool()> may_serve_;  // Set before serving, then constant.
  const Authorizer authorizer_;
  absl::Mutex probing_mu_;
  absl::flat_hash_set<uint32_t> probing_ ABSL_GUARDED_BY(probing_mu_);
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_COORDINATOR_SERVICE_H_
