// Randomised ledger rounds (see ledger.h): each round picks a consistency model, R (2 or 3), a
// victim (the primary or a backup of shard 0, or any server) and a moment, SIGKILLs that server
// mid-run and restarts it, then checks that every acknowledged increment is present exactly once and that every
// replica equals its primary. Prints one line per round and a total; exits 1 on any loss,
// doubling, difference or error.
//   bazel run //tests/integration:ledger_soak -- --seed=7 --rounds=20
#include <cstdio>
#include <string>
#include <random>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tests/integration/ledger.h"

ABSL_FLAG(uint64_t, seed, 1, "Seed of the random choices.");
ABSL_FLAG(int, rounds, 20, "Rounds to run.");
ABSL_FLAG(int, clocks, 30, "Clocks each worker runs per round.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Randomised fault rounds of the ledger test: --seed=S --rounds=N");
  absl::ParseCommandLine(argc, argv);
  std::mt19937_64 random(absl::GetFlag(FLAGS_seed));
  const ps::v1::ConsistencySpec::Model models[] = {ps::v1::ConsistencySpec::MODEL_ASP,
                                                   ps::v1::ConsistencySpec::MODEL_SSP,
                                                   ps::v1::ConsistencySpec::MODEL_BSP};
  int failures = 0;
  long acknowledged = 0, lost = 0, doubled = 0, different = 0;
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    ps::testing::LedgerOptions options;
    options.model = models[random() % 3];
    options.replication_factor = 2 + random() % 2;
    options.servers = static_cast<int>(options.replication_factor) + 1;
    options.clocks = absl::GetFlag(FLAGS_clocks);
    options.fault = ps::testing::LedgerFault::kKill;
    options.restart = true;
    // The primary of shard 0, a backup of it, or any server (the spare included).
    const int choice = static_cast<int>(random() % 3);
    options.victim_is_primary = choice == 0;
    if (choice == 2) options.victim_index = static_cast<int>(random() % options.servers);
    options.fault_at_fraction = 0.05 + 0.8 * static_cast<double>(random() % 1000) / 1000.0;
    absl::StatusOr<ps::testing::LedgerResult> result = ps::testing::RunLedger(options);
    if (!result.ok()) {
      ++failures;
      std::printf("round %d: ERROR %s\n", round, result.status().ToString().c_str());
      continue;
    }
    acknowledged += result->acknowledged_pushes;
    lost += result->values_lost;
    doubled += result->values_doubled;
    different += result->replicas_different;
    const bool exact = result->values_lost == 0 && result->values_doubled == 0 &&
                       result->replicas_different == 0;
    failures += exact ? 0 : 1;
    const std::string victim =
        options.victim_index >= 0 ? "server-" + std::to_string(options.victim_index)
                                  : (options.victim_is_primary ? "primary" : "backup");
    std::printf("round %d: %s R=%u kill %s at %.0f%% of the pushes: %s%s\n", round,
                ps::v1::ConsistencySpec::Model_Name(options.model).c_str(),
                options.replication_factor, victim.c_str(),
                100 * options.fault_at_fraction,
                result->summary.c_str(), exact ? "" : "  <-- NOT EXACT");
    std::fflush(stdout);
  }
  std::printf("%d rounds (seed %llu): %ld acknowledged pushes, %ld values lost, %ld doubled, "
              "%ld replicas different, %d rounds failed\n",
              absl::GetFlag(FLAGS_rounds),
              static_cast<unsigned long long>(absl::GetFlag(FLAGS_seed)), acknowledged, lost,
              doubled, different, failures);
  return failures == 0 ? 0 : 1;
}
