#include "server/consistency_clock.h"

#include "gtest/gtest.h"

namespace ps {
namespace {

ConsistencyClock Make(v1::ConsistencySpec::Model model, uint32_t staleness, int workers) {
  v1::ConsistencySpec spec;
  spec.set_model(model);
  spec.set_staleness(staleness);
  ConsistencyClock clock(spec);
  absl::flat_hash_set<uint32_t> live;
  for (int w = 1; w <= workers; ++w) live.insert(w);
  clock.SetLiveWorkers(live);
  return clock;
}

// Records a push and completes every clock that became complete, as TableShard does.
void Push(ConsistencyClock& clock, uint32_t worker, uint64_t at) {
  ASSERT_TRUE(clock.CheckPush(worker, at).ok()) << clock.CheckPush(worker, at);
  clock.RecordPush(worker, at);
  while (clock.CompletableContributors().has_value()) clock.CompleteClock();
}

TEST(ConsistencyClockTest, BspClockCompletesOnlyWhenEveryLiveWorkerPushed) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_BSP, 0, 3);
  EXPECT_TRUE(clock.Readable(0));
  Push(clock, 1, 0);
  Push(clock, 2, 0);
  EXPECT_FALSE(clock.Readable(1)) << "worker 3 has not pushed clock 0";
  EXPECT_EQ(clock.clock(), 0u);
  ASSERT_FALSE(clock.CompletableContributors().has_value());
  clock.RecordPush(3, 0);
  ASSERT_EQ(clock.CompletableContributors(), 3u);
  clock.CompleteClock();
  EXPECT_TRUE(clock.Readable(1));
  EXPECT_FALSE(clock.Readable(2));
}

TEST(ConsistencyClockTest, BspPendingClockCompletesWithoutADeadWorker) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_BSP, 0, 2);
  Push(clock, 1, 0);
  EXPECT_FALSE(clock.CompletableContributors().has_value());
  clock.SetLiveWorkers({1});
  EXPECT_EQ(clock.CompletableContributors(), 1u);
}

TEST(ConsistencyClockTest, BspRejectsRepeatedPastAndFarFutureClocks) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_BSP, 0, 2);
  Push(clock, 1, 0);
  EXPECT_EQ(clock.CheckPush(1, 0).code(), absl::StatusCode::kFailedPrecondition);
  Push(clock, 2, 0);
  EXPECT_EQ(clock.CheckPush(1, 0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(clock.CheckPush(1, 1 + ConsistencyClock::kMaxBspClocksAhead).code(),
            absl::StatusCode::kFailedPrecondition);
  // A worker may push the next clock before the others finish this one.
  Push(clock, 1, 1);
  Push(clock, 1, 2);
  EXPECT_EQ(clock.clock(), 1u);
  Push(clock, 2, 1);
  EXPECT_EQ(clock.clock(), 2u);
}

TEST(ConsistencyClockTest, SspBlocksExactlyWhenStalenessPlusOneAhead) {
  constexpr uint32_t kStaleness = 2;
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_SSP, kStaleness, 2);
  // Worker 2 stays at clock 0; worker 1 runs ahead.
  for (uint64_t c = 0; c <= kStaleness; ++c) {
    EXPECT_TRUE(clock.Readable(c)) << "reader at " << c << " is only " << c << " ahead";
    Push(clock, 1, c);
  }
  EXPECT_FALSE(clock.Readable(kStaleness + 1)) << "s + 1 ahead of the slowest must wait";
  Push(clock, 2, 0);
  EXPECT_TRUE(clock.Readable(kStaleness + 1));
  EXPECT_FALSE(clock.Readable(kStaleness + 2));
  EXPECT_EQ(clock.clock(), 1u);
}

TEST(ConsistencyClockTest, SspZeroStalenessReadsLikeBsp) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_SSP, 0, 2);
  Push(clock, 1, 0);
  EXPECT_FALSE(clock.Readable(1));
  Push(clock, 2, 0);
  EXPECT_TRUE(clock.Readable(1));
}

TEST(ConsistencyClockTest, AspNeverWaits) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_ASP, 0, 2);
  for (uint64_t c = 0; c < 100; ++c) Push(clock, 1, c);
  EXPECT_TRUE(clock.Readable(1000));
  EXPECT_TRUE(clock.CheckPush(1, 0).ok());
}

}  // namespace
}  // namespace ps
