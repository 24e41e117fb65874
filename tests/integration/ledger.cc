#include "tests/integration/ledger.h"

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/partition.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/raw_call.h"
#include "tests/integration/increments.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

// Sends a one-slice dense push straight to `address` routed with `map`; returns its status.
grpc::Status RawPush(const std::string& address, const v1::ClusterMap& map,
                     const v1::TableInfo& table, uint32_t shard) {
  const DenseRange range = DenseShardRange(table.spec().dense_size(), map.num_shards(), shard);
  std::vector<float> gradient(range.size(), 1.0f);
  v1::PushRequest header;
  header.set_epoch(map.epoch());
  header.set_catalog_version(map.catalog_version());
  header.set_membership_version(map.membership_version());
  for (const v1::WorkerInfo& worker : map.workers()) {
    if (worker.state() != v1::MEMBER_STATE_ALIVE) continue;
    header.set_worker_id(worker.worker_id());
    header.set_incarnation(worker.incarnation());
    break;
  }
  header.set_seq(1000000);
  v1::ShardSlice* slice = header.add_slices();
  slice->set_table_id(table.table_id());
  slice->set_shard_id(shard);
  slice->mutable_values()->set_encoding(v1::ENCODING_F32);
  slice->mutable_values()->set_num_elements(range.size());
  slice->mutable_values()->set_payload_bytes(range.size() * sizeof(float));
  grpc::ByteBuffer request =
      MakeFrame(header, {BorrowedSlice(gradient.data(), gradient.size() * sizeof(float))});
  return RawUnaryCall(address, "/ps.v1.ParameterServer/Push", request, absl::Seconds(5)).status;
}

int CountLedgerLines(const std::string& directory, int workers) {
  int lines = 0;
  for (int i = 0; i < workers; ++i) {
    std::ifstream ledger(absl::StrCat(directory, "/ledger-", i));
    std::string line;
    while (std::getline(ledger, line)) ++lines;
  }
  return lines;
}

struct ReplicaState {
  uint64_t log_index = 0;
  uint32_t crc = 0;
  v1::ShardReplicaInfo::Role role = v1::ShardReplicaInfo::ROLE_UNSPECIFIED;
};

// (table, shard, server) -> state, from every live server.
absl::StatusOr<std::map<std::tuple<uint32_t, uint32_t, uint32_t>, ReplicaState>> DescribeAll(
    const v1::ClusterMap& map) {
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, ReplicaState> states;
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.state() != v1::MEMBER_STATE_ALIVE) continue;
    auto stub = v1::ParameterServer::NewStub(OpenChannel(server.address()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::DescribeShardsResponse response;
    const grpc::Status status = stub->DescribeShards(&context, {}, &response);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("DescribeShards on server ", server.server_id(),
                                                 ": ", status.error_message()));
    }
    for (const v1::ShardReplicaInfo& info : response.replicas()) {
      states[{info.table_id(), info.shard_id(), server.server_id()}] =
          ReplicaState{info.log_index(), info.state_crc32(), info.role()};
    }
  }
  return states;
}

// The coordinator's status; waits for it to listen (up to 20 s).
absl::StatusOr<v1::ClusterStatus> GetStatus(v1::Coordinator::Stub& coordinator) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  context.set_wait_for_ready(true);
  v1::ClusterStatus status;
  const grpc::Status called = coordinator.GetClusterStatus(&context, {}, &status);
  if (!called.ok()) {
    return absl::UnavailableError(absl::StrCat("GetClusterStatus: ", called.error_message()));
  }
  return status;
}

}  // namespace

absl::StatusOr<LedgerResult> RunLedger(const LedgerOptions& options) {
  LedgerResult result;
  LocalClusterOptions cluster_options;
  cluster_options.servers = options.servers;
  cluster_options.workers = 0;
  cluster_options.num_shards = options.num_shards;
  cluster_options.replication_factor = options.replication_factor;
  cluster_options.heartbeat_interval_ms = options.heartbeat_interval_ms;
  cluster_options.failure_timeout_ms = options.failure_timeout_ms;
  const std::string state_dir = MakeTempDir("coordinator-state");
  if (options.fault == LedgerFault::kRestartCoordinator) {
    cluster_options.coordinator_args = {"--state_dir=" + state_dir};
  }
  if (options.fault == LedgerFault::kStop) {
    // The victim comes back as a new member. Kept a spare (not given shards by rebalancing), so
    // that the write sent straight to the resumed ex-primary, routed with the map it led in and
    // stamped with a live worker's identity, meets a server that leads nothing: it must be
    // refused whatever the timing (a server that led shard 0 again would rightly take it).
    cluster_options.coordinator_args.push_back("--rebalance=false");
  }
  if (options.configure_cluster) options.configure_cluster(cluster_options);
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(cluster_options);
  if (!started.ok()) return started.status();
  LocalCluster& cluster = **started;
  const auto failed = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(status.message(), "\n", cluster.AllLogs()));
  };

  PsClientOptions observer_options;
  observer_options.coordinator_address = cluster.coordinator_address();
  observer_options.observer = true;
  absl::StatusOr<std::unique_ptr<PsClient>> observer = PsClient::Connect(observer_options);
  if (!observer.ok()) return failed(observer.status());
  absl::StatusOr<v1::TableInfo> dense = (*observer)->CreateTable(
      IncrementTableSpec("dense", v1::TABLE_KIND_DENSE, options.model));
  if (!dense.ok()) return failed(dense.status());
  absl::StatusOr<v1::TableInfo> sparse = (*observer)->CreateTable(
      IncrementTableSpec("sparse", v1::TABLE_KIND_SPARSE, options.model));
  if (!sparse.ok()) return failed(sparse.status());

  const std::string directory = MakeTempDir("ledger");
  std::vector<std::unique_ptr<DaemonProcess>> workers;
  for (int i = 0; i < options.workers; ++i) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> worker = DaemonProcess::Start(
        RunfilePath("tests/integration/increment_worker"),
        {"--coordinator=" + cluster.coordinator_address(),
         absl::StrCat("--workers=", options.workers), absl::StrCat("--clocks=", options.clocks),
         absl::StrCat("--clock_pause_ms=", options.clock_pause_ms),
         absl::StrCat("--ledger=", directory, "/ledger-", i)},
        absl::StrCat(directory, "/worker-", i, ".log"));
    if (!worker.ok()) return failed(worker.status());
    workers.push_back(*std::move(worker));
  }

  const int total = 2 * options.workers * options.clocks;
  if (options.fault == LedgerFault::kRestartCoordinator) {
    for (int round = 1; round <= options.coordinator_restarts; ++round) {
      const absl::Time give_up = absl::Now() + absl::Seconds(60);
      while (CountLedgerLines(directory, options.workers) <
                 options.fault_at_fraction * round * total &&
             absl::Now() < give_up) {
        absl::SleepFor(absl::Milliseconds(5));  // Polls the workers' ledger files.
      }
      absl::StatusOr<v1::ClusterStatus> before = GetStatus(cluster.coordinator());
      if (!before.ok()) return failed(before.status());
      result.epochs.push_back(before->map().epoch());
      if (round == 1) result.acknowledged_before_fault = CountLedgerLines(directory, options.workers);
      if (absl::Status restarted =
              cluster.RestartCoordinator(SIGKILL, options.coordinator_down_for);
          !restarted.ok()) {
        return failed(restarted);
      }
      // Every member alive before the kill heartbeats to the new coordinator as the same member.
      const absl::Time restarted_at = cluster.coordinator_started();
      absl::StatusOr<v1::ClusterStatus> after;
      while (true) {
        after = GetStatus(cluster.coordinator());
        if (!after.ok()) return failed(after.status());
        // A member the new coordinator heard from reports the epoch it knows; one it only
        // took over from the saved state (and gave its grace) has none yet.
        int fresh = 0;
        for (const v1::MemberHealth& member : after->members()) {
          fresh += member.state() == v1::MEMBER_STATE_ALIVE && member.known_epoch() > 0;
        }
        int alive = AliveServers(after->map()) + AliveWorkers(after->map());
        if (alive > 0 && fresh == alive) break;
        if (absl::Now() - restarted_at > absl::Seconds(20)) {
          return failed(absl::DeadlineExceededError(
              "members did not heartbeat to the restarted coordinator within 20 s"));
        }
        absl::SleepFor(absl::Milliseconds(20));  // Polls the status.
      }
      result.reconnect_times.push_back(absl::Now() - restarted_at);
      result.epochs.push_back(after->map().epoch());
    }
  } else if (options.fault == LedgerFault::kCustom) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (CountLedgerLines(directory, options.workers) < options.fault_at_fraction * total &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));  // Polls the workers' ledger files.
    }
    result.acknowledged_before_fault = CountLedgerLines(directory, options.workers);
    if (absl::Status faulted = options.custom_fault(cluster); !faulted.ok()) {
      return failed(faulted);
    }
  } else if (options.fault == LedgerFault::kDrain || options.fault == LedgerFault::kAddServer) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (CountLedgerLines(directory, options.workers) < options.fault_at_fraction * total &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));  // Polls the workers' ledger files.
    }
    result.acknowledged_before_fault = CountLedgerLines(directory, options.workers);
    const absl::Time struck = absl::Now();
    if (options.fault == LedgerFault::kAddServer) {
      absl::StatusOr<int> added = cluster.AddServer();
      if (!added.ok()) return failed(added.status());
      // Moves pause between each other (--move_pause_ms), so the end of the rebalancing is the
      // first map in which the new server holds its share (every server holds S * R / servers,
      // rounded down or up) with no copy or handover going on.
      const std::string address = cluster.server_address(*added);
      absl::StatusOr<v1::ClusterMap> rebalanced = cluster.WaitForMap(
          [&](const v1::ClusterMap& map) {
            uint32_t id = 0;
            for (const v1::ServerInfo& server : map.servers()) {
              if (server.address() == address) id = server.server_id();
            }
            int held = 0;
            for (const v1::ShardAssignment& shard : map.shards()) {
              if (shard.learners_size() > 0 || shard.sealed()) return false;
              for (uint32_t replica : shard.replicas()) held += replica == id;
            }
            const int alive = AliveServers(map);
            return id != 0 && alive > 0 &&
                   held >= static_cast<int>(options.num_shards * options.replication_factor) /
                               alive;
          },
          absl::Seconds(60));
      if (!rebalanced.ok()) return failed(rebalanced.status());
      result.rebalance_time = absl::Now() - struck;
    } else {
      absl::StatusOr<v1::ClusterStatus> status = GetStatus(cluster.coordinator());
      if (!status.ok()) return failed(status.status());
      const int victim_index = options.victim_index >= 0
                                   ? options.victim_index
                                   : cluster.ServerIndex(status->map(),
                                                         status->map().shards(0).replicas(0));
      // Named by address, as an operator would after psctl status.
      absl::StatusOr<std::unique_ptr<DaemonProcess>> psctl = DaemonProcess::Start(
          RunfilePath("tools/psctl/psctl"),
          {"--coordinator=" + cluster.coordinator_address(), "drain",
           cluster.server_address(victim_index)},
          absl::StrCat(directory, "/psctl-drain.log"));
      if (!psctl.ok()) return failed(psctl.status());
      result.drain_exit_code = (*psctl)->Wait(absl::Seconds(120)).value_or(-1);
      result.drain_time = absl::Now() - struck;
      result.drain_output = (*psctl)->ReadLog();
      if (result.drain_exit_code != 0) {
        return failed(absl::InternalError(
            absl::StrCat("psctl drain exited with ", result.drain_exit_code, ":\n",
                         result.drain_output)));
      }
      // It said the server can be stopped with nothing lost: stop it, mid-run.
      cluster.server(victim_index).Signal(SIGTERM);
      result.drained_server_exit_code =
          cluster.server(victim_index).Wait(absl::Seconds(20)).value_or(-1);
    }
  } else if (options.fault != LedgerFault::kNone) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (CountLedgerLines(directory, options.workers) < options.fault_at_fraction * total &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));  // Polls the workers' ledger files.
    }
    grpc::ClientContext context;
    v1::ClusterStatus status;
    if (!cluster.coordinator().GetClusterStatus(&context, {}, &status).ok()) {
      return failed(absl::UnavailableError("no cluster status"));
    }
    const v1::ClusterMap before = status.map();
    const v1::ShardAssignment& shard0 = before.shards(0);
    uint32_t victim_id = options.victim_is_primary || shard0.replicas_size() < 2
                             ? shard0.replicas(0)
                             : shard0.replicas(1);
    if (options.victim_index >= 0) {
      for (const v1::ServerInfo& server : before.servers()) {
        if (server.address() == cluster.server_address(options.victim_index)) {
          victim_id = server.server_id();
        }
      }
    }
    const int victim = cluster.ServerIndex(before, victim_id);
    if (victim < 0) return failed(absl::InternalError("cannot find the victim's process"));
    const absl::Time struck = absl::Now();
    cluster.server(victim).Signal(options.fault == LedgerFault::kKill ? SIGKILL : SIGSTOP);
    result.acknowledged_before_fault = CountLedgerLines(directory, options.workers);
    absl::StatusOr<v1::ClusterMap> replaced = cluster.WaitForMap(
        [&](const v1::ClusterMap& map) {
          for (const v1::ServerInfo& server : map.servers()) {
            if (server.server_id() == victim_id) return server.state() == v1::MEMBER_STATE_DEAD;
          }
          return false;
        },
        absl::Seconds(20));
    if (!replaced.ok()) return failed(replaced.status());
    result.detection = absl::Now() - struck;
    if (options.fault == LedgerFault::kStop) {
      absl::SleepFor(std::max(absl::ZeroDuration(),
                              options.stop_for - (absl::Now() - struck)));
      cluster.server(victim).Signal(SIGCONT);
      // Routed with the map it knew, a write to the resumed ex-primary must be refused: its
      // lease lapsed while it was stopped and its shards moved.
      const grpc::Status write =
          RawPush(cluster.server_address(victim), before, *dense, /*shard=*/0);
      result.stopped_primary_refused_write = !write.ok();
      const std::string address = cluster.server_address(victim);
      result.stopped_primary_rejoined =
          cluster
              .WaitForMap(
                  [&](const v1::ClusterMap& map) {
                    for (const v1::ServerInfo& server : map.servers()) {
                      if (server.address() == address && server.server_id() != victim_id &&
                          server.state() == v1::MEMBER_STATE_ALIVE) {
                        return true;
                      }
                    }
                    return false;
                  },
                  absl::Seconds(20))
              .ok();
    } else if (options.restart) {
      if (absl::Status restarted = cluster.RestartServer(victim); !restarted.ok()) {
        return failed(restarted);
      }
    }
  }

  for (int i = 0; i < options.workers; ++i) {
    const std::optional<int> exit_code = workers[i]->Wait(absl::Seconds(180));
    if (exit_code != 0) {
      return failed(absl::InternalError(absl::StrCat(
          "increment worker ", i, " exited with ", exit_code.value_or(-1), ":\n",
          workers[i]->ReadLog())));
    }
  }

  if (absl::StatusOr<v1::ClusterStatus> final_status = GetStatus(cluster.coordinator());
      final_status.ok()) {
    result.epochs.push_back(final_status->map().epoch());
    result.registrations_after_start = final_status->map().servers_size() - options.servers +
                                       final_status->map().workers_size() - options.workers;
  } else {
    return failed(final_status.status());
  }

  // Expected values: the acknowledged increments, summed here from their definition.
  const bool average = options.model == v1::ConsistencySpec::MODEL_BSP;
  std::vector<double> expected_dense(kDenseSize, 0.0);
  std::map<uint64_t, std::vector<double>> expected_rows;
  for (int i = 0; i < options.workers; ++i) {
    std::ifstream ledger(absl::StrCat(directory, "/ledger-", i));
    std::string table;
    uint32_t rank = 0;
    uint64_t clock = 0;
    while (ledger >> table >> rank >> clock) {
      ++result.acknowledged_pushes;
      const double share = average ? 1.0 / options.workers : 1.0;
      if (table == "dense") {
        for (uint64_t e = 0; e < kDenseSize; ++e) {
          expected_dense[e] += share * DenseIncrement(rank, clock, e);
        }
      } else {
        for (uint64_t key : SparseKeys(rank)) {
          std::vector<double>& row = expected_rows[key];
          row.resize(kSparseDim, 0.0);
          for (uint32_t j = 0; j < kSparseDim; ++j) {
            row[j] += share * SparseIncrement(rank, clock, key, j);
          }
        }
      }
    }
  }
  const auto tally = [&](float actual, double expected) {
    ++result.values_checked;
    const float want = static_cast<float>(expected);
    if (actual < want) ++result.values_lost;
    if (actual > want) ++result.values_doubled;
  };
  std::vector<float> values(kDenseSize);
  if (absl::Status pulled = (*observer)->Pull(*dense, absl::MakeSpan(values)); !pulled.ok()) {
    return failed(pulled);
  }
  for (uint64_t e = 0; e < kDenseSize; ++e) tally(values[e], expected_dense[e]);
  std::vector<uint64_t> keys;
  for (const auto& [key, row] : expected_rows) keys.push_back(key);
  std::vector<float> rows(keys.size() * kSparseDim);
  if (absl::Status pulled = (*observer)->PullSparse(*sparse, keys, absl::MakeSpan(rows));
      !pulled.ok()) {
    return failed(pulled);
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    for (uint32_t j = 0; j < kSparseDim; ++j) {
      tally(rows[k * kSparseDim + j], expected_rows[keys[k]][j]);
    }
  }

  // Replicas: once re-replication and moves have settled (every shard at min(R, live servers)
  // replicas and no learners), every backup's state must equal its primary's, bitwise.
  absl::StatusOr<v1::ClusterMap> settled = cluster.WaitForMap(
      [&](const v1::ClusterMap& map) {
        const int want = std::min<int>(options.replication_factor, AliveServers(map));
        for (const v1::ShardAssignment& shard : map.shards()) {
          if (shard.replicas_size() != want || shard.learners_size() != 0) return false;
        }
        return true;
      },
      absl::Seconds(60));
  if (!settled.ok()) return failed(settled.status());
  if (options.fault == LedgerFault::kDrain || options.fault == LedgerFault::kAddServer) {
    std::map<uint32_t, int> replicas;
    std::map<uint32_t, int> primaries;
    std::set<uint32_t> drained;
    for (const v1::ServerInfo& server : settled->servers()) {
      if (server.state() != v1::MEMBER_STATE_ALIVE) continue;
      if (server.draining()) {
        drained.insert(server.server_id());
        continue;
      }
      replicas[server.server_id()] = 0;
      primaries[server.server_id()] = 0;
    }
    for (const v1::ShardAssignment& shard : settled->shards()) {
      for (int i = 0; i < shard.replicas_size(); ++i) {
        ++replicas[shard.replicas(i)];
        if (i == 0) ++primaries[shard.replicas(i)];
      }
    }
    const auto spread = [](const std::map<uint32_t, int>& counts) {
      int low = 1 << 30, high = 0;
      for (const auto& [server, count] : counts) {
        low = std::min(low, count);
        high = std::max(high, count);
      }
      return high - low;
    };
    result.replica_spread = spread(replicas);
    result.primary_spread = spread(primaries);
    result.serving_servers = static_cast<int>(replicas.size());
  }
  if (options.fault == LedgerFault::kDrain) {
    // No shard may name the drained (and stopped) server.
    result.drained_server_holds = 0;
    for (const v1::ServerInfo& server : settled->servers()) {
      if (!server.draining()) continue;
      for (const v1::ShardAssignment& shard : settled->shards()) {
        for (uint32_t id : shard.replicas()) result.drained_server_holds += id == server.server_id();
        for (uint32_t id : shard.learners()) result.drained_server_holds += id == server.server_id();
      }
    }
  }
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<v1::ClusterMap> map = cluster.WaitForMap(
        [](const v1::ClusterMap&) { return true; }, absl::Seconds(5));
    if (!map.ok()) return failed(map.status());
    absl::StatusOr<std::map<std::tuple<uint32_t, uint32_t, uint32_t>, ReplicaState>> states =
        DescribeAll(*map);
    if (!states.ok()) return failed(states.status());
    result.replicas_compared = 0;
    result.replicas_different = 0;
    std::string differences;
    for (const v1::TableInfo& table : {*dense, *sparse}) {
      for (const v1::ShardAssignment& shard : map->shards()) {
        const auto primary = states->find({table.table_id(), shard.shard_id(), shard.replicas(0)});
        if (primary == states->end()) {
          return failed(absl::InternalError(absl::StrCat("the primary of shard ", shard.shard_id(),
                                                         " does not describe it")));
        }
        for (int r = 1; r < shard.replicas_size(); ++r) {
          ++result.replicas_compared;
          const auto backup = states->find({table.table_id(), shard.shard_id(), shard.replicas(r)});
          if (backup == states->end() || backup->second.log_index != primary->second.log_index ||
              backup->second.crc != primary->second.crc) {
            ++result.replicas_different;
            absl::StrAppend(&differences, " table ", table.table_id(), " shard ", shard.shard_id(),
                            " server ", shard.replicas(r));
          }
        }
      }
    }
    if (result.replicas_different == 0 || attempt == 5) {
      if (!differences.empty()) result.summary = absl::StrCat("replicas differ:", differences, "\n");
      break;
    }
    absl::SleepFor(absl::Milliseconds(300));  // Fire-and-forget clock entries may be in flight.
  }
  absl::StrAppend(&result.summary, result.acknowledged_pushes, " acknowledged pushes (",
                  result.acknowledged_before_fault, " before the fault); ",
                  result.values_checked, " values checked: ", result.values_lost, " lost, ",
                  result.values_doubled, " doubled; ", result.replicas_compared,
                  " replicas compared: ", result.replicas_different, " different; detection ",
                  absl::FormatDuration(result.detection));
  return result;
}

}  // namespace ps::testing
