// ps_coordinator: membership, failure detection and the cluster map of a parameter-server cluster.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_endpoint.h"
#include "common/logging.h"
#include "common/termination_signal.h"
#include "server/coordinator/checkpoint_manager.h"
#include "server/coordinator/cluster_state.h"
#include "server/coordinator/coordinator_service.h"
#include "server/coordinator/etcd_client.h"
#include "server/coordinator/etcd_state_store.h"
#include "server/coordinator/failure_detector.h"
#include "server/coordinator/leader_election.h"
#include "server/coordinator/state_store.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, bind_host, "127.0.0.1", "Interface to listen on (0.0.0.0 for all).");
ABSL_FLAG(int, port, 7070, "Port to listen on; 0 picks a free one (see --address_file).");
ABSL_FLAG(std::string, advertise_host, "",
          "Host name members use to reach this coordinator; defaults to --bind_host.");
ABSL_FLAG(std::string, address_file, "",
          "If set, the coordinator writes its host:port here once listening (for scripts).");
ABSL_FLAG(uint32_t, num_shards, 16, "Virtual shards per table (fixed for the cluster's life).");
ABSL_FLAG(uint32_t, replication_factor, 2, "Replicas per shard, on distinct servers.");
ABSL_FLAG(uint32_t, min_servers, 2,
          "Shards are placed once this many servers have registered (>= replication_factor).");
ABSL_FLAG(uint32_t, heartbeat_interval_ms, 200, "How often members heartbeat, in ms.");
ABSL_FLAG(uint32_t, failure_timeout_ms, 1000,
          "A member silent this long (ms) is declared dead (a new map goes out).");
ABSL_FLAG(uint32_t, max_concurrent_moves, 2,
          "Replica moves (psctl drain, rebalancing onto a joining server) copying at once; fewer "
          "disturb training less and take longer.");
ABSL_FLAG(bool, rebalance, true,
          "Give a server that joins a placed cluster its share of replicas and primaries "
          "(false: it stays a spare until re-replication needs it).");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "Directory of the cluster's checkpoints (shared by every server in a real deployment); "
          "\"\" turns checkpoints off.");
ABSL_FLAG(uint32_t, checkpoint_interval_s, 0,
          "Seconds between periodic checkpoints; 0 takes them on demand only (psctl checkpoint).");
ABSL_FLAG(uint64_t, checkpoint_every_steps, 0,
          "Also a checkpoint each time the job's slowest rank has completed this many more "
          "training steps; 0: none by steps.");
ABSL_FLAG(int, checkpoint_keep, 3, "Complete checkpoints kept; older ones are removed.");
ABSL_FLAG(std::string, restore, "",
          "Start from a checkpoint in --checkpoint_dir: --restore (the newest complete one) or "
          "--restore=ID (that one, e.g. 42 or ckpt-0000000042, or the newest complete one "
          "before it if it is damaged).");
ABSL_FLAG(std::string, state_dir, "",
          "Directory where the coordinator keeps the cluster's state (members, shard map, "
          "catalog, job progress), saved before every change is published: a coordinator "
          "restarted on it carries on the same cluster, without restarting servers or workers. "
          "\"\" keeps the state in memory only (a restart then needs every member restarted).");
ABSL_FLAG(std::string, state_store, "",
          "etcd://HOST:PORT[,HOST:PORT...]: keep the cluster's state in etcd and run as one of "
          "several coordinators of which one leads (the others stand by, not listening, until "
          "it fails). Exclusive with --state_dir. Needs a fixed --port.");
ABSL_FLAG(std::string, cluster_name, "default",
          "With --state_store=etcd://...: the cluster's name, the prefix of its etcd keys "
          "(/ps/NAME/state, /ps/NAME/election); coordinators of one cluster share it.");
ABSL_FLAG(uint32_t, lease_ttl_s, 1,
          "With --state_store=etcd://...: the leader's etcd lease TTL in seconds; a crashed "
          "leader is replaced about this long after it died. etcd raises TTLs below 1.5 of its "
          "election timeout (2 s with etcd's defaults; run etcd with --election-timeout=500 "
          "--heartbeat-interval=50 for 1 s).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");

namespace {

// What both modes share, from the flags.
struct CoordinatorRun {
  ps::ClusterOptions options;
  ps::CheckpointOptions checkpoint_options;
  std::string restore;
  ps::EndpointOptions endpoint_options;
};

// Exit status of a leader that lost its leadership (lease expired, or a fenced write refused):
// systemd's Restart=on-failure starts it again as a standby.
constexpr int kExitDeposed = 3;

int CountAlive(const ps::v1::CoordinatorState& saved, bool servers) {
  int alive = 0;
  if (servers) {
    for (const auto& server : saved.map().servers()) {
      alive += server.state() == ps::v1::MEMBER_STATE_ALIVE;
    }
  } else {
    for (const auto& worker : saved.map().workers()) {
      alive += worker.state() == ps::v1::MEMBER_STATE_ALIVE;
    }
  }
  return alive;
}

// Loads `store` into `state` (or restores a checkpoint into a new cluster), then makes the store
// the state's sink and saves once, which also proves the store writable before anything
// listens. A damaged state is an error, never an empty cluster. Returns the exit status on
// failure (logged), nullopt on success.
std::optional<int> LoadAndResume(const CoordinatorRun& run, ps::StateStore& store,
                                 const std::string& fix_hint, ps::ClusterState& state,
                                 std::function<absl::Status(const ps::v1::CoordinatorState&)> sink) {
  absl::StatusOr<std::optional<ps::v1::CoordinatorState>> loaded = store.Load();
  if (!loaded.ok()) {
    spdlog::critical(
        "cannot read the saved cluster state: {}. Not starting: an empty cluster would make "
        "every running server and worker register again and drop the model. {}",
        loaded.status().ToString(), fix_hint);
    return 1;
  }
  const std::optional<ps::v1::CoordinatorState>& saved = *loaded;
  if (saved.has_value()) {
    if (!run.restore.empty()) {
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
        CountAlive(*saved, false), 2 * absl::ToInt64Milliseconds(run.options.failure_timeout));
  } else if (!run.restore.empty()) {
    absl::StatusOr<uint64_t> restored =
        ps::RestoreClusterState(state, run.checkpoint_options.directory, run.restore);
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

// Listens and serves `state` until `wait()` returns; then shuts down in order. `may_serve`
// (optional) gates every rpc (CoordinatorService::SetServingGate). Returns the exit status.
int Serve(const CoordinatorRun& run, ps::ClusterState& state, std::function<bool()> may_serve,
          const std::function<int()>& wait) {
  std::unique_ptr<ps::ServerCheckpointClient> checkpoint_client =
      ps::NewGrpcServerCheckpointClient();
  ps::CheckpointManager checkpoints(state, *checkpoint_client, run.checkpoint_options,
                                    state.restored_from());
  ps::CoordinatorService service(state, ps::CoordinatorService::DefaultProber(), &checkpoints);
  if (may_serve) service.SetServingGate(may_serve);
  absl::StatusOr<ps::RunningEndpoint> endpoint =
      ps::StartEndpoint(run.endpoint_options, {&service});
  if (!endpoint.ok()) {
    spdlog::critical("cannot start: {}", endpoint.status().ToString());
    return 1;
  }
  // Members whose heartbeats were refused while no coordinator listened have kept serving on
  // that credit (common/coordinator_session.h): their grace runs from now.
  state.GrantGrace(absl::Now());
  const ps::ClusterOptions& options = run.options;
  spdlog::info(
      "coordinator listening on {}: num_shards={} replication_factor={} min_servers={} "
      "heartbeat_interval={}ms failure_timeout={}ms",
      endpoint->advertised_address, options.num_shards, options.replication_factor,
      options.min_servers, absl::ToInt64Milliseconds(options.heartbeat_interval),
      absl::ToInt64Milliseconds(options.failure_timeout));
  const ps::CheckpointOptions& checkpoint_options = run.checkpoint_options;
  if (!checkpoint_options.directory.empty()) {
    std::string when;
    if (checkpoint_options.interval > absl::ZeroDuration()) {
      when = absl::StrCat("every ", absl::ToInt64Seconds(checkpoint_options.interval), " s");
    }
    if (checkpoint_options.every_steps > 0) {
      absl::StrAppend(&when, when.empty() ? "" : " and ", "every ",
                      checkpoint_options.every_steps, " steps of the slowest rank");
    }
    spdlog::info("checkpoints in {}: {}, keeping the newest {}", checkpoint_options.directory,
                 when.empty() ? std::string("on demand (psctl checkpoint)") : when,
                 checkpoint_options.keep);
  }
  int exit_status = 0;
  {
    // Sweeping at a quarter of the heartbeat interval bounds detection at timeout + interval / 4.
    ps::FailureDetector detector(state, options.heartbeat_interval / 4, may_serve);
    checkpoints.Start();
    exit_status = wait();
    checkpoints.Stop();
    state.Shutdown();
    endpoint->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  return exit_status;
}

// One coordinator, its state in memory or in a local directory (--state_dir).
int RunAlone(const CoordinatorRun& run, const std::string& state_dir) {
  ps::ClusterState state(run.options, absl::Now());
  std::unique_ptr<ps::StateStore> store;
  if (!state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<ps::StateStore>> opened = ps::OpenLocalStateStore(state_dir);
    if (!opened.ok()) {
      spdlog::critical("cannot open the state directory: {}", opened.status().ToString());
      return 1;
    }
    store = *std::move(opened);
    ps::StateStore* sink = store.get();
    if (std::optional<int> failed = LoadAndResume(
            run, *store,
            absl::StrCat("Put back a good copy of ", state_dir, "/", ps::kStateFileName,
                         ", or move it away to start a new cluster on purpose."),
            state,
            [sink](const ps::v1::CoordinatorState& latest) { return sink->Save(latest); })) {
      return *failed;
    }
  } else {
    if (!run.restore.empty()) {
      absl::StatusOr<uint64_t> restored =
          ps::RestoreClusterState(state, run.checkpoint_options.directory, run.restore);
      if (!restored.ok()) {
        spdlog::critical("cannot restore: {}", restored.status().ToString());
        return 1;
      }
    }
    spdlog::warn("no --state_dir: the cluster's state lives in this process only; if the "
                 "coordinator restarts, every server and worker must be restarted too");
  }
  const int status = Serve(run, state, nullptr, [] {
    const int signal_number = ps::WaitForTerminationSignal();
    spdlog::info("received signal {}; shutting down", signal_number);
    return 0;
  });
  if (status == 0) spdlog::info("coordinator stopped");
  return status;
}

// One of several coordinators sharing `cluster` in etcd: stands by (not listening) until it
// leads, then loads the state, listens and serves while its lease holds.
//
// A deposed leader exits (kExitDeposed) rather than stepping down in place: its ClusterState,
// checkpoint manager and failure detector hold a term's worth of in-memory decisions, and a
// fresh process is the simplest way to be sure none of it leaks into a later term; systemd
// (Restart=on-failure) starts it again as a standby within RestartSec.
int RunWithEtcd(const CoordinatorRun& run, const std::vector<std::string>& endpoints,
                const std::string& cluster, absl::Duration ttl) {
  ps::GrpcEtcdClientOptions client_options;
  client_options.endpoints = endpoints;
  std::unique_ptr<ps::EtcdClient> etcd = ps::NewGrpcEtcdClient(client_options);
  const std::string advertised = absl::StrCat(
      run.endpoint_options.advertise_host.empty() ? run.endpoint_options.bind_host
                                                  : run.endpoint_options.advertise_host,
      ":", run.endpoint_options.port);
  ps::LeaderElectionOptions election_options;
  election_options.election = ps::EtcdElectionName(cluster);
  election_options.candidate = advertised;
  election_options.requested_ttl = ttl;
  ps::LeaderElection election(*etcd, election_options);

  // SIGTERM/SIGINT end a standby's wait or a leader's term; so does the loss of leadership.
  absl::Mutex mu;
  int signal_number = 0;
  std::thread signals([&] {
    const int received = ps::WaitForTerminationSignal();
    {
      absl::MutexLock lock(&mu);
      signal_number = received;
    }
    election.Stop();
  });
  const auto stop_signal_thread = [&] {
    {
      absl::MutexLock lock(&mu);
      if (signal_number == 0) kill(getpid(), SIGTERM);  // Wakes its sigwait.
    }
    signals.join();
  };

  spdlog::info("standing by for the leadership of cluster {} as {} (etcd {}); not listening "
               "until it leads",
               cluster, advertised, absl::StrJoin(endpoints, ","));
  absl::StatusOr<ps::EtcdLeaderKey> office = election.Lead();
  if (!office.ok()) {
    stop_signal_thread();
    election.Resign();  // Revokes the standby's lease: its candidacy ends at once.
    spdlog::info("stopped while standing by ({})", office.status().ToString());
    return 0;
  }
  const absl::Time since = absl::Now();
  ps::EtcdStateStoreOptions store_options;
  store_options.cluster = cluster;
  ps::EtcdStateStore store(*etcd, *office, store_options,
                           [&election](const absl::Status& why) { election.MarkDeposed(why); });
  ps::ClusterState state(run.options, absl::Now());
  election.SetResumeCallback([&state] {
    spdlog::info("etcd renewed the lease after a lapse: every member gets a grace period before "
                 "failures are detected again");
    state.GrantGrace(absl::Now());
  });
  std::optional<int> failed = LoadAndResume(
      run, store,
      absl::StrCat("Fix or delete the etcd key ", ps::EtcdStateKey(cluster),
                   " (etcdctl get/put/del) to start a new cluster on purpose."),
      state, [&store, &election](const ps::v1::CoordinatorState& latest) {
        // A change is published only after it is saved; a leader that may have lost its lease
        // publishes none.
        if (!election.MayServe()) {
          return absl::UnavailableError("not serving: the etcd lease may have lapsed");
        }
        return store.Save(latest);
      });
  if (failed.has_value()) {
    stop_signal_thread();
    election.Resign();
    return *failed;
  }
  spdlog::info("leading cluster {} since {} (etcd lease TTL {}, leader key {})", cluster,
               absl::FormatTime("%Y-%m-%d %H:%M:%E3S %Z", since, absl::UTCTimeZone()),
               absl::FormatDuration(election.granted_ttl()), office->key);
  bool deposed = false;
  const int status = Serve(run, state, [&election] { return election.MayServe(); }, [&] {
    const absl::Status lost = election.AwaitLoss();
    absl::MutexLock lock(&mu);
    if (signal_number != 0) {
      spdlog::info("received signal {}; resigning and shutting down", signal_number);
      return 0;
    }
    spdlog::critical("no longer the leader of cluster {}: {}. Exiting at once so that nothing "
                     "more is served from this term (a supervisor restarts it as a standby)",
                     cluster, lost.ToString());
    deposed = true;
    return kExitDeposed;
  });
  stop_signal_thread();
  if (deposed) return kExitDeposed;
  election.Resign();  // Hands over at once instead of after the TTL.
  if (status == 0) spdlog::info("coordinator stopped");
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Coordinator of a parameter-server cluster: registers servers and workers, detects failures\n"
      "by heartbeats, places virtual shards on servers and streams the cluster map.\n"
      "Usage: ps_coordinator [--port=7070] [--num_shards=16] [--replication_factor=2] ...");
  // A bare --restore means the newest checkpoint (absl flags want a value).
  std::vector<char*> args(argv, argv + argc);
  static char kRestoreLatest[] = "--restore=latest";
  for (char*& arg : args) {
    if (std::string(arg) == "--restore" || std::string(arg) == "-restore") arg = kRestoreLatest;
  }
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  ps::BlockTerminationSignals();
  if (absl::Status logging = ps::InitLogging("coordinator", absl::GetFlag(FLAGS_log_level));
      !logging.ok()) {
    std::fprintf(stderr, "ps_coordinator: %s\n", logging.ToString().c_str());
    return 2;
  }

  ps::ClusterOptions options;
  options.num_shards = absl::GetFlag(FLAGS_num_shards);
  options.replication_factor = absl::GetFlag(FLAGS_replication_factor);
  options.min_servers = absl::GetFlag(FLAGS_min_servers);
  options.heartbeat_interval = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_interval_ms));
  options.failure_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_failure_timeout_ms));
  options.max_concurrent_moves = absl::GetFlag(FLAGS_max_concurrent_moves);
  options.rebalance = absl::GetFlag(FLAGS_rebalance);
  ps::CheckpointOptions checkpoint_options;
  checkpoint_options.directory = absl::GetFlag(FLAGS_checkpoint_dir);
  checkpoint_options.interval = absl::Seconds(absl::GetFlag(FLAGS_checkpoint_interval_s));
  checkpoint_options.keep = absl::GetFlag(FLAGS_checkpoint_keep);
  checkpoint_options.every_steps = absl::GetFlag(FLAGS_checkpoint_every_steps);
  const std::string restore = absl::GetFlag(FLAGS_restore);
  absl::Status valid = ps::ValidateClusterOptions(options);
  if (valid.ok()) valid = ps::ValidateCheckpointOptions(checkpoint_options);
  if (valid.ok() && !restore.empty() && checkpoint_options.directory.empty()) {
    valid = absl::InvalidArgumentError("--restore needs --checkpoint_dir (where to look)");
  }
  if (!valid.ok()) {
    spdlog::critical("invalid options: {}", valid.ToString());
    return 2;
  }

  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  const std::string state_store = absl::GetFlag(FLAGS_state_store);
  CoordinatorRun run;
  run.options = options;
  run.checkpoint_options = checkpoint_options;
  run.restore = restore;
  run.endpoint_options.bind_host = absl::GetFlag(FLAGS_bind_host);
  run.endpoint_options.port = absl::GetFlag(FLAGS_port);
  run.endpoint_options.advertise_host = absl::GetFlag(FLAGS_advertise_host);
  run.endpoint_options.address_file = absl::GetFlag(FLAGS_address_file);
  if (state_store.empty()) return RunAlone(run, state_dir);

  // Several coordinators on etcd: every flag is checked before the network is touched.
  absl::StatusOr<std::vector<std::string>> endpoints = ps::ParseEtcdUrl(state_store);
  absl::Status etcd_valid = endpoints.status();
  const std::string cluster = absl::GetFlag(FLAGS_cluster_name);
  if (etcd_valid.ok() && !state_dir.empty()) {
    etcd_valid = absl::InvalidArgumentError(
        "--state_dir and --state_store are exclusive: with etcd the state lives in etcd");
  }
  if (etcd_valid.ok()) etcd_valid = ps::ValidateClusterName(cluster);
  if (etcd_valid.ok() && run.endpoint_options.port == 0) {
    etcd_valid = absl::InvalidArgumentError(
        "--state_store=etcd://... needs a fixed --port: members find the leader among the "
        "coordinators' fixed addresses (--coordinator=HOST:PORT,HOST:PORT,...)");
  }
  if (etcd_valid.ok() && (absl::GetFlag(FLAGS_lease_ttl_s) < 1 ||
                          absl::GetFlag(FLAGS_lease_ttl_s) > 3600)) {
    etcd_valid = absl::InvalidArgumentError("--lease_ttl_s must be 1..3600");
  }
  if (!etcd_valid.ok()) {
    spdlog::critical("invalid options: {}", etcd_valid.ToString());
    return 2;
  }
  return RunWithEtcd(run, *endpoints, cluster, absl::Seconds(absl::GetFlag(FLAGS_lease_ttl_s)));
}
