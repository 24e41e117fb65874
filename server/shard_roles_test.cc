#include "server/shard_roles.h"

#include "gtest/gtest.h"

namespace ps {
namespace {

v1::ClusterMap MapWithChains(const std::vector<std::vector<uint32_t>>& chains) {
  v1::ClusterMap map;
  for (size_t shard = 0; shard < chains.size(); ++shard) {
    v1::ShardAssignment* assignment = map.add_shards();
    assignment->set_shard_id(shard);
    for (uint32_t server : chains[shard]) assignment->add_replicas(server);
  }
  return map;
}

TEST(ShardRolesTest, SplitsPrimaryAndBackupByChainPosition) {
  const v1::ClusterMap map = MapWithChains({{1, 2}, {2, 3}, {3, 1}, {1, 3}, {}});
  EXPECT_EQ(RolesOf(map, 1), (ShardRoles{{0, 3}, {2}, {}}));
  EXPECT_EQ(RolesOf(map, 2), (ShardRoles{{1}, {0}, {}}));
  EXPECT_EQ(RolesOf(map, 9), (ShardRoles{}));
  EXPECT_EQ(DescribeRoles(RolesOf(map, 1)), "primary for [0, 3], backup for [2]");
}

TEST(ShardRolesTest, ListsLearnersApart) {
  v1::ClusterMap map = MapWithChains({{1, 2}, {2, 3}});
  map.mutable_shards(1)->add_learners(1);
  EXPECT_EQ(RolesOf(map, 1), (ShardRoles{{0}, {}, {1}}));
  EXPECT_EQ(DescribeRoles(RolesOf(map, 1)), "primary for [0], backup for [], learner for [1]");
}

}  // namespace
}  // namespace ps
