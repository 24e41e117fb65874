#include "common/coordinator_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/connection_probe.h"
#include "common/coordinator_addresses.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

constexpr absl::Duration kInitialBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);
// With several coordinators a failover is found by cycling through them; standbys refuse
// connections at once, so a short backoff costs little and finds the new leader sooner.
constexpr absl::Duration kMaxBackoffSeveral = absl::Milliseconds(100);
// With several coordinators, an observer (no heartbeats to notice a stalled leader) re-opens its
// watch this often, so a watch on a stopped ex-leader does not hang.
constexpr absl::Duration kObserverWatchPeriod = absl::Seconds(2);

bool Unreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

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
  if (SplitCoordinatorAddresses(options.coordinator_address).empty()) {
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

CoordinatorSession::CoordinatorSession(const CoordinatorSessionOptions& options, MapCallback on_map,
                                       ExpelledCallback on_expelled)
    : options_(options),
      on_map_(std::move(on_map)),
      on_expelled_(std::move(on_expelled)),
      addresses_(SplitCoordinatorAddresses(options.coordinator_address)),
      stub_(v1::Coordinator::NewStub(OpenChannel(addresses_.front(), *options.security))) {}

CoordinatorSession::~CoordinatorSession() { StopThreads(); }

CoordinatorSession::Target CoordinatorSession::Current() const {
  absl::MutexLock lock(&mu_);
  return Target{current_, stub_};
}

std::string CoordinatorSession::current_coordinator() const { return addresses_[Current().index]; }

bool CoordinatorSession::Failed(const Target& target, const grpc::Status& status) {
  if (addresses_.size() < 2 || !Unreachable(status)) return false;
  absl::MutexLock lock(&mu_);
  if (current_ != target.index) return false;  // Another thread moved already.
  current_ = (current_ + 1) % addresses_.size();
  stub_ = v1::Coordinator::NewStub(OpenFreshChannel(addresses_[current_], *options_.security));
  spdlog::debug("coordinator {} failed ({}); trying {}", addresses_[target.index],
                status.error_message(), addresses_[current_]);
  if (watch_context_ != nullptr && watch_index_ != current_) watch_context_->TryCancel();
  return true;
}

ProbeResult CoordinatorSession::ProbeAll(absl::Duration timeout) const {
  if (addresses_.size() == 1) return ProbeConnection(addresses_.front(), timeout);
  bool undecided = false;
  for (const std::string& address : addresses_) {
    const ProbeResult probe = ProbeConnection(address, timeout);
    if (probe == ProbeResult::kConnected) return ProbeResult::kConnected;
    undecided |= probe == ProbeResult::kUndecided;
  }
  return undecided ? ProbeResult::kUndecided : ProbeResult::kRefused;
}

absl::Status CoordinatorSession::CallCoordinator(
    const std::function<grpc::Status(v1::Coordinator::Stub&, grpc::ClientContext&)>& call,
    absl::Time deadline) {
  absl::Duration backoff = kInitialBackoff;
  while (true) {
    const Target target = Current();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    const grpc::Status status = call(*target.stub, context);
    if (status.ok() || !Unreachable(status) || addresses_.size() < 2 ||
        absl::Now() + backoff >= deadline) {
      return FromGrpcStatus(status);
    }
    Failed(target, status);
    absl::SleepFor(backoff);  // Backoff between attempts, not synchronisation.
    backoff = std::min(backoff * 2, kMaxBackoffSeveral);
  }
}

absl::Status CoordinatorSession::Register() {
  const absl::Time give_up = absl::Now() + options_.register_timeout;
  absl::Duration backoff = kInitialBackoff;
  absl::Status last_error;
  while (absl::Now() < give_up) {
    const absl::Time sent = absl::Now();
    const Target target = Current();
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
      status = target.stub->RegisterServer(&context, request, &response);
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
      status = target.stub->RegisterWorker(&context, request, &response);
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
      spdlog::info(
          "registered with coordinator {} as {} {} (incarnation {}{}), map epoch {}",
          addresses_[target.index], RoleName(options_.role), member_id_, incarnation_,
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
    spdlog::debug("coordinator {} not reachable yet ({}); retrying", addresses_[target.index],
                  status.error_message());
    Failed(target, status);
    absl::SleepFor(backoff);  // Backoff between connection attempts, not synchronisation.
    backoff = std::min(backoff * 2, addresses_.size() > 1 ? kMaxBackoffSeveral : kMaxBackoff);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "could not register with the coordinator at ", options_.coordinator_address, " within ",
      absl::FormatDuration(options_.register_timeout), ": ", last_error.ToString()));
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
  const grpc::Status status = Current().stub->Leave(&context, request, &response);
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
  const Target target = Current();
  StartReport(
      &call->context,
      [&](std::function<void(grpc::Status)> done) {
        target.stub->async()->ReportReplicaFailure(&call->context, &call->request, &call->response,
                                                   std::move(done));
      },
      [call, stub = target.stub](const grpc::Status& status) {  // Holds the channel.
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
  const Target target = Current();
  StartReport(
      &call->context,
      [&](std::function<void(grpc::Status)> done) {
        target.stub->async()->ReportHandoffReady(&call->context, &call->request, &call->response,
                                                 std::move(done));
      },
      [call, stub = target.stub](const grpc::Status& status) {  // Holds the channel.
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
  const Target target = Current();
  StartReport(
      &call->context,
      [&](std::function<void(grpc::Status)> done) {
        target.stub->async()->ReportUnreachable(&call->context, &call->request, &call->response,
                                                std::move(done));
      },
      [call, stub = target.stub](const grpc::Status& status) {  // Holds the channel.
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
  const Target target = Current();
  const grpc::Status status = target.stub->ReportLearnerCaughtUp(&context, request, &response);
  Failed(target, status);
  return FromGrpcStatus(status);
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
    const Target target = Current();
    grpc::ClientContext context;
    const absl::Time sent = absl::Now();
    context.set_deadline(
        absl::ToChronoTime(sent + std::max(heartbeat_interval_, absl::Milliseconds(100))));
    v1::HeartbeatRequest request;
    *request.mutable_member() = Self();
    request.set_known_epoch(Map()->epoch());
    request.set_steps_done(steps_done_.load());
    {
      absl::MutexLock lock(&progress_mu_);
      if (progress_.has_value()) *request.mutable_progress() = *progress_;
    }
    v1::HeartbeatResponse response;
    const grpc::Status status = target.stub->Heartbeat(&context, request, &response);
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
      // With several coordinators, the next heartbeat goes to the next one; the lease is
      // credited only if every one of them refuses connections.
      const bool moved = Failed(target, status);
      const absl::Time probed = absl::Now();
      const ProbeResult probe = status.error_code() == grpc::StatusCode::UNAVAILABLE
                                    ? ProbeAll(std::min(heartbeat_interval_, absl::Seconds(1)))
                                    : ProbeResult::kUndecided;
      // Listening again (the channel is still in reconnect backoff and reconnects shortly), or,
      // with several coordinators, one listens: perhaps the new leader, tried next.
      if (probe == ProbeResult::kConnected) continue;
      if (moved && probe == ProbeResult::kUndecided && outage == Outage::kNone) continue;
      const bool coordinator_down = probe == ProbeResult::kRefused;
      if (coordinator_down) {
        absl::MutexLock lock(&mu_);
        last_acknowledged_send_ = std::max(last_acknowledged_send_, probed);
      }
      // Logged when the kind of outage changes, not per heartbeat.
      const Outage now = coordinator_down ? Outage::kDown : Outage::kUnreachable;
      if (now != outage) {
        if (coordinator_down) {
          spdlog::warn(
              "the coordinator at {} is down (connection refused): carrying on with map "
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
    if (outage != Outage::kNone) {
      spdlog::info("coordinator reachable again ({})", addresses_[target.index]);
    }
    outage = Outage::kNone;
  }
}

void CoordinatorSession::WatchLoop() {
  absl::Duration backoff = kInitialBackoff;
  while (true) {
    grpc::ClientContext context;
    const Target target = Current();
    if (options_.observer && addresses_.size() > 1) {
      context.set_deadline(absl::ToChronoTime(absl::Now() + kObserverWatchPeriod));
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      watch_context_ = &context;
      watch_index_ = target.index;
      // Moved on since Current(): this call would go to the old address.
      if (current_ != target.index) context.TryCancel();
    }
    v1::WatchClusterMapRequest request;
    const std::shared_ptr<const v1::ClusterMap> known_map = Map();
    const v1::ClusterMap& known = *known_map;
    request.set_known_epoch(known.epoch());
    request.set_known_catalog_version(known.catalog_version());
    request.set_known_membership_version(known.membership_version());
    std::unique_ptr<grpc::ClientReader<v1::ClusterMap>> reader =
        target.stub->WatchClusterMap(&context, request);
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
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && options_.observer &&
        addresses_.size() > 1) {
      // An observer's periodic re-open: a quiet leader and a stalled one look the same on the
      // watch, so ask it something short. A stalled or fenced one fails and we move on.
      grpc::ClientContext ping;
      ping.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
      v1::ClusterStatus ignored;
      const grpc::Status alive = target.stub->GetClusterStatus(&ping, {}, &ignored);
      Failed(target, alive);
      continue;  // Re-open at once.
    }
    // Unless the heartbeat thread cancelled it after moving on, the watch failed: move on too.
    if (status.error_code() != grpc::StatusCode::CANCELLED) Failed(target, status);
    absl::MutexLock lock(&mu_);
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff)) return;
    backoff = std::min(backoff * 2, addresses_.size() > 1 ? kMaxBackoffSeveral : kMaxBackoff);
  }
}

}  // namespace ps
