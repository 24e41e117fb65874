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

TEST(ConsistencyClockTest, DescribeWaitNamesTheWorkersAClockWaitsFor) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_BSP, 0, 3);
  Push(clock, 1, 0);
  Push(clock, 3, 0);
  EXPECT_EQ(clock.DescribeWait(1),
            "0 clocks completed; clock 0 pushed by workers [1, 3], not yet by [2]; 1 clocks "
            "pending");
  EXPECT_EQ(clock.DescribeWait(0), "readable at clock 0");
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

TEST(ConsistencyClockTest, BspWorkerJoinsAtItsFirstPushAndEarlierClocksCompleteWithoutIt) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_BSP, 0, 1);
  Push(clock, 1, 0);
  Push(clock, 1, 1);
  ASSERT_EQ(clock.clock(), 2u);
  // Worker 2 arrives (a restarted rank): until its first push every clock waits for it.
  clock.SetLiveWorkers({1, 2});
  Push(clock, 1, 2);
  EXPECT_EQ(clock.clock(), 2u) << "worker 2 has not pushed anything yet";
  // It joins at clock 4: clocks 2 and 3 complete without it, 4 waits for it.
  Push(clock, 2, 4);
  EXPECT_EQ(clock.clock(), 3u);
  Push(clock, 1, 3);
  EXPECT_EQ(clock.clock(), 4u);
  Push(clock, 1, 4);
  EXPECT_EQ(clock.clock(), 5u) << "clock 4 had both";
  Push(clock, 1, 5);
  EXPECT_EQ(clock.clock(), 5u) << "from its join on, worker 2 is waited for";
}

TEST(ConsistencyClockTest, BspClocksNobodyPushedCompleteOnlyUpToAJoinedWorker) {
  ConsistencyClock clock = Make(v1::ConsistencySpec::MODEL_BSP, 0, 1);
  Push(clock, 1, 0);
  // Worker 1 died before pushing clock 1 here; worker 2 replaces it and joins at clock 3.
  clock.SetLiveWorkers({});
  EXPECT_FALSE(clock.CompletableContributors().has_value()) << "no workers: clocks stand still";
  clock.SetLiveWorkers({2});
  EXPECT_FALSE(clock.CompletableContributors().has_value());
  Push(clock, 2, 3);
  EXPECT_EQ(clock.clock(), 4u) << "clocks 1 and 2 completed empty, 3 with worker 2's push";
  // Serialised, the join clock travels with the shard (to backups, learners, checkpoints).
  v1::ShardState state;
  clock.Serialize(&state);
  ConsistencyClock copy = Make(v1::ConsistencySpec::MODEL_BSP, 0, 0);
  copy.SetLiveWorkers({2, 3});
  copy.Install(state);
  copy.RecordPush(3, 4);
  EXPECT_FALSE(copy.CompletableContributors().has_value()) << "worker 2 is waited for since 3";
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
