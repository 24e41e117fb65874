#include "server/coordinator/coordinator_runner.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics/http_endpoint.h"
#include "common/metrics/metric_registry.h"
#include "server/coordinator/coordinator_service.h"
#include "server/coordinator/etcd_state_store.h"
#include "server/coordinator/failure_detector.h"
#include "server/coordinator/status_http.h"
#include "server/coordinator/worker_progress.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

int CountAlive(const v1::CoordinatorState& saved, bool servers) {
  int alive = 0;
  if (servers) {
    for (const auto& server : saved.map().servers()) {
      alive += server.state() == v1::MEMBER_STATE_ALIVE;
    }
  } else {
    for (const auto& worker : saved.map().workers()) {
      alive += worker.state() == v1::MEMBER_STATE_ALIVE;
    }
  }
  return alive;
}

}  // namespace

CoordinatorRunner::CoordinatorRunner(CoordinatorRunOptions options)
    : options_(std::move(options)) {}

void CoordinatorRunner::Stop(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (stop_reason_.has_value()) return;
  stop_reason_ = reason;
  if (election_ != nullptr) election_->Stop();
}

bool CoordinatorRunner::stopped() const {
  absl::MutexLock lock(&mu_);
  return stop_reason_.has_value();
}

std::optional<int> CoordinatorRunner::LoadAndResume(
    StateStore& store, const std::string& fix_hint, ClusterState& state,
    std::function<absl::Status(const v1::CoordinatorState&)> sink) {
  absl::StatusOr<std::optional<v1::CoordinatorState>> loaded = store.Load();
  if (!loaded.ok()) {
    spdlog::critical(
        "cannot read the saved cluster state: {}. Not starting: an empty cluster would make "
        "every running server and worker register again and drop the model. {}",
        loaded.status().ToString(), fix_hint);
    return 1;
  }
  const std::optional<v1::CoordinatorState>& saved = *loaded;
  if (saved.has_value()) {
    if (!options_.restore.empty()) {
      spdlog::critical(
          "--restore starts a new cluster from a checkpoint, but {} holds the state of a cluster "
          "(epoch {}, {} tables): drop --restore to carry on that cluster, or give the "
          "coordinator an empty state store to restore a new one",
          store.Describe(), saved->map().epoch(), saved->map().tables_size());
      return 1;
    }
    if (absl::Status resumed = state.Resume(*saved, absl::Now()); !resumed.ok()) {
      spdlog::critical("cannot carry on the saved cluster: {}", resumed.ToString());
      return 1;
    }
    spdlog::info(
        "carrying on the cluster saved in {}: epoch {}, membership version {}, catalog version "
        "{}, {} tables, {} servers and {} workers alive when it was saved; each has {} ms from "
        "when this coordinator listens to heartbeat",
        store.Describe(), saved->map().epoch(), saved->map().membership_version(),
        saved->map().catalog_version(), saved->map().tables_size(), CountAlive(*saved, true),
        CountAlive(*saved, false), 2 * absl::ToInt64Milliseconds(options_.cluster.failure_timeout));
  } else if (!options_.restore.empty()) {
    absl::StatusOr<uint64_t> restored =
        RestoreClusterState(state, options_.checkpoints.directory, options_.restore);
    if (!restored.ok()) {
      spdlog::critical("cannot restore: {}", restored.status().ToString());
      return 1;
    }
  }
  state.SetStateSink(std::move(sink));
  if (absl::Status first = state.SaveNow(); !first.ok()) {
    spdlog::critical("cannot save the cluster state: {}", first.ToString());
    return 1;
  }
  if (!saved.has_value()) spdlog::info("new cluster; its state is kept in {}", store.Describe());
  return std::nullopt;
}

int CoordinatorRunner::Serve(ClusterState& state, const std::function<bool()>& may_serve,
                             const std::function<int()>& wait) {
  std::unique_ptr<ServerCheckpointClient> checkpoint_client =
      NewGrpcServerCheckpointClient(options_.endpoint.security);
  CheckpointManager checkpoints(state, *checkpoint_client, options_.checkpoints,
                                state.restored_from());
  WorkerProgressBook progress;
  CoordinatorService service(state, CoordinatorService::DefaultProber(), &checkpoints,
                             options_.endpoint.security, &progress);
  if (may_serve) service.SetServingGate(may_serve);
  absl::StatusOr<RunningEndpoint> endpoint = StartEndpoint(options_.endpoint, {&service});
  if (!endpoint.ok()) {
    spdlog::critical("cannot start: {}", endpoint.status().ToString());
    return 1;
  }
  const uint32_t replication_factor = options_.cluster.replication_factor;
  const int collector = GlobalMetrics().AddCollector([&service,
                                                      replication_factor](Exposition& out) {
    CollectCoordinatorMetrics(service.FullStatus(/*with_curves=*/false), replication_factor, out);
  });
  std::unique_ptr<HttpEndpoint> http;
  if (options_.http_port != 0) {
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> started =
        HttpEndpoint::Start(options_.http_host, options_.http_port, StatusHandlers(service));
    if (!started.ok()) {
      spdlog::critical("cannot start the status page: {}", started.status().ToString());
      GlobalMetrics().RemoveCollector(collector);
      endpoint->server->Shutdown();
      return 1;
    }
    http = *std::move(started);
    service.SetHttpPort(http->port());
    spdlog::info("status page on http://{}:{}/ (JSON on /api/status, metrics on /metrics)",
                 options_.http_host, http->port());
  }
  // Members whose heartbeats were refused while no coordinator listened have kept serving on
  // that credit (common/coordinator_session.h): their grace runs from now.
  state.GrantGrace(absl::Now());
  const ClusterOptions& options = options_.cluster;
  spdlog::info(
      "coordinator listening on {}: num_shards={} replication_factor={} min_servers={} "
      "heartbeat_interval={}ms failure_timeout={}ms",
      endpoint->advertised_address, options.num_shards, options.replication_factor,
      options.min_servers, absl::ToInt64Milliseconds(options.heartbeat_interval),
      absl::ToInt64Milliseconds(options.failure_timeout));
  const CheckpointOptions& checkpoint_options = options_.checkpoints;
  if (!checkpoint_options.directory.empty()) {
    std::string when;
    if (checkpoint_options.interval > absl::ZeroDuration()) {
      when = absl::StrCat("every ", absl::ToInt64Seconds(checkpoint_options.interval), " s");
    }
    if (checkpoint_options.every_steps > 0) {
      absl::StrAppend(&when, when.empty() ? "" : " and ", "every ", checkpoint_options.every_steps,
                      " steps of the slowest rank");
    }
    spdlog::info("checkpoints in {}: {}, keeping the newest {}", checkpoint_options.directory,
                 when.empty() ? std::string("on demand (psctl checkpoint)") : when,
                 checkpoint_options.keep);
  }
  int exit_status = 0;
  {
    // Sweeping at a quarter of the heartbeat interval bounds detection at timeout + interval / 4.
    // A sweep half a failure timeout late means this process, not its members, was held up.
    FailureDetector detector(state, options.heartbeat_interval / 4, options.failure_timeout / 2,
                             may_serve);
    checkpoints.Start();
    exit_status = wait();
    http.reset();
    GlobalMetrics().RemoveCollector(collector);
    checkpoints.Stop();
    state.Shutdown();
    endpoint->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  return exit_status;
}

int CoordinatorRunner::RunAlone(const std::string& state_dir) {
  ClusterState state(options_.cluster, absl::Now());
  std::unique_ptr<StateStore> store;
  if (!state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<StateStore>> opened = OpenLocalStateStore(state_dir);
    if (!opened.ok()) {
      spdlog::critical("cannot open the state directory: {}", opened.status().ToString());
      return 1;
    }
    store = *std::move(opened);
    StateStore* sink = store.get();
    if (std::optional<int> failed = LoadAndResume(
            *store,
            absl::StrCat("Put back a good copy of ", state_dir, "/", kStateFileName,
                         ", or move it away to start a new cluster on purpose."),
            state, [sink](const v1::CoordinatorState& latest) { return sink->Save(latest); })) {
      return *failed;
    }
  } else {
    if (!options_.restore.empty()) {
      absl::StatusOr<uint64_t> restored =
          RestoreClusterState(state, options_.checkpoints.directory, options_.restore);
      if (!restored.ok()) {
        spdlog::critical("cannot restore: {}", restored.status().ToString());
        return 1;
      }
    }
    spdlog::warn(
        "no --state_dir: the cluster's state lives in this process only; if the "
        "coordinator restarts, every server and worker must be restarted too");
  }
  const int status = Serve(state, nullptr, [this] {
    absl::MutexLock lock(&mu_);
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_reason_.has_value();
    };
    mu_.Await(absl::Condition(&stopping));
    spdlog::info("{}; shutting down", *stop_reason_);
    return 0;
  });
  if (status == 0) spdlog::info("coordinator stopped");
  return status;
}

int CoordinatorRunner::RunWithEtcd(EtcdClient& etcd, const EtcdRunOptions& etcd_options) {
  const std::string& cluster = etcd_options.cluster_name;
  const EndpointOptions& endpoint = options_.endpoint;
  const std::string advertised =
      absl::StrCat(endpoint.advertise_host.empty() ? endpoint.bind_host : endpoint.advertise_host,
                   ":", endpoint.port);
  LeaderElectionOptions election_options;
  election_options.election = EtcdElectionName(cluster);
  election_options.candidate = advertised;
  election_options.requested_ttl = etcd_options.lease_ttl;
  LeaderElection election(etcd, election_options);
  {
    // Stop() ends a standby's wait or a leader's term through the election.
    absl::MutexLock lock(&mu_);
    election_ = &election;
    if (stop_reason_.has_value()) election.Stop();
  }
  const auto forget_election = [&] {
    absl::MutexLock lock(&mu_);
    election_ = nullptr;
  };

  spdlog::info(
      "standing by for the leadership of cluster {} as {}; not listening until it "
      "leads",
      cluster, advertised);
  absl::StatusOr<EtcdLeaderKey> office = election.Lead();
  if (!office.ok()) {
    forget_election();
    election.Resign();  // Revokes the standby's lease: its candidacy ends at once.
    spdlog::info("stopped while standing by ({})", office.status().ToString());
    return 0;
  }
  const absl::Time since = absl::Now();
  EtcdStateStoreOptions store_options;
  store_options.cluster = cluster;
  EtcdStateStore store(etcd, *office, store_options,
                       [&election](const absl::Status& why) { election.MarkDeposed(why); });
  ClusterState state(options_.cluster, absl::Now());
  election.SetResumeCallback([&state] {
    spdlog::info(
        "etcd renewed the lease after a lapse: every member gets a grace period before "
        "failures are detected again");
    state.GrantGrace(absl::Now());
  });
  std::optional<int> failed = LoadAndResume(
      store,
      absl::StrCat("Fix or delete the etcd key ", EtcdStateKey(cluster),
                   " (etcdctl get/put/del) to start a new cluster on purpose."),
      state, [&store, &election](const v1::CoordinatorState& latest) {
        // A change is published only after it is saved; a leader that may have lost its lease
        // publishes none.
        if (!election.MayServe()) {
          return absl::UnavailableError("not serving: the etcd lease may have lapsed");
        }
        return store.Save(latest);
      });
  if (failed.has_value()) {
    forget_election();
    election.Resign();  // Also joins the renewal thread, whose callback uses `state`.
    return *failed;
  }
  spdlog::info("leading cluster {} since {} (etcd lease TTL {}, leader key {})", cluster,
               absl::FormatTime("%Y-%m-%d %H:%M:%E3S %Z", since, absl::UTCTimeZone()),
               absl::FormatDuration(election.granted_ttl()), office->key);
  bool deposed = false;
  const int status = Serve(
      state, [&election] { return election.MayServe(); },
      [&] {
        const absl::Status lost = election.AwaitLoss();
        absl::MutexLock lock(&mu_);
        if (stop_reason_.has_value()) {
          spdlog::info("{}; resigning and shutting down", *stop_reason_);
          return 0;
        }
        spdlog::critical(
            "no longer the leader of cluster {}: {}. Exiting at once so that nothing "
            "more is served from this term (a supervisor restarts it as a standby)",
            cluster, lost.ToString());
        deposed = true;
        return kExitDeposed;
      });
  forget_election();
  // Hands over at once instead of after the TTL; when deposed, gives up whatever is left of the
  // office. Also joins the renewal thread, whose callback uses `state`.
  election.Resign();
  if (deposed) return kExitDeposed;
  if (status == 0) spdlog::info("coordinator stopped");
  return status;
}

}  // namespace ps
