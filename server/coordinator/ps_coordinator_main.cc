// ps_coordinator: membership, failure detection and the cluster map of a parameter-server cluster.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_endpoint.h"
#include "common/logging.h"
#include "common/termination_signal.h"
#include "server/coordinator/checkpoint_manager.h"
#include "server/coordinator/cluster_state.h"
#include "server/coordinator/coordinator_service.h"
#include "server/coordinator/failure_detector.h"
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
  if (!valid.ok()) {
    spdlog::critical("invalid options: {}", valid.ToString());
    return 2;
  }

  // The saved state, checked before anything listens: a damaged one is an error, never an
  // empty cluster.
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  std::unique_ptr<ps::StateStore> store;
  std::optional<ps::v1::CoordinatorState> saved;
  if (!state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<ps::StateStore>> opened = ps::OpenLocalStateStore(state_dir);
    if (!opened.ok()) {
      spdlog::critical("cannot open the state directory: {}", opened.status().ToString());
      return 1;
    }
    store = *std::move(opened);
    absl::StatusOr<std::optional<ps::v1::CoordinatorState>> loaded = store->Load();
    if (!loaded.ok()) {
      spdlog::critical(
          "cannot read the saved cluster state: {}. Not starting: an empty cluster would make "
          "every running server and worker register again and drop the model. Put back a good "
          "copy of {}/{}, or move it away to start a new cluster on purpose.",
          loaded.status().ToString(), state_dir, ps::kStateFileName);
      return 1;
    }
    saved = *std::move(loaded);
  }
  ps::ClusterState state(options, absl::Now());
  if (saved.has_value()) {
    if (!restore.empty()) {
      spdlog::critical(
          "--restore starts a new cluster from a checkpoint, but {} holds the state of a cluster "
          "(epoch {}, {} tables): drop --restore to carry on that cluster, or give --state_dir "
          "an empty directory to restore a new one",
          state_dir, saved->map().epoch(), saved->map().tables_size());
      return 1;
    }
    if (absl::Status resumed = state.Resume(*saved, absl::Now()); !resumed.ok()) {
      spdlog::critical("cannot carry on the saved cluster: {}", resumed.ToString());
      return 1;
    }
    int servers = 0;
    int workers = 0;
    for (const auto& server : saved->map().servers()) {
      servers += server.state() == ps::v1::MEMBER_STATE_ALIVE;
    }
    for (const auto& worker : saved->map().workers()) {
      workers += worker.state() == ps::v1::MEMBER_STATE_ALIVE;
    }
    spdlog::info(
        "carrying on the cluster saved in {}: epoch {}, membership version {}, catalog version "
        "{}, {} tables, {} servers and {} workers alive when it was saved; each has {} ms from "
        "when this coordinator listens to heartbeat",
        store->Describe(), saved->map().epoch(), saved->map().membership_version(),
        saved->map().catalog_version(), saved->map().tables_size(), servers, workers,
        2 * absl::GetFlag(FLAGS_failure_timeout_ms));
  } else if (!restore.empty()) {
    absl::StatusOr<uint64_t> restored =
        ps::RestoreClusterState(state, checkpoint_options.directory, restore);
    if (!restored.ok()) {
      spdlog::critical("cannot restore: {}", restored.status().ToString());
      return 1;
    }
  }
  if (store != nullptr) {
    ps::StateStore* sink = store.get();
    state.SetStateSink(
        [sink](const ps::v1::CoordinatorState& latest) { return sink->Save(latest); });
    // Also proves the directory writable before anything listens.
    if (absl::Status first = state.SaveNow(); !first.ok()) {
      spdlog::critical("cannot save the cluster state: {}", first.ToString());
      return 1;
    }
    if (!saved.has_value()) spdlog::info("new cluster; its state is kept in {}", store->Describe());
  } else {
    spdlog::warn("no --state_dir: the cluster's state lives in this process only; if the "
                 "coordinator restarts, every server and worker must be restarted too");
  }
  std::unique_ptr<ps::ServerCheckpointClient> checkpoint_client =
      ps::NewGrpcServerCheckpointClient();
  ps::CheckpointManager checkpoints(state, *checkpoint_client, checkpoint_options,
                                    state.restored_from());
  ps::CoordinatorService service(state, ps::CoordinatorService::DefaultProber(), &checkpoints);
  ps::EndpointOptions endpoint_options;
  endpoint_options.bind_host = absl::GetFlag(FLAGS_bind_host);
  endpoint_options.port = absl::GetFlag(FLAGS_port);
  endpoint_options.advertise_host = absl::GetFlag(FLAGS_advertise_host);
  endpoint_options.address_file = absl::GetFlag(FLAGS_address_file);
  absl::StatusOr<ps::RunningEndpoint> endpoint = ps::StartEndpoint(endpoint_options, {&service});
  if (!endpoint.ok()) {
    spdlog::critical("cannot start: {}", endpoint.status().ToString());
    return 1;
  }
  // Members whose heartbeats were refused while no coordinator listened have kept serving on
  // that credit (common/coordinator_session.h): their grace runs from now.
  state.GrantGrace(absl::Now());
  spdlog::info(
      "coordinator listening on {}: num_shards={} replication_factor={} min_servers={} "
      "heartbeat_interval={}ms failure_timeout={}ms",
      endpoint->advertised_address, options.num_shards, options.replication_factor,
      options.min_servers, absl::GetFlag(FLAGS_heartbeat_interval_ms),
      absl::GetFlag(FLAGS_failure_timeout_ms));
  if (!checkpoint_options.directory.empty()) {
    std::string when;
    if (checkpoint_options.interval > absl::ZeroDuration()) {
      when = absl::StrCat("every ", absl::GetFlag(FLAGS_checkpoint_interval_s), " s");
    }
    if (checkpoint_options.every_steps > 0) {
      absl::StrAppend(&when, when.empty() ? "" : " and ", "every ",
                      checkpoint_options.every_steps, " steps of the slowest rank");
    }
    spdlog::info("checkpoints in {}: {}, keeping the newest {}", checkpoint_options.directory,
                 when.empty() ? std::string("on demand (psctl checkpoint)") : when,
                 checkpoint_options.keep);
  }
  {
    // Sweeping at a quarter of the heartbeat interval bounds detection at timeout + interval / 4.
    ps::FailureDetector detector(state, options.heartbeat_interval / 4);
    checkpoints.Start();
    const int signal_number = ps::WaitForTerminationSignal();
    spdlog::info("received signal {}; shutting down", signal_number);
    checkpoints.Stop();
    state.Shutdown();
    endpoint->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  spdlog::info("coordinator stopped");
  return 0;
}
