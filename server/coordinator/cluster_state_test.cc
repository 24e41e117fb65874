#include "server/coordinator/cluster_state.h"

#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace ps {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

ClusterOptions ThreeServerOptions() {
  ClusterOptions options;
  options.num_shards = 12;
  options.replication_factor = 2;
  options.min_servers = 3;
  options.heartbeat_interval = absl::Milliseconds(200);
  options.failure_timeout = absl::Seconds(1);
  return options;
}

v1::MemberRef Ref(v1::MemberRef::Role role, const Registration& registration) {
  v1::MemberRef ref;
  ref.set_role(role);
  ref.set_id(registration.id);
  ref.set_incarnation(registration.incarnation);
  return ref;
}

TEST(ClusterOptionsTest, RejectsInconsistentOptions) {
  ClusterOptions options = ThreeServerOptions();
  EXPECT_TRUE(ValidateClusterOptions(options).ok());
  options.min_servers = 1;
  EXPECT_EQ(ValidateClusterOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = ThreeServerOptions();
  options.failure_timeout = absl::Milliseconds(300);
  EXPECT_EQ(ValidateClusterOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = ThreeServerOptions();
  options.num_shards = 0;
  EXPECT_EQ(ValidateClusterOptions(options).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClusterStateTest, EveryRegistrationBumpsTheEpochAndPlacementWaitsForMinServers) {
  ClusterState state(ThreeServerOptions(), kStart);
  uint64_t epoch = state.Map().epoch();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(state.Map().shards().empty()) << "placement before min_servers registered";
    auto registration = state.RegisterServer("127.0.0.1:" + std::to_string(7000 + i), kStart);
    ASSERT_TRUE(registration.ok()) << registration.status();
    EXPECT_GT(registration->map.epoch(), epoch);
    epoch = registration->map.epoch();
  }
  const v1::ClusterMap map = state.Map();
  ASSERT_EQ(map.shards_size(), 12);
  for (const v1::ShardAssignment& shard : map.shards()) {
    EXPECT_EQ(shard.replicas_size(), 2);
    EXPECT_NE(shard.replicas(0), shard.replicas(1));
  }
}

TEST(ClusterStateTest, RejectsMalformedAddresses) {
  ClusterState state(ThreeServerOptions(), kStart);
  const uint64_t epoch = state.Map().epoch();
  EXPECT_EQ(state.RegisterServer("", kStart).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state.RegisterServer("localhost", kStart).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state.RegisterServer("localhost:99999", kStart).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state.RegisterWorker("h:x", kStart).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state.Map().epoch(), epoch) << "a rejected registration must change nothing";
}

TEST(ClusterStateTest, IncarnationsAreUniqueAndRanksReused) {
  ClusterState state(ThreeServerOptions(), kStart);
  auto w1 = *state.RegisterWorker("", kStart);
  auto w2 = *state.RegisterWorker("", kStart);
  EXPECT_EQ(w1.rank, 0u);
  EXPECT_EQ(w2.rank, 1u);
  EXPECT_NE(w1.incarnation, w2.incarnation);
  ASSERT_TRUE(state.Leave(Ref(v1::MemberRef::ROLE_WORKER, w1)).ok());
  auto w3 = *state.RegisterWorker("", kStart);
  EXPECT_EQ(w3.rank, 0u) << "a replacement worker takes the dead worker's partition";
  EXPECT_NE(w3.id, w1.id);
}

TEST(ClusterStateTest, SilentServerIsDeclaredDeadAfterTimeoutAndNoShardKeepsADeadPrimary) {
  ClusterState state(ThreeServerOptions(), kStart);
  std::vector<Registration> servers;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(*state.RegisterServer("127.0.0.1:" + std::to_string(7000 + i), kStart));
  }
  const uint64_t placed_epoch = state.Map().epoch();
  // Servers 0 and 1 heartbeat; server 2 goes silent.
  for (int tick = 1; tick <= 5; ++tick) {
    const absl::Time now = kStart + tick * absl::Milliseconds(200);
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(state.Heartbeat(Ref(v1::MemberRef::ROLE_SERVER, servers[i]), 0, now).ok());
    }
    EXPECT_TRUE(state.ExpireSilentMembers(now).empty())
        << "declared dead before the failure timeout at tick " << tick;
  }
  const absl::Time after_timeout = kStart + absl::Milliseconds(1001);
  const std::vector<v1::MemberRef> dead = state.ExpireSilentMembers(after_timeout);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id(), servers[2].id);
  EXPECT_EQ(dead[0].incarnation(), servers[2].incarnation);

  const v1::ClusterMap map = state.Map();
  EXPECT_EQ(map.epoch(), placed_epoch + 1) << "one failure sweep bumps the epoch once";
  for (const v1::ShardAssignment& shard : map.shards()) {
    ASSERT_FALSE(shard.replicas().empty());
    EXPECT_NE(shard.replicas(0), servers[2].id) << "shard " << shard.shard_id();
    for (uint32_t replica : shard.replicas()) EXPECT_NE(replica, servers[2].id);
  }
  for (const v1::ServerInfo& server : map.servers()) {
    EXPECT_EQ(server.state() == v1::MEMBER_STATE_DEAD, server.server_id() == servers[2].id);
  }
  // The dead incarnation cannot come back by heartbeating.
  EXPECT_EQ(state.Heartbeat(Ref(v1::MemberRef::ROLE_SERVER, servers[2]), 0, after_timeout)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(ClusterStateTest, HeartbeatFromUnknownIncarnationIsNotFound) {
  ClusterState state(ThreeServerOptions(), kStart);
  auto worker = *state.RegisterWorker("", kStart);
  v1::MemberRef stale = Ref(v1::MemberRef::ROLE_WORKER, worker);
  stale.set_incarnation(worker.incarnation + 1);
  EXPECT_EQ(state.Heartbeat(stale, 0, kStart).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(state.Leave(stale).status().code(), absl::StatusCode::kNotFound);
}

TEST(ClusterStateTest, WaitForNewerMapWakesOnChangeAndTimesOut) {
  ClusterState state(ThreeServerOptions(), kStart);
  const uint64_t epoch = state.Map().epoch();
  EXPECT_FALSE(state.WaitForNewerMap(epoch, 0, absl::Now() + absl::Milliseconds(20)).has_value());
  std::thread registrar([&] { ASSERT_TRUE(state.RegisterWorker("", kStart).ok()); });
  const auto map = state.WaitForNewerMap(epoch, 0, absl::Now() + absl::Seconds(30));
  registrar.join();
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(map->epoch(), epoch + 1);
  state.Shutdown();
  EXPECT_FALSE(state.WaitForNewerMap(0, 0, absl::Now() + absl::Seconds(30)).has_value());
}

}  // namespace
}  // namespace ps

namespace ps {
namespace {

v1::TableSpec DenseTable(const std::string& name, uint64_t size) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(size);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  return spec;
}

TEST(TableCatalogTest, CreateIsIdempotentAndConflictsAreErrors) {
  ClusterState state(ThreeServerOptions(), kStart);
  const uint64_t epoch = state.Map().epoch();
  auto first = state.CreateTable(DenseTable("w", 10));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->second);
  auto again = state.CreateTable(DenseTable("w", 10));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->second);
  EXPECT_EQ(again->first.table_id(), first->first.table_id());
  EXPECT_EQ(state.CreateTable(DenseTable("w", 11)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(state.CreateTable(DenseTable("bad name", 11)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto other = state.CreateTable(DenseTable("b", 5));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->first.table_id(), first->first.table_id());

  const v1::ClusterMap map = state.Map();
  EXPECT_EQ(map.tables_size(), 2);
  EXPECT_EQ(map.catalog_version(), 2u) << "only the two creations bump the catalog";
  EXPECT_EQ(map.epoch(), epoch) << "tables must not invalidate data-plane routing";
  EXPECT_EQ(state.DescribeTable("b")->spec().dense_size(), 5u);
  EXPECT_EQ(state.DescribeTable("nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ps
