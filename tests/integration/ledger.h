// The ledger run: several increment workers (increment_worker_main.cc) push known integer
// increments to a dense and a sparse table (SGD, learning rate 1) through a real localhost
// cluster, each recording every push the cluster acknowledged; meanwhile a server is SIGKILLed
// (optionally restarted) or SIGSTOPped and resumed. At the end the tables must hold every
// acknowledged increment exactly once (per-clock averages under BSP), and every replica of every
// shard must be bitwise equal to its primary (DescribeShards checksums).
//
// Shared by ledger_test (fixed scenarios) and ledger_soak (randomised rounds). One thread only.
#ifndef PS_TESTS_INTEGRATION_LEDGER_H_
#define PS_TESTS_INTEGRATION_LEDGER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/types.pb.h"
#include "tests/harness/local_cluster.h"

namespace ps::testing {

// kKill / kStop: a server is SIGKILLed / SIGSTOPped. kRestartCoordinator: the coordinator, which
// keeps its state in a state directory, is SIGKILLed and restarted `coordinator_restarts` times.
// kDrain: `psctl drain` the victim mid-run, then stop it (SIGTERM) once psctl says it holds
// nothing. kAddServer: start one more server mid-run; rebalancing gives it its share.
// kCustom: `custom_fault` runs (e.g. a coordinator failover on etcd).
enum class LedgerFault { kNone, kKill, kStop, kRestartCoordinator, kDrain, kAddServer, kCustom };

struct LedgerOptions {
  v1::ConsistencySpec::Model model = v1::ConsistencySpec::MODEL_ASP;
  int servers = 3;
  uint32_t replication_factor = 2;
  uint32_t num_shards = 8;
  int workers = 3;
  int clocks = 30;
  int clock_pause_ms = 40;
  uint32_t heartbeat_interval_ms = 100;
  uint32_t failure_timeout_ms = 500;
  LedgerFault fault = LedgerFault::kKill;
  // When the fault strikes: once this fraction of all pushes has been acknowledged.
  double fault_at_fraction = 0.3;
  // The victim: the primary of shard 0 (true), or a backup of shard 0 (false), unless
  // `victim_index` names a server process (0 .. servers - 1) instead.
  bool victim_is_primary = true;
  int victim_index = -1;
  // kKill: start the victim again once it was declared dead (it rejoins as a new member).
  bool restart = false;
  // kStop: how long the victim stays stopped (past the failure timeout, so it is replaced).
  absl::Duration stop_for = absl::Milliseconds(1500);
  // kRestartCoordinator: how often, each at the next multiple of fault_at_fraction, and how long
  // it stays down each time (past the servers' lease and the failure timeout).
  int coordinator_restarts = 2;
  absl::Duration coordinator_down_for = absl::Milliseconds(1500);
  // Adjusts the cluster before it starts (e.g. several coordinators on etcd).
  std::function<void(LocalClusterOptions&)> configure_cluster;
  // kCustom: the fault, run once `fault_at_fraction` of the pushes were acknowledged; an error
  // fails the run.
  std::function<absl::Status(LocalCluster&)> custom_fault;
};

struct LedgerResult {
  // Pushes the workers recorded as acknowledged, in all and when the fault struck (so a test can
  // check that it struck mid-run).
  int acknowledged_pushes = 0;
  int acknowledged_before_fault = 0;
  // Values checked, and those below (an acknowledged increment lost) or above (applied twice)
  // the exact sum of the acknowledged increments.
  int values_checked = 0;
  int values_lost = 0;
  int values_doubled = 0;
  // Replica states compared against their primary, and those that differed.
  int replicas_compared = 0;
  int replicas_different = 0;
  // kStop: whether the resumed ex-primary refused a write sent to it directly.
  bool stopped_primary_refused_write = false;
  // kStop: whether it then joined again as a new member (a new server id at its address).
  bool stopped_primary_rejoined = false;
  // From the fault to the coordinator's map without the victim.
  absl::Duration detection;
  // kRestartCoordinator: the epoch before each kill and after each restart, in order; members
  // that registered after the start (a server or worker that had to join again); and from each
  // restarted coordinator's start (its exec) until every live member had heartbeated to it.
  std::vector<uint64_t> epochs;
  int registrations_after_start = 0;
  std::vector<absl::Duration> reconnect_times;
  // kDrain: psctl drain's exit code and output, how long it took, the drained server's exit code
  // after SIGTERM, and the replicas and learner roles it held in the settled map.
  int drain_exit_code = -1;
  std::string drain_output;
  absl::Duration drain_time;
  int drained_server_exit_code = -1;
  int drained_server_holds = -1;
  // kDrain, kAddServer: in the settled map, the largest difference between two serving (alive,
  // not draining) servers' replica counts and primary counts, and how many serving servers there
  // were. kAddServer: from its start until no move was left.
  int replica_spread = -1;
  int primary_spread = -1;
  int serving_servers = 0;
  absl::Duration rebalance_time;
  std::string summary;
};

// Errors: a cluster that does not start, a worker that fails a call (an unacknowledged push
// would make the ledger ambiguous), or a map that does not settle; each with the logs.
absl::StatusOr<LedgerResult> RunLedger(const LedgerOptions& options);

}  // namespace ps::testing

#endif  // PS_TESTS_INTEGRATION_LEDGER_H_
