// gRPC adapter of the Coordinator service over ClusterState: converts protos and statuses, no
// logic of its own. Safe for concurrent use by gRPC's server threads.
#ifndef PS_SERVER_COORDINATOR_COORDINATOR_SERVICE_H_
#define PS_SERVER_COORDINATOR_COORDINATOR_SERVICE_H_

#include "proto/coordinator.grpc.pb.h"
#include "server/coordinator/cluster_state.h"

namespace ps {

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  // `state` is borrowed and must outlive the service.
  explicit CoordinatorService(ClusterState& state) : state_(state) {}

  grpc::Status RegisterServer(grpc::ServerContext* context, const v1::RegisterServerRequest* request,
                              v1::RegisterServerResponse* response) override;
  grpc::Status RegisterWorker(grpc::ServerContext* context, const v1::RegisterWorkerRequest* request,
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

 private:
  ClusterState& state_;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_COORDINATOR_SERVICE_H_
