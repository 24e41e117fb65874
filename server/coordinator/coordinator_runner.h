// One coordinator's life, from its options to its exit status (ps_coordinator_main.cc only turns
// flags into options and signals into Stop()):
//   - RunAlone: one coordinator, its state in memory or in a local state directory; loads the
//     saved state before it listens, serves until Stop();
//   - RunWithEtcd: one of several coordinators sharing a cluster in etcd. It stands by (not
//     listening, so members' connections to it are refused and they try the next address) until
//     it leads; then loads the state, resumes the cluster, listens, grants every member its
//     grace and serves while its lease surely holds (LeaderElection::MayServe gates every rpc,
//     every save and the failure detector). Stop() resigns and revokes the lease (a standby
//     leads at once); losing the leadership ends the run with kExitDeposed.
//
// A deposed leader exits rather than stepping down in place: its cluster state, failure detector
// and checkpoint manager hold a whole term of in-memory decisions, and a fresh process (systemd
// restarts it, Restart=on-failure) is the simplest way to be sure none of it leaks into a later
// term.
//
// Thread-safety: one Run*() call per runner, on one thread; Stop() from any thread (the signal
// thread), before, during or after it.
#ifndef PS_SERVER_COORDINATOR_COORDINATOR_RUNNER_H_
#define PS_SERVER_COORDINATOR_COORDINATOR_RUNNER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc_endpoint.h"
#include "server/coordinator/checkpoint_manager.h"
#include "server/coordinator/cluster_state.h"
#include "server/coordinator/etcd_client.h"
#include "server/coordinator/leader_election.h"
#include "server/coordinator/state_store.h"

namespace ps {

struct CoordinatorRunOptions {
  ClusterOptions cluster;
  CheckpointOptions checkpoints;
  // --restore: "" (none), "latest" or a checkpoint id.
  std::string restore;
  // Where to listen. With etcd the port must be fixed: it is part of the campaign value.
  EndpointOptions endpoint;
  // The status page, /api/status and /metrics (status_http.h) while this coordinator serves;
  // port 0: none.
  std::string http_host = "127.0.0.1";
  int http_port = 0;
};

struct EtcdRunOptions {
  // The key prefix /ps/NAME/ (ValidateClusterName).
  std::string cluster_name = "default";
  // Asked of etcd (it may grant more).
  absl::Duration lease_ttl = absl::Seconds(1);
};

// Exit statuses besides 0 (stopped in order): 1 (cannot start: a bad saved state, an unusable
// store, a port in use; logged) and kExitDeposed.
inline constexpr int kExitDeposed = 3;

class CoordinatorRunner {
 public:
  explicit CoordinatorRunner(CoordinatorRunOptions options);
  CoordinatorRunner(const CoordinatorRunner&) = delete;
  CoordinatorRunner& operator=(const CoordinatorRunner&) = delete;

  // `state_dir` "": the state lives in this process only.
  int RunAlone(const std::string& state_dir);

  // `etcd` is borrowed and must outlive the call.
  int RunWithEtcd(EtcdClient& etcd, const EtcdRunOptions& etcd_options);

  // Ends the run in order; `reason` is logged (e.g. "received signal 15").
  void Stop(const std::string& reason);
  bool stopped() const;

 private:
  // Loads `store` into `state` (or restores a checkpoint into a new cluster), makes the store
  // the state's sink through `sink` and saves once, which also proves the store writable before
  // anything listens. nullopt on success, else the exit status (logged).
  std::optional<int> LoadAndResume(StateStore& store, const std::string& fix_hint,
                                   ClusterState& state,
                                   std::function<absl::Status(const v1::CoordinatorState&)> sink);
  // Listens and serves `state` until `wait()` returns its exit status, then shuts down in order.
  // `may_serve` (optional) gates every rpc and the failure detector.
  int Serve(ClusterState& state, const std::function<bool()>& may_serve,
            const std::function<int()>& wait);

  const CoordinatorRunOptions options_;

  mutable absl::Mutex mu_;
  std::optional<std::string> stop_reason_ ABSL_GUARDED_BY(mu_);
  // The election of a RunWithEtcd in progress, so that Stop() can end its wait.
  LeaderElection* election_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_COORDINATOR_RUNNER_H_
