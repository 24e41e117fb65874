#include "server/coordinator/coordinator_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "proto/auth.pb.h"

namespace ps {
namespace {

// How often a watch re-checks for a cancelled client while the map is unchanged.
constexpr absl::Duration kWatchPollInterval = absl::Milliseconds(500);

constexpr absl::Duration kProbeTimeout = absl::Milliseconds(200);

}  // namespace

CoordinatorService::CoordinatorService(ClusterState& state, ConnectionProber prober,
                                       CheckpointManager* checkpoints,
                                       std::shared_ptr<const TransportSecurity> security,
                                       WorkerProgressBook* progress)
    : state_(state),
      checkpoints_(checkpoints),
      progress_(progress),
      prober_(std::move(prober)),
      authorizer_(v1::Coordinator::service_full_name(), std::move(security)) {}

grpc::Status CoordinatorService::Serving() const {
  if (!may_serve_ || may_serve_()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "this coordinator is not serving: it does not lead, or its etcd lease may "
                      "have lapsed; try the next coordinator address");
}

grpc::Status CoordinatorService::Admit(const grpc::ServerContext& context, absl::string_view method,
                                       RoleSet* caller) const {
  if (grpc::Status serving = Serving(); !serving.ok()) return serving;
  return authorizer_.Check(context, method, caller);
}

grpc::Status CoordinatorService::AdmitMember(const grpc::ServerContext& context,
                                             absl::string_view method,
                                             const v1::MemberRef& member) const {
  RoleSet caller;
  if (grpc::Status admitted = Admit(context, method, &caller); !admitted.ok()) return admitted;
  // A worker must not keep a server alive, make it leave or report it as itself, nor the reverse.
  const v1::PeerRole needed =
      member.role() == v1::MemberRef::ROLE_SERVER ? v1::PEER_ROLE_SERVER : v1::PEER_ROLE_WORKER;
  if (caller.Contains(needed)) return grpc::Status::OK;
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat(method, " for a ", RoleName(needed),
                   " member needs that role; the caller's roles are ", caller.ToString()));
}

ConnectionProber CoordinatorService::DefaultProber() {
  return [](const std::string& address) { return ProbeConnection(address, kProbeTimeout); };
}

grpc::Status CoordinatorService::ReportUnreachable(grpc::ServerContext* context,
                                                   const v1::ReportUnreachableRequest* request,
                                                   v1::ReportUnreachableResponse* response) {
  if (grpc::Status admitted = AdmitMember(*context, "ReportUnreachable", request->reporter());
      !admitted.ok()) {
    return admitted;
  }
  absl::StatusOr<ClusterState::Suspect> suspect =
      state_.SuspectUnreachable(request->reporter(), request->server_id());
  response->set_epoch(state_.Map().epoch());
  if (!suspect.ok()) {
    // A server already declared dead is not an error for the reporter: the map says so.
    if (absl::IsFailedPrecondition(suspect.status())) return grpc::Status::OK;
    return ToGrpcStatus(suspect.status());
  }
  {
    absl::MutexLock lock(&probing_mu_);
    if (!probing_.insert(request->server_id()).second) return grpc::Status::OK;  // Under way.
  }
  // A server that is only slow or cut off serves until its lease lapses; promoting another
  // replica before then could let both accept writes.
  absl::SleepFor(suspect->lease_lapsed - absl::Now());
  const ProbeResult probe = prober_(suspect->address);
  bool declared = false;
  if (probe == ProbeResult::kRefused) {
    declared = state_.DeclareDead(
        suspect->server,
        absl::StrCat(
            "declared dead: unreachable (reported by ",
            request->reporter().role() == v1::MemberRef::ROLE_SERVER ? "server " : "worker ",
            request->reporter().id(), ": ", request->reason(),
            ") and refusing the coordinator's connection"));
  }
  {
    absl::MutexLock lock(&probing_mu_);
    probing_.erase(request->server_id());
  }
  response->set_declared_dead(declared);
  response->set_epoch(state_.Map().epoch());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::RegisterServer(grpc::ServerContext* context,
                                                const v1::RegisterServerRequest* request,
                                                v1::RegisterServerResponse* response) {
  if (grpc::Status admitted = Admit(*context, "RegisterServer"); !admitted.ok()) return admitted;
  absl::StatusOr<Registration> registration =
      state_.RegisterServer(request->address(), absl::Now());
  if (!registration.ok()) return ToGrpcStatus(registration.status());
  response->set_server_id(registration->id);
  response->set_incarnation(registration->incarnation);
  *response->mutable_map() = std::move(registration->map);
  response->set_heartbeat_interval_ms(
      absl::ToInt64Milliseconds(state_.options().heartbeat_interval));
  response->set_failure_timeout_ms(absl::ToInt64Milliseconds(state_.options().failure_timeout));
  response->set_lease_ms(absl::ToInt64Milliseconds(ServerLease(state_.options())));
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::RegisterWorker(grpc::ServerContext* context,
                                                const v1::RegisterWorkerRequest* request,
                                                v1::RegisterWorkerResponse* response) {
  if (grpc::Status admitted = Admit(*context, "RegisterWorker"); !admitted.ok()) return admitted;
  absl::StatusOr<Registration> registration =
      state_.RegisterWorker(request->address(), absl::Now());
  if (!registration.ok()) return ToGrpcStatus(registration.status());
  response->set_worker_id(registration->id);
  response->set_incarnation(registration->incarnation);
  response->set_rank(registration->rank);
  response->set_steps_done(registration->steps_done);
  response->set_job_running(registration->job_running);
  *response->mutable_map() = std::move(registration->map);
  response->set_heartbeat_interval_ms(
      absl::ToInt64Milliseconds(state_.options().heartbeat_interval));
  response->set_failure_timeout_ms(absl::ToInt64Milliseconds(state_.options().failure_timeout));
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Heartbeat(grpc::ServerContext* context,
                                           const v1::HeartbeatRequest* request,
                                           v1::HeartbeatResponse* response) {
  if (grpc::Status admitted = AdmitMember(*context, "Heartbeat", request->member());
      !admitted.ok()) {
    return admitted;
  }
  absl::StatusOr<uint64_t> epoch = state_.Heartbeat(request->member(), request->known_epoch(),
                                                    absl::Now(), request->steps_done());
  if (!epoch.ok()) return ToGrpcStatus(epoch.status());
  if (progress_ != nullptr && request->has_progress() &&
      request->member().role() == v1::MemberRef::ROLE_WORKER) {
    progress_->Report(request->member().id(), request->progress());
  }
  response->set_epoch(*epoch);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Leave(grpc::ServerContext* context,
                                       const v1::LeaveRequest* request,
                                       v1::LeaveResponse* response) {
  if (grpc::Status admitted = AdmitMember(*context, "Leave", request->member()); !admitted.ok()) {
    return admitted;
  }
  absl::StatusOr<uint64_t> epoch = state_.Leave(request->member(), request->finished());
  if (!epoch.ok()) return ToGrpcStatus(epoch.status());
  response->set_epoch(*epoch);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::WatchClusterMap(grpc::ServerContext* context,
                                                 const v1::WatchClusterMapRequest* request,
                                                 grpc::ServerWriter<v1::ClusterMap>* writer) {
  if (grpc::Status admitted = Admit(*context, "WatchClusterMap"); !admitted.ok()) return admitted;
  uint64_t known_epoch = request->known_epoch();
  uint64_t known_catalog_version = request->known_catalog_version();
  uint64_t known_membership_version = request->known_membership_version();
  while (!context->IsCancelled()) {
    const std::optional<v1::ClusterMap> map =
        state_.WaitForNewerMap(known_epoch, known_catalog_version, known_membership_version,
                               absl::Now() + kWatchPollInterval);
    if (!map.has_value()) {
      if (!state_.IsShutDown()) continue;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is shutting down");
    }
    if (grpc::Status serving = Serving(); !serving.ok()) return serving;
    if (!writer->Write(*map)) break;  // The client went away.
    known_epoch = map->epoch();
    known_catalog_version = map->catalog_version();
    known_membership_version = map->membership_version();
  }
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::CreateTable(grpc::ServerContext* context,
                                             const v1::CreateTableRequest* request,
                                             v1::CreateTableResponse* response) {
  RoleSet caller;
  if (grpc::Status admitted = Admit(*context, "CreateTable", &caller); !admitted.ok()) {
    return admitted;
  }
  // Only admin creates; a worker joins a table that exists (the same spec again is answered as
  // for admin, created = false; a different one ALREADY_EXISTS). Tables are never dropped, so
  // one found here still exists below.
  if (!caller.Contains(v1::PEER_ROLE_ADMIN) &&
      absl::IsNotFound(state_.DescribeTable(request->spec().name()).status())) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("table '", request->spec().name(),
                                     "' does not exist and only admin may create tables; a "
                                     "worker joins it once an admin (psctl, or the job's chief "
                                     "worker) has created it"));
  }
  absl::StatusOr<std::pair<v1::TableInfo, bool>> created = state_.CreateTable(request->spec());
  if (!created.ok()) return ToGrpcStatus(created.status());
  *response->mutable_table() = std::move(created->first);
  response->set_created(created->second);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DescribeTable(grpc::ServerContext* context,
                                               const v1::DescribeTableRequest* request,
                                               v1::TableInfo* response) {
  if (grpc::Status admitted = Admit(*context, "DescribeTable"); !admitted.ok()) return admitted;
  absl::StatusOr<v1::TableInfo> table = state_.DescribeTable(request->name());
  if (!table.ok()) return ToGrpcStatus(table.status());
  *response = *std::move(table);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ReportReplicaFailure(
    grpc::ServerContext* context, const v1::ReportReplicaFailureRequest* request,
    v1::ReportReplicaFailureResponse* response) {
  if (grpc::Status admitted = Admit(*context, "ReportReplicaFailure"); !admitted.ok()) {
    return admitted;
  }
  absl::StatusOr<uint64_t> epoch = state_.ReportReplicaFailure(*request);
  if (!epoch.ok()) return ToGrpcStatus(epoch.status());
  response->set_epoch(*epoch);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ReportLearnerCaughtUp(
    grpc::ServerContext* context, const v1::ReportLearnerCaughtUpRequest* request,
    v1::ReportLearnerCaughtUpResponse* response) {
  if (grpc::Status admitted = Admit(*context, "ReportLearnerCaughtUp"); !admitted.ok()) {
    return admitted;
  }
  absl::StatusOr<uint64_t> epoch = state_.ReportLearnerCaughtUp(*request);
  if (!epoch.ok()) return ToGrpcStatus(epoch.status());
  response->set_epoch(*epoch);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::GetClusterStatus(grpc::ServerContext* context,
                                                  const v1::GetClusterStatusRequest* request,
                                                  v1::ClusterStatus* response) {
  if (grpc::Status admitted = Admit(*context, "GetClusterStatus"); !admitted.ok()) return admitted;
  *response = FullStatus(request->with_curves());
  return grpc::Status::OK;
}

v1::ClusterStatus CoordinatorService::FullStatus(bool with_curves) const {
  v1::ClusterStatus status = state_.Status(absl::Now());
  if (checkpoints_ != nullptr) *status.mutable_checkpoints() = checkpoints_->Status();
  if (progress_ != nullptr) progress_->Annotate(status, with_curves);
  status.set_http_port(static_cast<uint32_t>(http_port_.load()));
  return status;
}

grpc::Status CoordinatorService::Checkpoint(grpc::ServerContext* context,
                                            const v1::CheckpointNowRequest*,
                                            v1::CheckpointNowResponse* response) {
  if (grpc::Status admitted = Admit(*context, "Checkpoint"); !admitted.ok()) return admitted;
  if (checkpoints_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "checkpoints are off: start ps_coordinator with --checkpoint_dir");
  }
  absl::StatusOr<v1::CheckpointNowResponse> taken = checkpoints_->TakeCheckpoint("requested");
  if (!taken.ok()) return ToGrpcStatus(taken.status());
  *response = *std::move(taken);
  return grpc::Status::OK;
}

namespace {

grpc::Status AnswerDrain(const absl::StatusOr<ClusterState::DrainProgress>& progress,
                         v1::DrainResponse* response) {
  if (!progress.ok()) return ToGrpcStatus(progress.status());
  response->set_epoch(progress->epoch);
  response->set_replicas_held(progress->replicas_held);
  response->set_primaries_held(progress->primaries_held);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status CoordinatorService::Drain(grpc::ServerContext* context,
                                       const v1::DrainRequest* request,
                                       v1::DrainResponse* response) {
  if (grpc::Status admitted = Admit(*context, "Drain"); !admitted.ok()) return admitted;
  return AnswerDrain(state_.Drain(request->server_id()), response);
}

grpc::Status CoordinatorService::Undrain(grpc::ServerContext* context,
                                         const v1::DrainRequest* request,
                                         v1::DrainResponse* response) {
  if (grpc::Status admitted = Admit(*context, "Undrain"); !admitted.ok()) return admitted;
  return AnswerDrain(state_.Undrain(request->server_id()), response);
}

grpc::Status CoordinatorService::ReportHandoffReady(grpc::ServerContext* context,
                                                    const v1::ReportHandoffReadyRequest* request,
                                                    v1::ReportHandoffReadyResponse* response) {
  if (grpc::Status admitted = Admit(*context, "ReportHandoffReady"); !admitted.ok()) {
    return admitted;
  }
  absl::StatusOr<uint64_t> epoch = state_.ReportHandoffReady(*request);
  if (!epoch.ok()) return ToGrpcStatus(epoch.status());
  response->set_epoch(*epoch);
  return grpc::Status::OK;
}

}  // namespace ps
