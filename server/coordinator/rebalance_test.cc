#include "server/coordinator/rebalance.h"

#include <algorithm>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "server/coordinator/chain_counts.h"

namespace ps {
namespace {


// Plans and completes moves (each learner catching up at once, in shard order) until the planner
// has nothing more to do; returns every move in the order planned.
std::vector<PlannedMove> RunToCompletion(const MovePlanInput& input, ReplicaChains& chains) {
  LearnerLists learners(chains.size());
  std::map<uint32_t, PlannedMove> moving;
  std::vector<PlannedMove> all;
  for (int round = 0; round < 1000; ++round) {
    for (const PlannedMove& move : PlanMoves(input, chains, learners, moving)) {
      EXPECT_EQ(moving.count(move.shard), 0u) << "two moves of shard " << move.shard;
      EXPECT_TRUE(learners[move.shard].empty());
      learners[move.shard].push_back(move.to);
      moving[move.shard] = move;
      all.push_back(move);
    }
    EXPECT_LE(moving.size(), input.max_moves);
    if (moving.empty()) return all;
    // The oldest move (lowest shard) completes.
    const PlannedMove done = moving.begin()->second;
    moving.erase(moving.begin());
    chains[done.shard] = ChainAfterMove(chains[done.shard], done);
    learners[done.shard].clear();
  }
  ADD_FAILURE() << "the planner never settled";
  return all;
}

void ExpectValidChains(const ReplicaChains& chains, uint32_t replication) {
  for (size_t shard = 0; shard < chains.size(); ++shard) {
    const auto& chain = chains[shard];
    EXPECT_EQ(chain.size(), replication) << "shard " << shard;
    EXPECT_EQ(std::set<uint32_t>(chain.begin(), chain.end()).size(), chain.size())
        << "shard " << shard << " has a server twice";
  }
}

TEST(RebalanceTest, ScaleOutFromTwoToThreeServersBalancesReplicasAndPrimaries) {
  absl::StatusOr<ReplicaChains> placed = PlaceShards(12, 2, {1, 2});
  ASSERT_TRUE(placed.ok()) << placed.status();
  ReplicaChains chains = *placed;
  MovePlanInput input;
  input.replication_factor = 2;
  input.targets = {1, 2, 3};
  input.max_moves = 2;
  const std::vector<PlannedMove> moves = RunToCompletion(input, chains);
  ExpectValidChains(chains, 2);
  const ChainCounts counts = CountChains(chains);
  EXPECT_EQ(counts.replicas, (std::map<uint32_t, int>{{1, 8}, {2, 8}, {3, 8}}));
  EXPECT_EQ(counts.primaries, (std::map<uint32_t, int>{{1, 4}, {2, 4}, {3, 4}}));
  // The fewest moves that can do it: server 3 receives 8 replicas, nothing else moves.
  ASSERT_EQ(moves.size(), 8u);
  for (const PlannedMove& move : moves) {
    EXPECT_EQ(move.to, 3u);
    EXPECT_EQ(move.reason, "rebalance");
  }
}

TEST(RebalanceTest, BalancedClusterPlansNothing) {
  absl::StatusOr<ReplicaChains> placed = PlaceShards(16, 2, {1, 2, 3});
  ASSERT_TRUE(placed.ok());
  MovePlanInput input;
  input.replication_factor = 2;
  input.targets = {1, 2, 3};
  input.max_moves = 4;
  EXPECT_TRUE(PlanMoves(input, *placed, LearnerLists(16), {}).empty());
}

TEST(RebalanceTest, DrainMovesBackupsFirstThenPrimariesAndEmptiesTheServer) {
  absl::StatusOr<ReplicaChains> placed = PlaceShards(12, 2, {1, 2, 3});
  ASSERT_TRUE(placed.ok());
  ReplicaChains chains = *placed;
  const ChainCounts before = CountChains(chains);
  MovePlanInput input;
  input.replication_factor = 2;
  input.targets = {1, 2};
  input.draining = {3};
  input.max_moves = 2;
  const std::vector<PlannedMove> moves = RunToCompletion(input, chains);
  ExpectValidChains(chains, 2);
  const ChainCounts after = CountChains(chains);
  EXPECT_EQ(after.replicas.count(3), 0u) << "the drained server still holds replicas";
  EXPECT_EQ(after.replicas, (std::map<uint32_t, int>{{1, 12}, {2, 12}}));
  ASSERT_EQ(moves.size(), static_cast<size_t>(before.replicas.at(3)));
  // Primaries last: no backup move after the first primary move.
  bool primary_seen = false;
  for (const PlannedMove& move : moves) {
    EXPECT_EQ(move.from, 3u);
    EXPECT_EQ(move.reason, "drain");
    EXPECT_FALSE(move.lead);
    const bool was_primary = (*placed)[move.shard][0] == 3;
    EXPECT_FALSE(primary_seen && !was_primary) << "backup of shard " << move.shard
                                               << " moved after a primary";
    primary_seen |= was_primary;
  }
  EXPECT_TRUE(primary_seen);
}

TEST(RebalanceTest, NeverPlansMoreThanTheLimitOrMovesAShardBeingReReplicated) {
  absl::StatusOr<ReplicaChains> placed = PlaceShards(8, 2, {1, 2});
  ASSERT_TRUE(placed.ok());
  LearnerLists learners(8);
  learners[0] = {3};  // Shard 0 is being re-replicated onto server 3.
  ReplicaChains chains = *placed;
  chains[0].pop_back();
  MovePlanInput input;
  input.replication_factor = 2;
  input.targets = {1, 2, 3};
  input.max_moves = 3;
  std::map<uint32_t, PlannedMove> moving;
  moving[5] = PlannedMove{5, chains[5][0], 3, false, "rebalance"};
  learners[5] = {3};
  const std::vector<PlannedMove> moves = PlanMoves(input, chains, learners, moving);
  ASSERT_EQ(moves.size(), 2u);
  for (const PlannedMove& move : moves) {
    EXPECT_NE(move.shard, 0u);
    EXPECT_NE(move.shard, 5u);
  }
}

TEST(RebalanceTest, DrainWithNoServerToTakeTheReplicasPlansNothing) {
  absl::StatusOr<ReplicaChains> placed = PlaceShards(4, 2, {1, 2});
  ASSERT_TRUE(placed.ok());
  MovePlanInput input;
  input.replication_factor = 2;
  input.targets = {1};
  input.draining = {2};
  input.max_moves = 2;
  EXPECT_TRUE(PlanMoves(input, *placed, LearnerLists(4), {}).empty());
}

TEST(RebalanceTest, ChainAfterMove) {
  EXPECT_EQ(ChainAfterMove({1, 2}, {0, 1, 3, true, ""}), (std::vector<uint32_t>{3, 2}));
  EXPECT_EQ(ChainAfterMove({1, 2}, {0, 1, 3, false, ""}), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(ChainAfterMove({1, 2}, {0, 2, 3, true, ""}), (std::vector<uint32_t>{1, 3}));
  // The source already left (it died): the learner just joins.
  EXPECT_EQ(ChainAfterMove({2}, {0, 1, 3, true, ""}), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(ChainAfterMove({1}, {0, 1, 3, false, ""}), (std::vector<uint32_t>{3}));
}

}  // namespace
}  // namespace ps
