// A member's (server's or worker's) session with the coordinator: registration, periodic
// heartbeats and a streaming watch of the cluster map.
//
// Several coordinators (one leads, the others stand by without listening; see the README's
// "Coordinator high availability"): the session keeps their addresses and talks to one at a
// time. A call to it that fails UNAVAILABLE or DEADLINE_EXCEEDED moves the session to the next
// address (with a fresh channel, so no reconnect backoff delays finding a new leader), and the
// watch follows. A server's lease is credited while the coordinator is down only when EVERY
// address refuses connections: one refusal says nothing about a standby that may lead by now.
//
// Thread-safety: safe for concurrent use. The session owns two threads (heartbeat, watch; an
// observer only the watch), started by Start() and joined by Leave() or the destructor. Callbacks
// run on those threads and must not call Leave() or destroy the session.
#ifndef PS_COMMON_COORDINATOR_SESSION_H_
#define PS_COMMON_COORDINATOR_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/connection_probe.h"
#include "common/transport_security.h"
#include "proto/coordinator.grpc.pb.h"

namespace ps {

struct CoordinatorSessionOptions {
  // host:port of the coordinator, or a comma-separated list of every coordinator's.
  std::string coordinator_address;
  // SERVER or WORKER; ignored for observers.
  v1::MemberRef::Role role = v1::MemberRef::ROLE_UNSPECIFIED;
  // An observer (an operator tool, a test checking results) follows the map without registering:
  // no heartbeats, no member id, never counted as a worker.
  bool observer = false;
  // host:port this member serves on (servers) or identifies as (workers; may be empty).
  std::string advertised_address;
  // How long to keep retrying registration while the coordinator is unreachable.
  absl::Duration register_timeout = absl::Seconds(30);
  // How the channels to the coordinator are secured.
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
};

class CoordinatorSession {
 public:
  // Called on the watch thread with every map newer than the last one seen.
  using MapCallback = std::function<void(const v1::ClusterMap&)>;
  // Called on the heartbeat thread once, when the coordinator no longer knows this incarnation
  // (it was declared dead, e.g. after a long stall). The member should stop and re-register.
  using ExpelledCallback = std::function<void(const absl::Status&)>;

  // Registers (retrying with backoff until options.register_timeout) and starts the threads.
  // Observers instead wait, as long, for the first map.
  // `on_map` also receives the map returned by registration, before Start() returns.
  // Errors: DeadlineExceeded if the coordinator was not reached in time; InvalidArgument for bad
  // options; the coordinator's error if it refused the registration.
  static absl::StatusOr<std::unique_ptr<CoordinatorSession>> Start(
      const CoordinatorSessionOptions& options, MapCallback on_map, ExpelledCallback on_expelled);

  CoordinatorSession(const CoordinatorSession&) = delete;
  CoordinatorSession& operator=(const CoordinatorSession&) = delete;

  // Stops the threads without telling the coordinator (it will time the member out).
  ~CoordinatorSession();

  // Tells the coordinator this member is leaving (a worker: whether it `finished` its share of the
  // job, LeaveRequest.finished), then stops the threads. Idempotent.
  void Leave(bool finished = false);

  uint32_t member_id() const { return member_id_; }
  uint64_t incarnation() const { return incarnation_; }
  // Workers: the data partition the coordinator assigned. Servers: 0.
  uint32_t rank() const { return rank_; }
  // Workers: the steps this rank completed before this worker registered (an earlier worker of
  // the rank, or the checkpoint the cluster was restored from): resume after them.
  uint64_t resume_steps() const { return resume_steps_; }
  // Workers: whether the job was under way when this worker registered.
  bool job_running() const { return job_running_; }
  // Workers: the steps this rank has completed, reported with every heartbeat.
  void set_steps_done(uint64_t steps) { steps_done_.store(steps); }
  // Workers: how training goes (HeartbeatRequest.progress), reported with every heartbeat.
  void set_progress(const v1::WorkerProgress& progress) {
    absl::MutexLock lock(&progress_mu_);
    progress_ = progress;
  }
  absl::Duration heartbeat_interval() const { return heartbeat_interval_; }
  absl::Duration failure_timeout() const { return failure_timeout_; }
  // Servers: how long to keep serving after the last acknowledged heartbeat (see WithinLease).
  absl::Duration lease() const { return lease_; }

  // The newest map seen so far, shared and immutable: taking it per request costs a reference
  // count, not a copy of every server, worker, shard and table entry.
  std::shared_ptr<const v1::ClusterMap> Map() const;
  // A copy of it, for callers that keep or change it.
  v1::ClusterMap CurrentMap() const { return *Map(); }

  // Whether a heartbeat (or the registration) sent less than `lease` ago was acknowledged, or
  // was refused because no coordinator listened (its address refused the connection). The
  // coordinator declares a member dead only `failure_timeout` after the last heartbeat it
  // received, which was sent no earlier than that, and a coordinator that starts gives every
  // member a whole failure timeout from when it listens; so a server that serves only within a
  // lease shorter than the failure timeout never serves after it was replaced, and one whose
  // coordinator is down (not cut off from it) keeps serving until it is back.
  bool WithinLease(absl::Duration lease) const;

  // Servers: tells the coordinator that replication to a replica failed (the reporter is filled
  // in). Asynchronous, fire and forget: the outcome arrives as a new map; errors are logged.
  void ReportReplicaFailure(v1::ReportReplicaFailureRequest request);
  // Servers: tells the coordinator this primary is ready to hand sealed `shard` over
  // (asynchronous, fire and forget; a lost report is covered by the coordinator's timeout).
  void ReportHandoffReady(uint32_t shard, uint64_t epoch);
  // Tells the coordinator that server `server_id` could not be reached at all (asynchronous, fire
  // and forget; it probes the server itself before acting).
  void ReportUnreachable(uint32_t server_id, const std::string& reason);
  // Servers: tells the coordinator this learner caught up with `shard` (blocking, short deadline).
  absl::Status ReportLearnerCaughtUp(uint32_t shard, uint64_t catalog_version);

  // Runs `call` against the current coordinator, moving to the next address and trying again
  // while it fails UNAVAILABLE or DEADLINE_EXCEEDED, until `deadline`. `call` gets a fresh
  // context per attempt (deadline set) and must not keep it. Returns the last attempt's status.
  absl::Status CallCoordinator(
      const std::function<grpc::Status(v1::Coordinator::Stub&, grpc::ClientContext&)>& call,
      absl::Time deadline);

  // The coordinator address the session talks to now.
  std::string current_coordinator() const;

  // Waits until the newest map satisfies `ready` and returns it; nullopt after `timeout` or once
  // the session stops.
  std::optional<v1::ClusterMap> AwaitMap(const std::function<bool(const v1::ClusterMap&)>& ready,
                                         absl::Duration timeout) const;

 private:
  CoordinatorSession(const CoordinatorSessionOptions& options, MapCallback on_map,
                     ExpelledCallback on_expelled);

  // The current coordinator: its index in addresses_ and a stub (shared with calls in flight).
  struct Target {
    size_t index = 0;
    std::shared_ptr<v1::Coordinator::Stub> stub;
  };
  Target Current() const;
  // A call to `target` failed with `status`: on UNAVAILABLE or DEADLINE_EXCEEDED with several
  // addresses, move to the next one (unless another thread already moved) and end a watch that
  // is still on the old one. Returns whether it moved.
  bool Failed(const Target& target, const grpc::Status& status);
  // Probes every address: kRefused only if all refuse, kConnected if any accepts.
  ProbeResult ProbeAll(absl::Duration timeout) const;

  absl::Status Register();
  void StartThreads();
  void StopThreads();
  // Starts an asynchronous call through `start` (which must call the stub with the context and
  // `done`); `done` runs once it finished, with its status.
  void StartReport(grpc::ClientContext* context,
                   const std::function<void(std::function<void(grpc::Status)>)>& start,
                   std::function<void(const grpc::Status&)> done);
  void HeartbeatLoop();
  void WatchLoop();
  // Records `map` and runs the callback if it is newer than the current one.
  void AcceptMap(const v1::ClusterMap& map);
  v1::MemberRef Self() const;

  // Constant after construction / registration.
  const CoordinatorSessionOptions options_;
  const MapCallback on_map_;
  const ExpelledCallback on_expelled_;
  std::vector<std::string> addresses_;
  uint32_t member_id_ = 0;
  uint64_t incarnation_ = 0;
  uint32_t rank_ = 0;
  uint64_t resume_steps_ = 0;
  bool job_running_ = false;
  absl::Duration heartbeat_interval_;
  absl::Duration failure_timeout_;
  absl::Duration lease_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<v1::Coordinator::Stub> stub_ ABSL_GUARDED_BY(mu_);
  // Which address the open watch call goes to.
  size_t watch_index_ ABSL_GUARDED_BY(mu_) = 0;
  // When the newest acknowledged heartbeat (or the registration) was sent.
  absl::Time last_acknowledged_send_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Replaced, never modified, when a newer map arrives.
  std::shared_ptr<const v1::ClusterMap> map_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const v1::ClusterMap>();
  // The open watch call, cancelled by StopThreads().
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Asynchronous reports in flight: the stub's channel must outlive them, so StopThreads()
  // cancels them and waits for their callbacks.
  absl::flat_hash_set<grpc::ClientContext*> reports_in_flight_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> steps_done_{0};
  absl::Mutex progress_mu_;
  std::optional<v1::WorkerProgress> progress_ ABSL_GUARDED_BY(progress_mu_);

  std::thread heartbeat_thread_;
  std::thread watch_thread_;
};

}  // namespace ps

#endif  // PS_COMMON_COORDINATOR_SESSION_H_
