// Drain and scale-out under training load, against real processes (ledger.h). `psctl drain`
// moves every replica off a server while increment workers push, says it can be stopped, and it
// is stopped: every acknowledged increment is applied exactly once, every replica equals its
// primary, the drained server holds nothing and the others are balanced. A server started
// mid-run gets its share of replicas and primaries the same way.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/ledger.h"

namespace ps::testing {
namespace {

void ExpectExact(const LedgerOptions& options, const LedgerResult& result) {
  EXPECT_EQ(result.acknowledged_pushes, 2 * options.workers * options.clocks)
      << "every worker ran every clock without a failed call";
  EXPECT_GT(result.acknowledged_before_fault, 0);
  EXPECT_LT(result.acknowledged_before_fault, result.acknowledged_pushes)
      << "the moves must happen mid-run";
  EXPECT_EQ(result.values_lost, 0) << result.summary;
  EXPECT_EQ(result.values_doubled, 0) << result.summary;
  EXPECT_GT(result.replicas_compared, 0);
  EXPECT_EQ(result.replicas_different, 0) << result.summary;
}

TEST(DrainRebalanceTest, DrainedServerHoldsNothingAndIsStoppedWithNothingLost) {
  LedgerOptions options;
  options.model = v1::ConsistencySpec::MODEL_BSP;
  options.servers = 4;
  options.workers = 2;
  options.num_shards = 12;
  options.clocks = 100;
  options.clock_pause_ms = 40;
  options.fault = LedgerFault::kDrain;
  options.fault_at_fraction = 0.2;
  options.victim_index = 3;
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s; drain took %s; psctl said:\n%s\n", result->summary.c_str(),
              absl::FormatDuration(result->drain_time).c_str(), result->drain_output.c_str());
  ExpectExact(options, *result);
  EXPECT_EQ(result->drain_exit_code, 0);
  EXPECT_NE(result->drain_output.find("it can be stopped with nothing lost"), std::string::npos)
      << result->drain_output;
  EXPECT_EQ(result->drained_server_exit_code, 0) << "the drained server stops cleanly";
  EXPECT_EQ(result->drained_server_holds, 0);
  EXPECT_EQ(result->serving_servers, 3);
  EXPECT_LE(result->replica_spread, 1);
}

TEST(DrainRebalanceTest, AServerJoiningMidRunGetsABalancedShareWithNothingLost) {
  LedgerOptions options;
  options.model = v1::ConsistencySpec::MODEL_ASP;
  options.servers = 2;
  options.workers = 2;
  options.num_shards = 12;
  options.clocks = 100;
  options.clock_pause_ms = 40;
  options.fault = LedgerFault::kAddServer;
  options.fault_at_fraction = 0.2;
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s; rebalanced in %s\n", result->summary.c_str(),
              absl::FormatDuration(result->rebalance_time).c_str());
  ExpectExact(options, *result);
  EXPECT_EQ(result->serving_servers, 3);
  EXPECT_LE(result->replica_spread, 1);
  EXPECT_LE(result->primary_spread, 1);
}

}  // namespace
}  // namespace ps::testing
