// The ledger scenarios against real processes (see ledger.h): a primary SIGKILLed or SIGSTOPped
// mid-run under ASP, SSP and BSP with R = 2 and 3, a backup SIGKILLed, a server killed and
// restarted.
// Every acknowledged increment must be present exactly once and every replica equal its primary.
#include <cstdio>
#include <string>
#include <tuple>

#include "gtest/gtest.h"
#include "tests/integration/ledger.h"

namespace ps::testing {
namespace {

void ExpectExact(const LedgerOptions& options) {
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s\n", result->summary.c_str());
  EXPECT_EQ(result->acknowledged_pushes, 2 * options.workers * options.clocks)
      << "every push is acknowledged in the end";
  if (options.fault != LedgerFault::kNone) {
    EXPECT_GT(result->acknowledged_before_fault, 0) << "the fault must strike mid-run";
    EXPECT_LT(result->acknowledged_before_fault, result->acknowledged_pushes / 2)
        << "the fault must strike mid-run, with most of the run after it";
  }
  EXPECT_EQ(result->values_lost, 0) << result->summary;
  EXPECT_EQ(result->values_doubled, 0) << result->summary;
  EXPECT_GT(result->replicas_compared, 0);
  EXPECT_EQ(result->replicas_different, 0) << result->summary;
}

using Scenario = std::tuple<v1::ConsistencySpec::Model, uint32_t>;

class LedgerKillTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(LedgerKillTest, APrimaryKilledMidRunLosesAndDoublesNothing) {
  LedgerOptions options;
  options.model = std::get<0>(GetParam());
  options.replication_factor = std::get<1>(GetParam());
  options.servers = static_cast<int>(options.replication_factor) + 1;
  options.fault = LedgerFault::kKill;
  ExpectExact(options);
}

INSTANTIATE_TEST_SUITE_P(
    EveryModelAndR, LedgerKillTest,
    ::testing::Combine(::testing::Values(v1::ConsistencySpec::MODEL_ASP,
                                         v1::ConsistencySpec::MODEL_SSP,
                                         v1::ConsistencySpec::MODEL_BSP),
                       ::testing::Values(2u, 3u)),
    [](const ::testing::TestParamInfo<Scenario>& info) {
      return v1::ConsistencySpec::Model_Name(std::get<0>(info.param)) + "_R" +
             std::to_string(std::get<1>(info.param));
    });

TEST(LedgerTest, AKilledBackupIsReplacedByAnEqualCopy) {
  LedgerOptions options;
  options.model = v1::ConsistencySpec::MODEL_ASP;
  options.fault = LedgerFault::kKill;
  options.victim_is_primary = false;
  ExpectExact(options);
}

TEST(LedgerTest, AKilledAndRestartedServerRejoinsAndReceivesReplicas) {
  LedgerOptions options;
  options.model = v1::ConsistencySpec::MODEL_BSP;
  options.fault = LedgerFault::kKill;
  options.restart = true;
  ExpectExact(options);
}

class LedgerStopTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(LedgerStopTest, AStoppedPrimaryIsReplacedAndAcceptsNoWriteWhenResumed) {
  LedgerOptions options;
  options.model = std::get<0>(GetParam());
  options.replication_factor = std::get<1>(GetParam());
  options.servers = static_cast<int>(options.replication_factor) + 1;
  options.fault = LedgerFault::kStop;
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s\n", result->summary.c_str());
  EXPECT_TRUE(result->stopped_primary_refused_write);
  EXPECT_TRUE(result->stopped_primary_rejoined) << "it learns it was replaced and joins again";
  EXPECT_GT(result->acknowledged_before_fault, 0);
  EXPECT_LT(result->acknowledged_before_fault, result->acknowledged_pushes / 2);
  EXPECT_EQ(result->acknowledged_pushes, 2 * options.workers * options.clocks);
  EXPECT_EQ(result->values_lost, 0) << result->summary;
  EXPECT_EQ(result->values_doubled, 0) << result->summary;
  EXPECT_EQ(result->replicas_different, 0) << result->summary;
}

INSTANTIATE_TEST_SUITE_P(
    EveryModelAndR, LedgerStopTest,
    ::testing::Combine(::testing::Values(v1::ConsistencySpec::MODEL_ASP,
                                         v1::ConsistencySpec::MODEL_SSP,
                                         v1::ConsistencySpec::MODEL_BSP),
                       ::testing::Values(2u, 3u)),
    [](const ::testing::TestParamInfo<Scenario>& info) {
      return v1::ConsistencySpec::Model_Name(std::get<0>(info.param)) + "_R" +
             std::to_string(std::get<1>(info.param));
    });

}  // namespace
}  // namespace ps::testing
