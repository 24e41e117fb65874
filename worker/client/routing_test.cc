#include "worker/client/routing.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// Servers 1 "a:1" (ALIVE), 2 "b:2" (DEAD), 3 "c:3" (ALIVE); shard s led by primaries[s] (0: no
// replicas).
v1::ClusterMap MakeMap(const std::vector<uint32_t>& primaries) {
  v1::ClusterMap map;
  map.set_num_shards(static_cast<uint32_t>(primaries.size()));
  const char* const addresses[] = {"a:1", "b:2", "c:3"};
  for (uint32_t id = 1; id <= 3; ++id) {
    v1::ServerInfo* server = map.add_servers();
    server->set_server_id(id);
    server->set_address(addresses[id - 1]);
    server->set_state(id == 2 ? v1::MEMBER_STATE_DEAD : v1::MEMBER_STATE_ALIVE);
  }
  for (uint32_t shard = 0; shard < primaries.size(); ++shard) {
    v1::ShardAssignment* assignment = map.add_shards();
    assignment->set_shard_id(shard);
    if (primaries[shard] != 0) assignment->add_replicas(primaries[shard]);
  }
  return map;
}

std::vector<ShardPart> Parts(const std::vector<uint32_t>& shards) {
  std::vector<ShardPart> parts(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) parts[i].shard_id = shards[i];
  return parts;
}

TEST(RoutingTest, GroupsPendingPartsByPrimaryInOrderOfFirstAppearance) {
  std::vector<ShardPart> parts = Parts({0, 1, 2, 3});
  parts[2].done = true;
  const Routing routing = RoutePendingParts(MakeMap({3, 1, 3, 3}), parts);

  EXPECT_FALSE(routing.unroutable);
  ASSERT_EQ(routing.batches.size(), 2u);
  EXPECT_EQ(routing.batches[0].server_id, 3u);
  EXPECT_EQ(routing.batches[0].address, "c:3");
  EXPECT_EQ(routing.batches[0].parts, (std::vector<ShardPart*>{&parts[0], &parts[3]}));
  EXPECT_EQ(routing.batches[1].server_id, 1u);
  EXPECT_EQ(routing.batches[1].address, "a:1");
  EXPECT_EQ(routing.batches[1].parts, std::vector<ShardPart*>{&parts[1]});
}

TEST(RoutingTest, PartsWithoutALivePrimaryAreLeftOut) {
  // Shard 0: dead primary; shard 1: no replicas; shard 5: beyond the map's shards.
  std::vector<ShardPart> parts = Parts({0, 1, 2, 5});
  const Routing routing = RoutePendingParts(MakeMap({2, 0, 1}), parts);

  EXPECT_TRUE(routing.unroutable);
  ASSERT_EQ(routing.batches.size(), 1u);
  EXPECT_EQ(routing.batches[0].server_id, 1u);
  EXPECT_EQ(routing.batches[0].parts, std::vector<ShardPart*>{&parts[2]});
}

TEST(RoutingTest, NothingPendingRoutesNothing) {
  std::vector<ShardPart> parts = Parts({0});
  parts[0].done = true;
  const Routing routing = RoutePendingParts(MakeMap({1}), parts);

  EXPECT_FALSE(routing.unroutable);
  EXPECT_TRUE(routing.batches.empty());
}

// Pull parts of shards 0..n-1 expecting `values[i]` float32 values each.
std::vector<ShardPart> PullParts(const std::vector<uint64_t>& values) {
  std::vector<ShardPart> parts(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    parts[i].shard_id = static_cast<uint32_t>(i);
    parts[i].num_values = values[i];
  }
  return parts;
}

TEST(RoutingTest, SpreadSplitsALargeBatchIntoRunsOfAboutEqualBytesOnSuccessiveConnections) {
  // Server 3 leads shards 0, 1, 2, 4 (100, 100, 100, 100 values: 1600 bytes); server 1 leads 3.
  std::vector<ShardPart> parts = PullParts({100, 100, 100, 50, 100});
  Routing routing = RoutePendingParts(MakeMap({3, 3, 3, 1, 3}), parts);
  SpreadOverConnections(routing, /*push=*/false, /*min_bytes=*/1600, /*connections=*/2);

  ASSERT_EQ(routing.batches.size(), 3u);
  EXPECT_EQ(routing.batches[0].server_id, 3u);
  EXPECT_EQ(routing.batches[0].connection, 0u);
  EXPECT_EQ(routing.batches[0].parts, (std::vector<ShardPart*>{&parts[0], &parts[1]}));
  EXPECT_EQ(routing.batches[1].server_id, 3u);
  EXPECT_EQ(routing.batches[1].address, "c:3");
  EXPECT_EQ(routing.batches[1].connection, 1u);
  EXPECT_EQ(routing.batches[1].parts, (std::vector<ShardPart*>{&parts[2], &parts[4]}));
  // 200 bytes: below min_bytes, one request.
  EXPECT_EQ(routing.batches[2].server_id, 1u);
  EXPECT_EQ(routing.batches[2].connection, 0u);
  EXPECT_EQ(routing.batches[2].parts, std::vector<ShardPart*>{&parts[3]});
}

TEST(RoutingTest, SpreadNeverMakesMoreBatchesThanPartsOrConnections) {
  std::vector<ShardPart> parts = PullParts({1000, 1, 1, 1, 1, 1});
  Routing routing = RoutePendingParts(MakeMap({1, 1, 1, 1, 1, 1}), parts);
  SpreadOverConnections(routing, /*push=*/false, /*min_bytes=*/1, /*connections=*/4);

  // The first part holds nearly every byte: it fills connection 0, the rest share connection 3.
  ASSERT_EQ(routing.batches.size(), 2u);
  EXPECT_EQ(routing.batches[0].connection, 0u);
  EXPECT_EQ(routing.batches[0].parts, std::vector<ShardPart*>{&parts[0]});
  EXPECT_EQ(routing.batches[1].connection, 3u);
  EXPECT_EQ(routing.batches[1].parts.size(), 5u);

  std::vector<ShardPart> two = PullParts({10, 10});
  Routing pair = RoutePendingParts(MakeMap({1, 1}), two);
  SpreadOverConnections(pair, /*push=*/false, /*min_bytes=*/1, /*connections=*/8);
  ASSERT_EQ(pair.batches.size(), 2u);
  EXPECT_EQ(pair.batches[1].connection, 1u);
}

TEST(RoutingTest, SpreadCountsAPushsValuesAsSent) {
  std::vector<ShardPart> parts = PullParts({1000, 1000});
  parts[0].values = grpc::Slice(std::string(10, 'x'));
  parts[1].values = grpc::Slice(std::string(10, 'x'));
  Routing routing = RoutePendingParts(MakeMap({1, 1}), parts);
  // As a push these parts carry 20 bytes (their values), not 8000.
  SpreadOverConnections(routing, /*push=*/true, /*min_bytes=*/21, /*connections=*/2);
  EXPECT_EQ(routing.batches.size(), 1u);
  SpreadOverConnections(routing, /*push=*/true, /*min_bytes=*/20, /*connections=*/2);
  EXPECT_EQ(routing.batches.size(), 2u);
}

}  // namespace
}  // namespace ps
