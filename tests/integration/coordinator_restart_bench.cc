// Coordinator restart time with a local state directory, against real processes (README
// "Coordinator restarts"); not part of the test suite's pass/fail. Each round is a ledger run
// (3 servers, R = 2, 2 increment workers, ASP) in which the coordinator is SIGKILLed twice and
// started again on its --state_dir after being down --down_ms; the figure is the time from each
// new coordinator's exec until every live member had heartbeated to it (as the same member). The
// run's exactness (acknowledged pushes lost or doubled, re-registrations) is printed with it.
// Usage: coordinator_restart_bench [--rounds=3] [--down_ms=1500]
#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "tests/integration/ledger.h"

ABSL_FLAG(int, rounds, 3, "Ledger runs (each with two coordinator restarts).");
ABSL_FLAG(int, down_ms, 1500, "How long the coordinator stays down each time.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ps::testing::LedgerOptions options;
  options.model = ps::v1::ConsistencySpec::MODEL_ASP;
  options.servers = 3;
  options.workers = 2;
  options.clocks = 100;
  options.clock_pause_ms = 60;
  options.fault = ps::testing::LedgerFault::kRestartCoordinator;
  options.fault_at_fraction = 0.2;
  options.coordinator_restarts = 2;
  options.coordinator_down_for = absl::Milliseconds(absl::GetFlag(FLAGS_down_ms));
  std::printf("Coordinator restart on --state_dir: 3 servers, 2 workers, down %d ms each time\n",
              absl::GetFlag(FLAGS_down_ms));
  std::printf("| run | exec -> every member reconnected (restart 1, restart 2) | pushes acked | "
              "lost | doubled | re-registrations |\n|---|---|---|---|---|---|\n");
  std::vector<double> all;
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    absl::StatusOr<ps::testing::LedgerResult> result = ps::testing::RunLedger(options);
    if (!result.ok()) {
      std::fprintf(stderr, "coordinator_restart_bench: %s\n", result.status().ToString().c_str());
      return 1;
    }
    std::vector<double> ms;
    for (absl::Duration d : result->reconnect_times) ms.push_back(absl::ToDoubleMilliseconds(d));
    all.insert(all.end(), ms.begin(), ms.end());
    std::printf("| %d | %s | %d | %d | %d | %d |\n", round,
                ms.size() == 2 ? (std::to_string(static_cast<int>(ms[0])) + " ms, " +
                                  std::to_string(static_cast<int>(ms[1])) + " ms")
                                     .c_str()
                               : "?",
                result->acknowledged_pushes, result->values_lost, result->values_doubled,
                result->registrations_after_start);
    std::fflush(stdout);
  }
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    std::printf("min / median / max over %zu restarts: %.0f / %.0f / %.0f ms\n", all.size(),
                all.front(), all[all.size() / 2], all.back());
  }
  return 0;
}
