#include "common/coordinator_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/connection_probe.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

constexpr absl::Duration kInitialBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);

const char* RoleName(v1::MemberRef::Role role) {
  return role == v1::MemberRef::ROLE_SERVER ? "server" : "worker";
}

bool IsNewer(const v1::ClusterMap& candidate, const v1::ClusterMap& current) {
  return candidate.epoch() > current.epoch() ||
         (candidate.epoch() == current.epoch() &&
          (candidate.membership_version() > current.membership_version() ||
           candidate.catalog_version() > current.catalog_version()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorSession>> CoordinatorSession::Start(
    const CoordinatorSessionOptions& options, MapCallback on_map, ExpelledCallback on_expelled) {
  if (options.coordinator_address.empty()) {
    return absl::InvalidArgumentError("the coordinator address is empty (set --coordinator)");
  }
  if (!options.observer && options.role != v1::MemberRef::ROLE_SERVER &&
      options.role != v1::MemberRef::ROLE_WORKER) {
    return absl::InvalidArgumentError("a session's role must be SERVER or WORKER");
  }
  std::unique_ptr<CoordinatorSession> session(
      new CoordinatorSession(options, std::move(on_map), std::move(on_expelled)));
  if (options.observer) {
    session->watch_thread_ = std::thread([s = session.get()] { s->WatchLoop(); });
    if (!session->AwaitMap([](const v1::ClusterMap& map) { return map.epoch() > 0; },
                           options.register_timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("no cluster map from the coordinator at ", options.coordinator_address,
                       " within ", absl::FormatDuration(options.register_timeout)));
    }
    return session;
  }
  absl::Status registered = session->Register();
  if (!registered.ok()) return registered;
  session->StartThreads();
  return session;
}

CoordinatorSession::CoordinatorSession(const CoordinatorSessionOptions& options,
                                       MapCallback on_map, ExpelledCallback on_expelled)
    : options_(options),
      on_map_(std::move(on_map)),
      on_expelled_(std::move(on_expelled)),
      stub_(v1::Coordinator::NewStub(OpenChannel(options.coordinator_address))) {}

CoordinatorSession::~CoordinatorSession() { StopThreads(); }

absl::Status CoordinatorSession::Register() {
  const absl::Time give_up = absl::Now() + options_.register_timeout;
  absl::Duration backoff = kInitialBackoff;
  absl::Status last_error;
  while (absl::Now() < give_up) {
    const absl::Time sent = absl::Now();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(std::min(give_up, absl::Now() + absl::Seconds(5))));
    v1::ClusterMap map;
    grpc::Status status;
    uint32_t heartbeat_ms = 0;
    uint32_t timeout_ms = 0;
    if (options_.role == v1::MemberRef::ROLE_SERVER) {
      v1::RegisterServerRequest request;
      request.set_address(options_.advertised_address);
      v1::RegisterServerResponse response;
      status = stub_->RegisterServer(&context, request, &response);
      member_id_ = response.server_id();
      incarnation_ = response.incarnation();
      heartbeat_ms = response.heartbeat_interval_ms();
      timeout_ms = response.failure_timeout_ms();
      lease_ = absl::Milliseconds(response.lease_ms());
      map = response.map();
    } else {
      v1::RegisterWorkerRequest request;
      request.set_address(options_.advertised_address);
      v1::RegisterWorkerResponse response;
      status = stub_->RegisterWorker(&context, request, &response);
      member_id_ = response.worker_id();
      incarnation_ = response.incarnation();
      rank_ = response.rank();
      resume_steps_ = response.steps_done();
      job_running_ = response.job_running();
      heartbeat_ms = response.heartbeat_interval_ms();
      timeout_ms = response.failure_timeout_ms();
      map = response.map();
    }
    if (status.ok()) {
      {
        absl::MutexLock lock(&mu_);
        last_acknowledged_send_ = sent;
      }
      heartbeat_interval_ = absl::Milliseconds(heartbeat_ms);
      failure_timeout_ = absl::Milliseconds(timeout_ms);
      spdlog::info("registered with coordinator {} as {} {} (incarnation {}{}), map epoch {}",
                   options_.coordinator_address, RoleName(options_.role), member_id_, incarnation_,
                   options_.role == v1::MemberRef::ROLE_WORKER ? absl::StrCat(", rank ", rank_) : "",
                   map.epoch());
      AcceptMap(map);
      return absl::OkStatus();
    }
    last_error = FromGrpcStatus(status);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last_error;  // The coordinator answered and said no: retrying will not help.
    }
    spdlog::debug("coordinator {} not reachable yet ({}); retrying", options_.coordinator_address,
                  status.error_message());
    absl::SleepFor(backoff);  // Backoff between connection attempts, not synchronisation.
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("could not register with the coordinator at ", options_.coordinator_address,
                   " within ", absl::FormatDuration(options_.register_timeout), ": ",
                   last_error.ToString()));
}

void CoordinatorSession::StartThreads() {
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  watch_thread_ = std::thread([this] { WatchLoop(); });
}

void CoordinatorSession::StopThreads() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  absl::MutexLock lock(&mu_);
  for (grpc::ClientContext* report : reports_in_flight_) report->TryCancel();
  const auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reports_in_flight_.empty();
  };
  mu_.Await(absl::Condition(&finished));
}

void CoordinatorSession::StartReport(
    grpc::ClientContext* context,
    const std::function<void(std::function<void(grpc::Status)>)>& start,
    std::function<void(const grpc::Status&)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      done(grpc::Status(grpc::StatusCode::CANCELLED, "the session is stopping"));
      return;
    }
    reports_in_flight_.insert(context);
  }
  start([this, context, done = std::move(done)](grpc::Status status) {
    done(status);  // May delete `context`'s owner; the pointer is only a key below.
    absl::MutexLock lock(&mu_);
    reports_in_flight_.erase(context);
  });
}

void CoordinatorSession::Leave(bool finished) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
  }
  StopThreads();
  if (options_.observer) return;  // Never registered.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  v1::LeaveRequest request;
  *request.mutable_member() = Self();
  request.set_finished(finished);
  v1::LeaveResponse response;
  const grpc::Status status = stub_->Leave(&context, request, &response);
  if (status.ok()) {
    spdlog::info("left the cluster (coordinator epoch now {})", response.epoch());
  } else {
    spdlog::warn("could not tell the coordinator we are leaving ({}); it will time us out",
                 status.error_message());
  }
}

std::shared_ptr<const v1::ClusterMap> CoordinatorSession::Map() const {
  absl::MutexLock lock(&mu_);
  return map_;
}

std::optional<v1::ClusterMap> CoordinatorSession::AwaitMap(
    const std::function<bool(const v1::ClusterMap&)>& ready, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || ready(*map_); };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  if (!ready(*map_)) return std::nullopt;
  return *map_;
}

bool CoordinatorSession::WithinLease(absl::Duration lease) const {
  absl::MutexLock lock(&mu_);
  return absl::Now() - last_acknowledged_send_ < lease;
}

void CoordinatorSession::ReportReplicaFailure(v1::ReportReplicaFailureRequest request) {
  struct Call {
    grpc::ClientContext context;
    v1::ReportReplicaFailureRequest request;
    v1::ReportReplicaFailureResponse response;
  };
  auto* call = new Call;
  call->request = std::move(request);
  *call->request.mutable_reporter() = Self();
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  StartReport(
      &call->context,
      [&](std::function<void(grpc::Status)> done) {
        stub_->async()->ReportReplicaFailure(&call->context, &call->request, &call->response,
                                             std::move(done));
      },
      [call](const grpc::Status& status) {
        if (status.ok()) {
          spdlog::info("coordinator took the report on server {}: map epoch {}",
                       call->request.failed_server_id(), call->response.epoch());
        } else {
          spdlog::warn("coordinator refused the report on server {}: {}",
                       call->request.failed_server_id(), status.error_message());
        }
        delete call;
      });
}

void CoordinatorSession::ReportHandoffReady(uint32_t shard, uint64_t epoch) {
  struct Call {
    grpc::ClientContext context;
    v1::ReportHandoffReadyRequest request;
    v1::ReportHandoffReadyResponse response;
  };
  auto* call = new Call;
  *call->request.mutable_primary() = Self();
  call->request.set_shard_id(shard);
  call->request.set_epoch(epoch);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  StartReport(
      &call->context,
      [&](std::function<void(grpc::Status)> done) {
        stub_->async()->ReportHandoffReady(&call->context, &call->request, &call->response,
                                           std::move(done));
      },
      [call](const grpc::Status& status) {
        if (!status.ok()) {
          spdlog::warn("coordinator refused the handoff of shard {}: {}", call->request.shard_id(),
                       status.error_message());
        }
        delete call;
      });
}

void CoordinatorSession::ReportUnreachable(uint32_t server_id, const std::string& reason) {
  struct Call {
    grpc::ClientContext context;
    v1::ReportUnreachableRequest request;
    v1::ReportUnreachableResponse response;
  };
  auto* call = new Call;
  *call->request.mutable_reporter() = Self();
  call->request.set_server_id(server_id);
  call->request.set_reason(reason);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  StartReport(
      &call->context,
      [&](std::function<void(grpc::Status)> done) {
        stub_->async()->ReportUnreachable(&call->context, &call->request, &call->response,
                                          std::move(done));
      },
      [call](const grpc::Status& status) {
        if (!status.ok()) {
          spdlog::debug("reporting server {} unreachable failed: {}", call->request.server_id(),
                        status.error_message());
        } else if (call->response.declared_dead()) {
          spdlog::info("the coordinator declared server {} dead on our report (epoch {})",
                       call->request.server_id(), call->response.epoch());
        }
        delete call;
      });
}

absl::Status CoordinatorSession::ReportLearnerCaughtUp(uint32_t shard, uint64_t catalog_version) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  v1::ReportLearnerCaughtUpRequest request;
  *request.mutable_learner() = Self();
  request.set_shard_id(shard);
  request.set_catalog_version(catalog_version);
  v1::ReportLearnerCaughtUpResponse response;
  return FromGrpcStatus(stub_->ReportLearnerCaughtUp(&context, request, &response));
}

v1::MemberRef CoordinatorSession::Self() const {
  v1::MemberRef self;
  self.set_role(options_.role);
  self.set_id(member_id_);
  self.set_incarnation(incarnation_);
  return self;
}

void CoordinatorSession::AcceptMap(const v1::ClusterMap& map) {
  {
    absl::MutexLock lock(&mu_);
    if (!IsNewer(map, *map_)) return;
    map_ = std::make_shared<const v1::ClusterMap>(map);
  }
  if (on_map_) on_map_(map);
}

void CoordinatorSession::HeartbeatLoop() {
  enum class Outage { kNone, kDown, kUnreachable };
  Outage outage = Outage::kNone;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), heartbeat_interval_)) return;
    }
    grpc::ClientContext context;
    const absl::Time sent = absl::Now();
    context.set_deadline(absl::ToChronoTime(sent + std::max(heartbeat_interval_, absl::Milliseconds(100))));
    v1::HeartbeatRequest request;
    *request.mutable_member() = Self();
    request.set_known_epoch(Map()->epoch());
    request.set_steps_done(steps_done_.load());
    v1::HeartbeatResponse response;
    const grpc::Status status = stub_->Heartbeat(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      spdlog::error("the coordinator no longer knows this member: {}", status.error_message());
      if (on_expelled_) on_expelled_(FromGrpcStatus(status));
      return;
    }
    if (!status.ok()) {
      // A coordinator that does not run cannot declare anyone dead, and one that starts later
      // gives every member a full failure timeout from when it listens
      // (ClusterState::GrantGrace): so a refused connection renews the lease like an
      // acknowledgement. A timeout does not: this member may be the one cut off.
      const absl::Time probed = absl::Now();
      const ProbeResult probe =
          status.error_code() == grpc::StatusCode::UNAVAILABLE
              ? ProbeConnection(options_.coordinator_address,
                                std::min(heartbeat_interval_, absl::Seconds(1)))
              : ProbeResult::kUndecided;
      // Listening again: the channel is still in reconnect backoff and reconnects shortly.
      if (probe == ProbeResult::kConnected) continue;
      const bool coordinator_down = probe == ProbeResult::kRefused;
      if (coordinator_down) {
        absl::MutexLock lock(&mu_);
        last_acknowledged_send_ = std::max(last_acknowledged_send_, probed);
      }
      // Logged when the kind of outage changes, not per heartbeat.
      const Outage now = coordinator_down ? Outage::kDown : Outage::kUnreachable;
      if (now != outage) {
        if (coordinator_down) {
          spdlog::warn("the coordinator at {} is down (connection refused): carrying on with map "
                       "epoch {}; no failure can be handled until it is back",
                       options_.coordinator_address, Map()->epoch());
        } else {
          spdlog::warn("heartbeat to coordinator failed: {}{}", status.error_message(),
                       options_.role == v1::MemberRef::ROLE_SERVER
                           ? "; this server stops serving when its lease lapses"
                           : "");
        }
        outage = now;
      }
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      last_acknowledged_send_ = std::max(last_acknowledged_send_, sent);
    }
    if (outage != Outage::kNone) spdlog::info("coordinator reachable again");
    outage = Outage::kNone;
  }
}

void CoordinatorSession::WatchLoop() {
  absl::Duration backoff = kInitialBackoff;
  while (true) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      watch_context_ = &context;
    }
    v1::WatchClusterMapRequest request;
    const std::shared_ptr<const v1::ClusterMap> known_map = Map();
    const v1::ClusterMap& known = *known_map;
    request.set_known_epoch(known.epoch());
    request.set_known_catalog_version(known.catalog_version());
    request.set_known_membership_version(known.membership_version());
    std::unique_ptr<grpc::ClientReader<v1::ClusterMap>> reader =
        stub_->WatchClusterMap(&context, request);
    v1::ClusterMap map;
    bool received = false;
    while (reader->Read(&map)) {
      received = true;
      AcceptMap(map);
    }
    const grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      watch_context_ = nullptr;
      if (stopping_) return;
    }
    if (received) backoff = kInitialBackoff;
    spdlog::debug("map watch ended ({}); reconnecting", status.error_message());
    absl::MutexLock lock(&mu_);
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace ps
