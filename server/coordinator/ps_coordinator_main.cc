// ps_coordinator: membership, failure detection and the cluster map of a parameter-server cluster.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/metrics/metrics_flags.h"
#include "common/security_flags.h"
#include "common/termination_signal.h"
#include "server/coordinator/checkpoint_manager.h"
#include "server/coordinator/cluster_state.h"
#include "server/coordinator/coordinator_runner.h"
#include "server/coordinator/etcd_client.h"
#include "server/coordinator/etcd_state_store.h"
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
ABSL_FLAG(uint32_t, move_pause_ms, 500,
          "After a replica move completes, wait this long before starting the next in its slot: "
          "moves then take a bounded share of the servers' time (see README, Drain and "
          "scale-out).");
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
ABSL_FLAG(int, http_port, 0,
          "Port of the live status page (/), the status as JSON (/api/status) and the "
          "Prometheus metrics (/metrics), served on --metrics_host while this coordinator "
          "leads. 0: none; --metrics_port is the same endpoint (give one of them).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");

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
  ps::ShowSharedFlagsInHelp();
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
  options.move_pause = absl::Milliseconds(absl::GetFlag(FLAGS_move_pause_ms));
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
  if (valid.ok()) valid = ps::CheckMetricsFlags();
  const int http_port = absl::GetFlag(FLAGS_http_port);
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (valid.ok() && (http_port < 0 || http_port > 65535)) {
    valid = absl::InvalidArgumentError(absl::StrCat("--http_port=", http_port, " is not a port"));
  }
  if (valid.ok() && http_port != 0 && metrics_port != 0 && http_port != metrics_port) {
    valid = absl::InvalidArgumentError(
        "--http_port and --metrics_port name the same endpoint (status page and /metrics): "
        "give one of them");
  }
  absl::StatusOr<std::shared_ptr<ps::TransportSecurity>> security =
      ps::TransportSecurityFromFlags();
  if (valid.ok()) valid = security.status();
  if (valid.ok()) valid = (*security)->CheckListenAddress(absl::GetFlag(FLAGS_bind_host));
  if (!valid.ok()) {
    spdlog::critical("invalid options: {}", valid.ToString());
    return 2;
  }
  spdlog::info("effective configuration: {}", ps::EffectiveFlags());
  spdlog::info("transport: {}", (*security)->Describe());

  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  const std::string state_store = absl::GetFlag(FLAGS_state_store);
  ps::CoordinatorRunOptions run;
  run.cluster = options;
  run.checkpoints = checkpoint_options;
  run.restore = restore;
  run.endpoint.bind_host = absl::GetFlag(FLAGS_bind_host);
  run.endpoint.port = absl::GetFlag(FLAGS_port);
  run.endpoint.advertise_host = absl::GetFlag(FLAGS_advertise_host);
  run.endpoint.address_file = absl::GetFlag(FLAGS_address_file);
  run.endpoint.security = *security;
  run.http_host = absl::GetFlag(FLAGS_metrics_host);
  run.http_port = http_port != 0 ? http_port : metrics_port;

  // Several coordinators on etcd: every flag is checked before the network is touched.
  std::vector<std::string> endpoints;
  ps::EtcdRunOptions etcd_options;
  if (!state_store.empty()) {
    absl::StatusOr<std::vector<std::string>> parsed = ps::ParseEtcdUrl(state_store);
    absl::Status etcd_valid = parsed.status();
    etcd_options.cluster_name = absl::GetFlag(FLAGS_cluster_name);
    etcd_options.lease_ttl = absl::Seconds(absl::GetFlag(FLAGS_lease_ttl_s));
    if (etcd_valid.ok() && !state_dir.empty()) {
      etcd_valid = absl::InvalidArgumentError(
          "--state_dir and --state_store are exclusive: with etcd the state lives in etcd");
    }
    if (etcd_valid.ok()) etcd_valid = ps::ValidateClusterName(etcd_options.cluster_name);
    if (etcd_valid.ok() && run.endpoint.port == 0) {
      etcd_valid = absl::InvalidArgumentError(
          "--state_store=etcd://... needs a fixed --port: members find the leader among the "
          "coordinators' fixed addresses (--coordinator=HOST:PORT,HOST:PORT,...)");
    }
    if (etcd_valid.ok() &&
        (absl::GetFlag(FLAGS_lease_ttl_s) < 1 || absl::GetFlag(FLAGS_lease_ttl_s) > 3600)) {
      etcd_valid = absl::InvalidArgumentError("--lease_ttl_s must be 1..3600");
    }
    if (!etcd_valid.ok()) {
      spdlog::critical("invalid options: {}", etcd_valid.ToString());
      return 2;
    }
    endpoints = *std::move(parsed);
  }

  ps::CoordinatorRunner runner(run);
  // SIGTERM/SIGINT stop the run in order (a leader resigns).
  std::thread signals([&runner, &security] {
    const int signal_number = ps::WaitForTerminationSignal(ps::ReloadOnHangup(*security));
    runner.Stop(absl::StrCat("received signal ", signal_number));
  });
  int status = 0;
  if (state_store.empty()) {
    status = runner.RunAlone(state_dir);
  } else {
    ps::GrpcEtcdClientOptions client_options;
    client_options.endpoints = endpoints;
    std::unique_ptr<ps::EtcdClient> etcd = ps::NewGrpcEtcdClient(client_options);
    spdlog::info("cluster state in etcd {} (cluster {})", absl::StrJoin(endpoints, ","),
                 etcd_options.cluster_name);
    status = runner.RunWithEtcd(*etcd, etcd_options);
  }
  // Ended without a signal (deposed, or it could not start): wake the signal thread. The signal
  // is blocked in every thread, so only its sigwait takes it.
  if (!runner.stopped()) kill(getpid(), SIGTERM);
  signals.join();
  return status;
}
