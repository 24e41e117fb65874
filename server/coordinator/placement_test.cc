#include "server/coordinator/placement.h"

#include <algorithm>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "server/coordinator/chain_counts.h"

namespace ps {
namespace {


int Spread(const std::map<uint32_t, int>& counts, const std::vector<uint32_t>& servers) {
  int low = 1 << 30, high = 0;
  for (uint32_t server : servers) {
    const auto it = counts.find(server);
    const int count = it == counts.end() ? 0 : it->second;
    low = std::min(low, count);
    high = std::max(high, count);
  }
  return high - low;
}

class PlacementTest
    : public ::testing::TestWithParam<std::tuple<uint32_t, uint32_t, uint32_t>> {};

TEST_P(PlacementTest, ReplicasDistinctAndBalancedWithinOne) {
  const auto [num_shards, replication, num_servers] = GetParam();
  std::vector<uint32_t> servers;
  for (uint32_t i = 0; i < num_servers; ++i) servers.push_back(10 + 3 * i);
  const absl::StatusOr<ReplicaChains> chains = PlaceShards(num_shards, replication, servers);
  ASSERT_TRUE(chains.ok()) << chains.status();
  ASSERT_EQ(chains->size(), num_shards);
  for (const auto& chain : *chains) {
    ASSERT_EQ(chain.size(), replication);
    EXPECT_EQ(std::set<uint32_t>(chain.begin(), chain.end()).size(), replication)
        << "replicas of one shard must be on distinct servers";
    for (uint32_t server : chain) {
      EXPECT_NE(std::find(servers.begin(), servers.end(), server), servers.end());
    }
  }
  const ChainCounts counts = CountChains(*chains);
  EXPECT_LE(Spread(counts.primaries, servers), 1);
  EXPECT_LE(Spread(counts.replicas, servers), 1);
}

INSTANTIATE_TEST_SUITE_P(Shapes, PlacementTest,
                         ::testing::Values(std::make_tuple(12u, 2u, 3u),
                                           std::make_tuple(16u, 3u, 5u),
                                           std::make_tuple(7u, 2u, 4u),
                                           std::make_tuple(64u, 3u, 7u),
                                           std::make_tuple(5u, 1u, 8u),
                                           std::make_tuple(9u, 3u, 3u)));

TEST(PlacementTest, RejectsMoreReplicasThanServers) {
  const auto chains = PlaceShards(8, 3, {1, 2});
  EXPECT_EQ(chains.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlacementTest, RejectsZeroReplicationAndRepeatedServers) {
  EXPECT_FALSE(PlaceShards(8, 0, {1, 2}).ok());
  EXPECT_FALSE(PlaceShards(8, 2, {1, 1, 2}).ok());
}

TEST(PlacementTest, IsDeterministic) {
  EXPECT_EQ(*PlaceShards(24, 2, {4, 5, 6, 7}), *PlaceShards(24, 2, {4, 5, 6, 7}));
}

TEST(PlacementTest, FailureSpreadsPromotedPrimaries) {
  // 4 servers, 24 shards, R = 2: server 1 leads 6 shards; its backups must not all sit on one
  // server, or that server would lead 12 shards after server 1 dies.
  ReplicaChains chains = *PlaceShards(24, 2, {1, 2, 3, 4});
  EXPECT_EQ(RemoveServer(1, chains), 12);
  const ChainCounts counts = CountChains(chains);
  for (const auto& chain : chains) {
    ASSERT_FALSE(chain.empty());
    EXPECT_NE(chain[0], 1u);
  }
  EXPECT_LE(Spread(counts.primaries, {2, 3, 4}), 1);
}

TEST(PlacementTest, RemoveServerPromotesFirstBackup) {
  ReplicaChains chains = {{1, 2, 3}, {2, 1, 3}, {3, 2, 4}};
  EXPECT_EQ(RemoveServer(1, chains), 2);
  EXPECT_EQ(chains, (ReplicaChains{{2, 3}, {2, 3}, {3, 2, 4}}));
}

TEST(PlacementTest, LosingEveryReplicaLeavesAnEmptyChain) {
  ReplicaChains chains = {{1}, {2}};
  RemoveServer(1, chains);
  EXPECT_TRUE(chains[0].empty());
  EXPECT_EQ(chains[1], std::vector<uint32_t>{2});
}

TEST(AddLearnersTest, SpareServerIsFilledFirst) {
  const ReplicaChains chains = {{1}, {2}, {1, 2}};
  LearnerLists learners(3);
  const std::vector<LearnerChoice> choices = AddLearners(2, {1, 2, 3}, chains, learners);
  EXPECT_EQ(learners, (LearnerLists{{3}, {3}, {}}));
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].shard, 0u);
  EXPECT_EQ(choices[0].server, 3u);
  EXPECT_EQ(choices[0].replicas_left, 1u);
  EXPECT_EQ(choices[1].shard, 1u);
  EXPECT_EQ(choices[1].server, 3u);
}

TEST(AddLearnersTest, EqualLoadGoesToFewestPrimariesThenLowestId) {
  // Servers 2 and 3 hold two replicas each; 2 leads both shards, so 3 is less loaded.
  LearnerLists learners(3);
  AddLearners(2, {1, 2, 3}, {{1}, {2, 3}, {2, 3}}, learners);
  EXPECT_EQ(learners, (LearnerLists{{3}, {}, {}}));
  // Same replicas and primaries: the lowest id.
  learners.assign(3, {});
  AddLearners(2, {1, 2, 3}, {{1}, {2, 3}, {3, 2}}, learners);
  EXPECT_EQ(learners, (LearnerLists{{2}, {}, {}}));
}

TEST(AddLearnersTest, LearnersAddedCountTowardsLoad) {
  // R = 3. Shard 0 takes spare 3 then 2; shard 1 then sees 1 and 3 at load 1 and picks 3, which
  // leads nothing, before 1.
  LearnerLists learners(2);
  const std::vector<LearnerChoice> choices = AddLearners(3, {1, 2, 3}, {{1}, {2}}, learners);
  EXPECT_EQ(learners, (LearnerLists{{3, 2}, {3, 1}}));
  EXPECT_EQ(choices.size(), 4u);
}

TEST(AddLearnersTest, ExistingLearnersCountAndAreKept) {
  LearnerLists learners = {{3}, {}};
  EXPECT_TRUE(AddLearners(2, {1, 2, 3}, {{1}, {1, 2}}, learners).empty());
  EXPECT_EQ(learners, (LearnerLists{{3}, {}}));
}

TEST(AddLearnersTest, EmptyChainIsNotReReplicatedAndFullServersAreSkipped) {
  LearnerLists learners(3);
  AddLearners(3, {1, 2}, {{}, {1}, {1, 2}}, learners);
  EXPECT_EQ(learners, (LearnerLists{{}, {2}, {}}))
      << "an empty chain has nothing to copy from; shard 1 can reach only 2 of 3 with 2 servers";
}

TEST(AddLearnersTest, AnAvoidedServerIsPickedOnlyWhenNoOtherIsLeft) {
  // Server 3 would be least loaded, but shard 0 just failed to replicate to it.
  LearnerLists learners(2);
  const LearnerLists avoid = {{3}, {}};
  AddLearners(2, {1, 2, 3, 4}, {{1}, {1, 2}}, learners, &avoid);
  EXPECT_EQ(learners[0], (std::vector<uint32_t>{4}));
  // With no other candidate it is picked anyway: R matters more than the suspicion.
  learners.assign(2, {});
  AddLearners(2, {1, 3}, {{1}, {1, 3}}, learners, &avoid);
  EXPECT_EQ(learners[0], (std::vector<uint32_t>{3}));
}

}  // namespace
}  // namespace ps
