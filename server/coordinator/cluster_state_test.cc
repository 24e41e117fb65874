#include "server/coordinator/cluster_state.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics/metric_registry.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

using google::protobuf::util::MessageDifferencer;

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

TEST(ClusterStateTest, RegistrationsBumpMembershipAndOnlyPlacementBumpsTheEpoch) {
  ClusterState state(ThreeServerOptions(), kStart);
  const uint64_t epoch = state.Map().epoch();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(state.Map().shards().empty()) << "placement before min_servers registered";
    auto registration = state.RegisterServer("127.0.0.1:" + std::to_string(7000 + i), kStart);
    ASSERT_TRUE(registration.ok()) << registration.status();
    EXPECT_EQ(registration->map.membership_version(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(registration->map.epoch(), i < 2 ? epoch : epoch + 1)
        << "only the registration that places the shards changes them";
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
  EXPECT_EQ(state.Map().membership_version(), 0u);
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
    EXPECT_EQ(shard.replicas_size() + shard.learners_size(), 2)
        << "re-replication restores R on the survivors: " << shard.ShortDebugString();
    for (uint32_t learner : shard.learners()) EXPECT_NE(learner, servers[2].id);
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

TEST(ClusterStateTest, WaitForNewerMapWakesOnAnyVersionAndTimesOut) {
  ClusterState state(ThreeServerOptions(), kStart);
  const uint64_t epoch = state.Map().epoch();
  EXPECT_FALSE(
      state.WaitForNewerMap(epoch, 0, 0, absl::Now() + absl::Milliseconds(20)).has_value());
  // A worker joining moves only the membership version.
  std::thread registrar([&] { ASSERT_TRUE(state.RegisterWorker("", kStart).ok()); });
  const auto map = state.WaitForNewerMap(epoch, 0, 0, absl::Now() + absl::Seconds(30));
  registrar.join();
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(map->epoch(), epoch);
  EXPECT_EQ(map->membership_version(), 1u);
  // A table moves only the catalog version.
  std::thread creator([&] {
    v1::TableSpec spec;
    spec.set_name("t");
    spec.set_kind(v1::TABLE_KIND_DENSE);
    spec.set_dense_size(4);
    spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
    spec.mutable_optimizer()->set_learning_rate(1.0f);
    spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
    ASSERT_TRUE(state.CreateTable(spec).ok());
  });
  const auto with_table = state.WaitForNewerMap(epoch, 0, 1, absl::Now() + absl::Seconds(30));
  creator.join();
  ASSERT_TRUE(with_table.has_value());
  EXPECT_EQ(with_table->catalog_version(), 1u);
  EXPECT_EQ(with_table->membership_version(), 1u);
  EXPECT_FALSE(
      state.WaitForNewerMap(epoch, 1, 1, absl::Now() + absl::Milliseconds(20)).has_value());
  state.Shutdown();
  EXPECT_FALSE(state.WaitForNewerMap(0, 0, 0, absl::Now() + absl::Seconds(30)).has_value());
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

namespace ps {
namespace {

ClusterOptions Options(uint32_t num_shards, uint32_t replication_factor, uint32_t min_servers) {
  ClusterOptions options;
  options.num_shards = num_shards;
  options.replication_factor = replication_factor;
  options.min_servers = min_servers;
  options.heartbeat_interval = absl::Milliseconds(200);
  options.failure_timeout = absl::Seconds(1);
  // Spares stay spares in the re-replication cases; MoveTest turns rebalancing on, and moves
  // follow each other at once unless a test paces them.
  options.rebalance = false;
  options.move_pause = absl::ZeroDuration();
  return options;
}

// Registers `count` servers; ids are 1..count in a fresh state.
std::vector<v1::MemberRef> AddServers(ClusterState& state, int count) {
  std::vector<v1::MemberRef> refs;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<Registration> registration =
        state.RegisterServer("127.0.0.1:" + std::to_string(7100 + i), kStart);
    EXPECT_TRUE(registration.ok()) << registration.status();
    if (registration.ok()) refs.push_back(Ref(v1::MemberRef::ROLE_SERVER, *registration));
  }
  return refs;
}

ReplicaChains ChainsOf(const v1::ClusterMap& map) {
  ReplicaChains chains;
  for (const v1::ShardAssignment& shard : map.shards()) {
    chains.emplace_back(shard.replicas().begin(), shard.replicas().end());
  }
  return chains;
}

LearnerLists LearnersOf(const v1::ClusterMap& map) {
  LearnerLists learners;
  for (const v1::ShardAssignment& shard : map.shards()) {
    learners.emplace_back(shard.learners().begin(), shard.learners().end());
  }
  return learners;
}

v1::ReportReplicaFailureRequest FailureReport(const v1::MemberRef& reporter, uint32_t failed,
                                              std::vector<uint32_t> shards) {
  v1::ReportReplicaFailureRequest request;
  *request.mutable_reporter() = reporter;
  request.set_failed_server_id(failed);
  for (uint32_t shard : shards) request.add_shard_ids(shard);
  request.set_reason("replication timed out");
  return request;
}

v1::ReportLearnerCaughtUpRequest CaughtUp(const v1::MemberRef& learner, uint32_t shard,
                                          uint64_t catalog_version) {
  v1::ReportLearnerCaughtUpRequest request;
  *request.mutable_learner() = learner;
  request.set_shard_id(shard);
  request.set_catalog_version(catalog_version);
  return request;
}

// Completes every move the state starts (each learner reports it caught up, lowest shard first)
// and checks that each completion is one map change. Returns the number completed.
int CompleteMoves(ClusterState& state, const std::vector<v1::MemberRef>& servers) {
  int completed = 0;
  for (int round = 0; round < 100; ++round) {
    const v1::ClusterStatus status = state.Status(kStart);
    if (status.moves().empty()) return completed;
    EXPECT_LE(status.moves_size(), static_cast<int>(status.max_concurrent_moves()));
    const v1::ShardMove move = status.moves(0);
    const uint64_t epoch = status.map().epoch();
    const bool primary_moves =
        status.map().shards(move.shard_id()).replicas(0) == move.from_server();
    absl::StatusOr<uint64_t> after =
        state.ReportLearnerCaughtUp(CaughtUp(servers.at(move.to_server() - 1), move.shard_id(), 0));
    EXPECT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after.value_or(0), epoch + 1);
    if (primary_moves) {
      // Sealed: the learner is the last backup, the primary still leads and hands over.
      const v1::ShardAssignment sealed = state.Map().shards(move.shard_id());
      EXPECT_TRUE(sealed.sealed());
      EXPECT_EQ(sealed.replicas(0), move.from_server());
      EXPECT_EQ(sealed.replicas(sealed.replicas_size() - 1), move.to_server());
      v1::ReportHandoffReadyRequest ready;
      *ready.mutable_primary() = servers.at(move.from_server() - 1);
      ready.set_shard_id(move.shard_id());
      after = state.ReportHandoffReady(ready);
      EXPECT_TRUE(after.ok()) << after.status();
      EXPECT_EQ(after.value_or(0), epoch + 2) << "a primary moves in two map changes";
      EXPECT_FALSE(state.Map().shards(move.shard_id()).sealed());
      // A retried report changes nothing.
      EXPECT_EQ(state.ReportHandoffReady(ready).value_or(0), epoch + 2);
      if (move.lead()) {
        EXPECT_EQ(state.Map().shards(move.shard_id()).replicas(0), move.to_server());
      }
    } else {
      EXPECT_FALSE(state.Map().shards(move.shard_id()).sealed());
    }
    const ReplicaChains chains = ChainsOf(state.Map());
    const std::vector<uint32_t>& chain = chains.at(move.shard_id());
    EXPECT_EQ(std::count(chain.begin(), chain.end(), move.from_server()), 0);
    EXPECT_EQ(std::count(chain.begin(), chain.end(), move.to_server()), 1);
    ++completed;
  }
  ADD_FAILURE() << "moves never ended";
  return completed;
}

std::map<uint32_t, int> ReplicasPerServer(const v1::ClusterMap& map, bool primaries_only) {
  std::map<uint32_t, int> counts;
  for (const v1::ShardAssignment& shard : map.shards()) {
    for (int i = 0;
         i < (primaries_only ? std::min(1, shard.replicas_size()) : shard.replicas_size()); ++i) {
      ++counts[shard.replicas(i)];
    }
  }
  return counts;
}

ClusterOptions MoveOptions(uint32_t min_servers = 3) {
  ClusterOptions options = Options(12, 2, min_servers);
  options.rebalance = true;
  options.max_concurrent_moves = 2;
  return options;
}

TEST(MoveTest, AServerJoiningAPlacedClusterGetsItsShareAFewShardsAtATime) {
  ClusterState state(MoveOptions(/*min_servers=*/2), kStart);
  std::vector<v1::MemberRef> servers = AddServers(state, 2);
  const v1::ClusterMap placed = state.Map();
  std::vector<v1::MemberRef> joined = AddServers(state, 1);
  ASSERT_EQ(joined.size(), 1u);
  servers.push_back(joined[0]);
  const v1::ClusterStatus moving = state.Status(kStart);
  EXPECT_EQ(moving.map().epoch(), placed.epoch() + 1) << "the first moves start at once";
  ASSERT_EQ(moving.moves_size(), 2);
  for (const v1::ShardMove& move : moving.moves()) {
    EXPECT_EQ(move.to_server(), 3u);
    EXPECT_EQ(move.reason(), "rebalance");
    EXPECT_EQ(LearnersOf(moving.map()).at(move.shard_id()), std::vector<uint32_t>{3});
  }
  EXPECT_EQ(CompleteMoves(state, servers), 8);
  const v1::ClusterMap balanced = state.Map();
  EXPECT_EQ(ReplicasPerServer(balanced, false), (std::map<uint32_t, int>{{1, 8}, {2, 8}, {3, 8}}));
  EXPECT_EQ(ReplicasPerServer(balanced, true), (std::map<uint32_t, int>{{1, 4}, {2, 4}, {3, 4}}));
  EXPECT_EQ(LearnersOf(balanced), LearnerLists(12));
}

TEST(MoveTest, DrainEmptiesTheServerAndUndrainRebalancesItAgain) {
  ClusterState state(MoveOptions(), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 3);
  ASSERT_EQ(ReplicasPerServer(state.Map(), false).at(3), 8);
  const uint64_t membership = state.Map().membership_version();

  absl::StatusOr<ClusterState::DrainProgress> drained = state.Drain(3);
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(drained->replicas_held, 8u);
  EXPECT_EQ(drained->primaries_held, 4u);
  v1::ClusterMap map = state.Map();
  EXPECT_EQ(map.membership_version(), membership + 1);
  EXPECT_TRUE(map.servers(2).draining());
  // Draining twice changes nothing.
  ASSERT_TRUE(state.Drain(3).ok());
  EXPECT_EQ(state.Map().epoch(), map.epoch());
  EXPECT_EQ(state.Map().membership_version(), map.membership_version());

  // Its backups move first, its primaries last.
  bool primary_moved = false;
  for (int round = 0; round < 20 && !state.Status(kStart).moves().empty(); ++round) {
    const v1::ClusterStatus status = state.Status(kStart);
    for (const v1::ShardMove& move : status.moves()) {
      EXPECT_EQ(move.from_server(), 3u);
      EXPECT_NE(move.to_server(), 3u);
      const bool leads = status.map().shards(move.shard_id()).replicas(0) == 3;
      EXPECT_FALSE(primary_moved && !leads) << "a backup moved after a primary";
      primary_moved |= leads;
    }
    const v1::ShardMove move = status.moves(0);
    ASSERT_TRUE(
        state.ReportLearnerCaughtUp(CaughtUp(servers[move.to_server() - 1], move.shard_id(), 0))
            .ok());
    if (state.Map().shards(move.shard_id()).sealed()) {
      v1::ReportHandoffReadyRequest ready;
      *ready.mutable_primary() = servers[move.from_server() - 1];
      ready.set_shard_id(move.shard_id());
      ASSERT_TRUE(state.ReportHandoffReady(ready).ok());
    }
  }
  map = state.Map();
  EXPECT_EQ(ReplicasPerServer(map, false), (std::map<uint32_t, int>{{1, 12}, {2, 12}}));
  EXPECT_TRUE(primary_moved);
  absl::StatusOr<ClusterState::DrainProgress> empty = state.Drain(3);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->replicas_held, 0u);

  // Back in service, it gets its share again.
  absl::StatusOr<ClusterState::DrainProgress> undrained = state.Undrain(3);
  ASSERT_TRUE(undrained.ok()) << undrained.status();
  EXPECT_FALSE(state.Map().servers(2).draining());
  EXPECT_EQ(CompleteMoves(state, servers), 8);
  EXPECT_EQ(ReplicasPerServer(state.Map(), false),
            (std::map<uint32_t, int>{{1, 8}, {2, 8}, {3, 8}}));
}

TEST(MoveTest, DrainRefusalsChangeNothing) {
  ClusterState state(MoveOptions(/*min_servers=*/2), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 2);
  const v1::CoordinatorState before = state.Snapshot();
  EXPECT_EQ(state.Drain(7).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(state.Undrain(7).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ClusterState::DrainProgress> refused = state.Drain(1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("fewer than the replication factor"), std::string::npos)
      << refused.status();
  ASSERT_TRUE(state.Leave(servers[1]).ok());
  EXPECT_EQ(state.Drain(2).status().code(), absl::StatusCode::kNotFound) << "a dead server";
  EXPECT_TRUE(
      MessageDifferencer::Equals(state.Snapshot().map().servers(0), before.map().servers(0)));
}

TEST(MoveTest, AMoveWhoseTargetDiesIsDroppedAndTheDrainGoesOnElsewhere) {
  ClusterOptions options = MoveOptions(/*min_servers=*/4);
  options.max_concurrent_moves = 1;
  ClusterState state(options, kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 4);
  ASSERT_TRUE(state.Drain(4).ok());
  v1::ClusterStatus status = state.Status(kStart);
  ASSERT_EQ(status.moves_size(), 1);
  const v1::ShardMove first = status.moves(0);
  ASSERT_TRUE(state.Leave(servers[first.to_server() - 1]).ok());
  status = state.Status(kStart);
  // The dead target's replicas were re-replicated; the drain waits for those shards and goes on.
  for (const v1::ShardMove& move : status.moves()) {
    EXPECT_NE(move.to_server(), first.to_server());
    EXPECT_EQ(move.from_server(), 4u);
  }
  for (const v1::ShardAssignment& shard : status.map().shards()) {
    for (uint32_t learner : shard.learners())
      EXPECT_NE(learner, 4u) << "a learner on a drained server";
  }
}

// Drains server 3 of a 3-server cluster up to the seal of its first primary's handoff; returns
// that move.
std::optional<v1::ShardMove> SealFirstPrimary(ClusterState& state,
                                              const std::vector<v1::MemberRef>& servers) {
  if (!state.Drain(3).ok()) return std::nullopt;
  for (int round = 0; round < 20; ++round) {
    const v1::ClusterStatus status = state.Status(kStart);
    if (status.moves().empty()) return std::nullopt;
    const v1::ShardMove move = status.moves(0);
    if (!state.ReportLearnerCaughtUp(CaughtUp(servers[move.to_server() - 1], move.shard_id(), 0))
             .ok()) {
      return std::nullopt;
    }
    if (state.Map().shards(move.shard_id()).sealed()) return move;
  }
  return std::nullopt;
}

TEST(MoveTest, APausedSlotStartsItsNextMoveOnlyAfterThePause) {
  ClusterOptions options = MoveOptions(/*min_servers=*/2);
  options.max_concurrent_moves = 1;
  options.move_pause = absl::Seconds(1);
  ClusterState state(options, kStart);
  std::vector<v1::MemberRef> servers = AddServers(state, 3);
  state.TickMoves(kStart);
  v1::ClusterStatus status = state.Status(kStart);
  ASSERT_EQ(status.moves_size(), 1) << "the first move starts at once";
  v1::ShardMove move = status.moves(0);
  ASSERT_TRUE(
      state.ReportLearnerCaughtUp(CaughtUp(servers[move.to_server() - 1], move.shard_id(), 0))
          .ok());
  if (state.Map().shards(move.shard_id()).sealed()) {
    v1::ReportHandoffReadyRequest ready;
    *ready.mutable_primary() = servers[move.from_server() - 1];
    ready.set_shard_id(move.shard_id());
    ASSERT_TRUE(state.ReportHandoffReady(ready).ok());
  }
  EXPECT_TRUE(state.Status(kStart).moves().empty()) << "the slot pauses";
  const absl::Time done = kStart + absl::Milliseconds(100);
  state.TickMoves(done);
  state.TickMoves(done + absl::Milliseconds(999));
  EXPECT_TRUE(state.Status(kStart).moves().empty()) << "started before the pause ended";
  const uint64_t epoch = state.Map().epoch();
  state.TickMoves(done + absl::Seconds(1));
  EXPECT_EQ(state.Status(kStart).moves_size(), 1);
  EXPECT_EQ(state.Map().epoch(), epoch + 1);
}

// A 3-server cluster draining server 3, one move at a time, up to its first primary's seal.
class HandoffTest : public ::testing::Test {
 protected:
  static ClusterOptions OneMoveAtATime() {
    ClusterOptions options = MoveOptions();
    options.max_concurrent_moves = 1;
    return options;
  }
  void SetUp() override {
    servers_ = AddServers(state_, 3);
    move_ = SealFirstPrimary(state_, servers_);
    ASSERT_TRUE(move_.has_value());
  }

  const ClusterOptions options_ = OneMoveAtATime();
  ClusterState state_{options_, kStart};
  std::vector<v1::MemberRef> servers_;
  std::optional<v1::ShardMove> move_;
};

TEST_F(HandoffTest, AHandoffThePrimaryNeverReportsIsSwitchedAfterTheTimeout) {
  ClusterState& state = state_;
  const ClusterOptions& options = options_;
  const std::optional<v1::ShardMove>& move = move_;
  const uint64_t epoch = state.Map().epoch();
  state.TickMoves(kStart);
  state.TickMoves(kStart + options.handoff_timeout - absl::Milliseconds(1));
  EXPECT_EQ(state.Map().epoch(), epoch) << "switched before the timeout";
  state.TickMoves(kStart + options.handoff_timeout);
  const v1::ShardAssignment after = state.Map().shards(move->shard_id());
  EXPECT_FALSE(after.sealed());
  EXPECT_EQ(std::count(after.replicas().begin(), after.replicas().end(), 3u), 0);
  EXPECT_EQ(after.replicas_size(), 2);
}

TEST_F(HandoffTest, APrimaryThatDiesWhileHandingOverLiftsTheSeal) {
  ClusterState& state = state_;
  const std::vector<v1::MemberRef>& servers = servers_;
  const std::optional<v1::ShardMove>& move = move_;
  ASSERT_TRUE(state.Leave(servers[2]).ok());
  const v1::ClusterStatus status = state.Status(kStart);
  for (const v1::ShardAssignment& shard : status.map().shards()) {
    EXPECT_FALSE(shard.sealed()) << "shard " << shard.shard_id();
  }
  EXPECT_TRUE(status.moves().empty());
  // Its late report changes nothing.
  v1::ReportHandoffReadyRequest ready;
  *ready.mutable_primary() = servers[2];
  ready.set_shard_id(move->shard_id());
  EXPECT_EQ(state.ReportHandoffReady(ready).status().code(), absl::StatusCode::kNotFound);
}

TEST(MoveTest, ASavedSealWithoutItsMoveIsLiftedOnResume) {
  ClusterState state(MoveOptions(), kStart);
  AddServers(state, 3);
  v1::CoordinatorState saved = state.Snapshot();
  saved.mutable_map()->mutable_shards(2)->set_sealed(true);  // No move goes with it.
  ClusterState resumed(MoveOptions(), kStart);
  ASSERT_TRUE(resumed.Resume(saved, kStart).ok());
  EXPECT_FALSE(resumed.Map().shards(2).sealed());
  resumed.TickMoves(kStart + absl::Seconds(10));  // Nothing to hand over: no crash, no change.
  EXPECT_EQ(resumed.Map().epoch(), saved.map().epoch());
}

TEST(MoveTest, MovesInFlightSurviveACoordinatorRestart) {
  ClusterOptions options = MoveOptions();
  ClusterState state(options, kStart);
  std::vector<v1::MemberRef> servers = AddServers(state, 3);
  ASSERT_TRUE(state.Drain(2).ok());
  const v1::ClusterStatus moving = state.Status(kStart);
  ASSERT_EQ(moving.moves_size(), 2);

  ClusterState resumed(options, kStart + absl::Seconds(5));
  ASSERT_TRUE(resumed.Resume(state.Snapshot(), kStart + absl::Seconds(5)).ok());
  const v1::ClusterStatus after = resumed.Status(kStart + absl::Seconds(5));
  ASSERT_EQ(after.moves_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(after.moves(i), moving.moves(i)));
  }
  EXPECT_TRUE(after.map().servers(1).draining());
  EXPECT_EQ(CompleteMoves(resumed, servers), 8);
  EXPECT_EQ(ReplicasPerServer(resumed.Map(), false).count(2), 0u);
}

TEST(MapVersionsTest, WorkersAndSpareServersBumpMembershipNotEpoch) {
  ClusterState state(Options(4, 2, 2), kStart);
  AddServers(state, 2);
  const v1::ClusterMap placed = state.Map();
  ASSERT_EQ(placed.shards_size(), 4);

  absl::StatusOr<Registration> worker = state.RegisterWorker("", kStart);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->map.epoch(), placed.epoch());
  EXPECT_EQ(worker->map.membership_version(), placed.membership_version() + 1);

  absl::StatusOr<Registration> leaver = state.RegisterWorker("", kStart);
  ASSERT_TRUE(leaver.ok()) << leaver.status();
  absl::StatusOr<uint64_t> left = state.Leave(Ref(v1::MemberRef::ROLE_WORKER, *leaver));
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, placed.epoch());
  EXPECT_EQ(state.Map().membership_version(), placed.membership_version() + 3);

  // Only the first worker stays silent past the timeout; the servers keep heartbeating.
  const absl::Time later = kStart + absl::Milliseconds(1500);
  for (const v1::ServerInfo& server : placed.servers()) {
    v1::MemberRef ref;
    ref.set_role(v1::MemberRef::ROLE_SERVER);
    ref.set_id(server.server_id());
    ref.set_incarnation(server.incarnation());
    ASSERT_TRUE(state.Heartbeat(ref, placed.epoch(), later).ok());
  }
  ASSERT_EQ(state.ExpireSilentMembers(later).size(), 1u);
  EXPECT_EQ(state.Map().epoch(), placed.epoch());
  EXPECT_EQ(state.Map().membership_version(), placed.membership_version() + 4);

  absl::StatusOr<Registration> spare = state.RegisterServer("127.0.0.1:7200", later);
  ASSERT_TRUE(spare.ok()) << spare.status();
  EXPECT_EQ(spare->map.epoch(), placed.epoch()) << "every shard has R replicas: the spare idles";
  EXPECT_EQ(spare->map.membership_version(), placed.membership_version() + 5);
  EXPECT_EQ(ChainsOf(spare->map), ChainsOf(placed));
  EXPECT_EQ(LearnersOf(spare->map), LearnerLists(4));
}

TEST(ReReplicationTest, DeadServerIsReplacedByLearnersOnTheSpare) {
  ClusterState state(Options(6, 2, 3), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 4);  // Server 4 is a spare.
  const v1::ClusterMap placed = state.Map();
  ASSERT_EQ(ChainsOf(placed), (ReplicaChains{{1, 2}, {3, 1}, {2, 3}, {1, 3}, {2, 1}, {3, 2}}));
  EXPECT_EQ(LearnersOf(placed), LearnerLists(6));

  ASSERT_TRUE(state.Leave(servers[0]).ok());
  const v1::ClusterMap after = state.Map();
  EXPECT_EQ(after.epoch(), placed.epoch() + 1);
  EXPECT_EQ(after.membership_version(), placed.membership_version() + 1);
  // Backups of server 1's shards 0 and 3 were promoted; the spare (load 0, below the others' 4)
  // learns every shard that lost a replica.
  EXPECT_EQ(ChainsOf(after), (ReplicaChains{{2}, {3}, {2, 3}, {3}, {2}, {3, 2}}));
  EXPECT_EQ(LearnersOf(after), (LearnerLists{{4}, {4}, {}, {4}, {4}, {}}));
}

TEST(ReReplicationTest, LearnersGoToTheLeastLoadedServers) {
  ClusterState state(Options(4, 2, 4), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 4);
  ASSERT_EQ(ChainsOf(state.Map()), (ReplicaChains{{1, 2}, {3, 4}, {2, 1}, {4, 3}}));

  ASSERT_TRUE(state.Leave(servers[0]).ok());
  const v1::ClusterMap after = state.Map();
  EXPECT_EQ(ChainsOf(after), (ReplicaChains{{2}, {3, 4}, {2}, {4, 3}}));
  // Shard 0: 3 and 4 both hold 2 and lead 1, so the lower id; shard 2: 3 now holds 3, 4 holds 2.
  EXPECT_EQ(LearnersOf(after), (LearnerLists{{3}, {}, {4}, {}}));
}

TEST(ReReplicationTest, AnEmptyChainStaysUnavailable) {
  ClusterState state(Options(2, 1, 2), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 3);  // Server 3 is a spare.
  const v1::ClusterMap placed = state.Map();
  ASSERT_EQ(ChainsOf(placed), (ReplicaChains{{1}, {2}}));

  ASSERT_TRUE(state.Leave(servers[0]).ok());
  const v1::ClusterMap after = state.Map();
  EXPECT_EQ(after.epoch(), placed.epoch() + 1);
  EXPECT_EQ(ChainsOf(after), (ReplicaChains{{}, {2}}));
  EXPECT_EQ(LearnersOf(after), LearnerLists(2)) << "nothing to copy shard 0 from";

  // A later change does not revive it either.
  ASSERT_TRUE(state.RegisterServer("127.0.0.1:7300", kStart).ok());
  EXPECT_EQ(ChainsOf(state.Map()), (ReplicaChains{{}, {2}}));
  EXPECT_EQ(LearnersOf(state.Map()), LearnerLists(2));
  EXPECT_EQ(state.Map().epoch(), after.epoch());
}

TEST(ReReplicationTest, LearnersOfADeadServerAreDropped) {
  ClusterState state(Options(6, 2, 3), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 4);
  ASSERT_TRUE(state.Leave(servers[0]).ok());
  ASSERT_EQ(LearnersOf(state.Map()), (LearnerLists{{4}, {4}, {}, {4}, {4}, {}}));

  // The spare dies before catching up: the survivors learn each other's shards instead.
  ASSERT_TRUE(state.Leave(servers[3]).ok());
  const v1::ClusterMap after = state.Map();
  EXPECT_EQ(ChainsOf(after), (ReplicaChains{{2}, {3}, {2, 3}, {3}, {2}, {3, 2}}));
  EXPECT_EQ(LearnersOf(after), (LearnerLists{{3}, {2}, {}, {2}, {3}, {}}));
}

class ReplicaFailureTest : public ::testing::Test {
 protected:
  // 4 shards, R = 2 on servers 1 and 2 (chains {1,2} {2,1} {1,2} {2,1}); server 3 is a spare.
  ReplicaFailureTest() : state_(Options(4, 2, 2), kStart), servers_(AddServers(state_, 3)) {}

  ClusterState state_;
  std::vector<v1::MemberRef> servers_;
};

TEST_F(ReplicaFailureTest, InvalidReportsChangeNothing) {
  const v1::ClusterMap before = state_.Map();
  ASSERT_EQ(ChainsOf(before), (ReplicaChains{{1, 2}, {2, 1}, {1, 2}, {2, 1}}));

  // Server 2 is a backup of shard 0, not its primary.
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(servers_[1], 1, {0})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Every named shard must be led by the reporter.
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0, 1})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(servers_[0], 1, {0})).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "a primary cannot report itself";
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0, 99})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {})).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::MemberRef stale = servers_[0];
  stale.set_incarnation(stale.incarnation() + 100);
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(stale, 2, {0})).status().code(),
            absl::StatusCode::kNotFound);
  v1::MemberRef as_worker = servers_[0];
  as_worker.set_role(v1::MemberRef::ROLE_WORKER);
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(as_worker, 2, {0})).status().code(),
            absl::StatusCode::kNotFound);

  const v1::ClusterMap unchanged = state_.Map();
  EXPECT_EQ(unchanged.epoch(), before.epoch());
  EXPECT_EQ(ChainsOf(unchanged), ChainsOf(before));
  EXPECT_EQ(LearnersOf(unchanged), LearnersOf(before));

  // A reporter that left is no longer a live server.
  ASSERT_TRUE(state_.Leave(servers_[0]).ok());
  const v1::ClusterMap after_leave = state_.Map();
  EXPECT_EQ(state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0})).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(state_.Map().epoch(), after_leave.epoch());
  EXPECT_EQ(ChainsOf(state_.Map()), ChainsOf(after_leave));
}

TEST_F(ReplicaFailureTest, ReportRemovesTheReplicaAddsALearnerAndIsIdempotent) {
  const v1::ClusterMap before = state_.Map();
  absl::StatusOr<uint64_t> epoch =
      state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0, 2}));
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, before.epoch() + 1);
  const v1::ClusterMap after = state_.Map();
  EXPECT_EQ(after.epoch(), *epoch);
  EXPECT_EQ(after.membership_version(), before.membership_version())
      << "the failed server stays a member";
  EXPECT_EQ(ChainsOf(after), (ReplicaChains{{1}, {2, 1}, {1}, {2, 1}}))
      << "only the named shards lose server 2";
  EXPECT_EQ(LearnersOf(after), (LearnerLists{{3}, {}, {3}, {}}));
  for (const v1::ServerInfo& server : after.servers()) {
    EXPECT_EQ(server.state(), v1::MEMBER_STATE_ALIVE);
  }

  // The retry of a report whose answer was lost changes nothing.
  absl::StatusOr<uint64_t> again =
      state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0, 2}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *epoch);
  EXPECT_EQ(ChainsOf(state_.Map()), ChainsOf(after));
  EXPECT_EQ(LearnersOf(state_.Map()), LearnersOf(after));

  // A learner that fails is removed as well, and re-replication picks the next least loaded.
  absl::StatusOr<uint64_t> learner_failed =
      state_.ReportReplicaFailure(FailureReport(servers_[0], 3, {0}));
  ASSERT_TRUE(learner_failed.ok()) << learner_failed.status();
  EXPECT_EQ(*learner_failed, *epoch + 1);
  EXPECT_EQ(LearnersOf(state_.Map()), (LearnerLists{{2}, {}, {3}, {}}))
      << "server 3 just failed to take shard 0's updates: the next least loaded (2) copies it";
}

TEST(ReplicaFailureWithoutSpareTest, TheFailedServerMayBeChosenAgainAsLearner) {
  ClusterState state(Options(2, 2, 2), kStart);
  const std::vector<v1::MemberRef> servers = AddServers(state, 2);
  ASSERT_EQ(ChainsOf(state.Map()), (ReplicaChains{{1, 2}, {2, 1}}));
  absl::StatusOr<uint64_t> epoch = state.ReportReplicaFailure(FailureReport(servers[0], 2, {0}));
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(ChainsOf(state.Map()), (ReplicaChains{{1}, {2, 1}}));
  EXPECT_EQ(LearnersOf(state.Map()), (LearnerLists{{2}, {}})) << "the only candidate";
  ASSERT_EQ(state.Map().shards(0).learner_epochs_size(), 1);
  EXPECT_EQ(state.Map().shards(0).learner_epochs(0), *epoch) << "made a learner at this epoch";

  // Its copy fails again: it is re-assigned with a newer epoch, so it knows to copy afresh.
  absl::StatusOr<uint64_t> again = state.ReportReplicaFailure(FailureReport(servers[0], 2, {0}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(LearnersOf(state.Map()), (LearnerLists{{2}, {}}));
  EXPECT_EQ(state.Map().shards(0).learner_epochs(0), *again);
  EXPECT_GT(*again, *epoch);
}

TEST_F(ReplicaFailureTest, LearnerCaughtUpJoinsTheEndOfTheChain) {
  ASSERT_TRUE(state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0, 2})).ok());
  const v1::ClusterMap before = state_.Map();
  ASSERT_EQ(LearnersOf(before), (LearnerLists{{3}, {}, {3}, {}}));

  absl::StatusOr<uint64_t> epoch = state_.ReportLearnerCaughtUp(CaughtUp(servers_[2], 2, 0));
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, before.epoch() + 1);
  const v1::ClusterMap after = state_.Map();
  EXPECT_EQ(after.epoch(), *epoch);
  EXPECT_EQ(ChainsOf(after), (ReplicaChains{{1}, {2, 1}, {1, 3}, {2, 1}}));
  EXPECT_EQ(LearnersOf(after), (LearnerLists{{3}, {}, {}, {}}));
}

TEST_F(ReplicaFailureTest, LearnerBehindTheCatalogIsAbortedAndNonLearnersRefused) {
  ASSERT_TRUE(state_.ReportReplicaFailure(FailureReport(servers_[0], 2, {0})).ok());
  v1::TableSpec spec;
  spec.set_name("w");
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(8);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  ASSERT_TRUE(state_.CreateTable(spec).ok());
  const v1::ClusterMap before = state_.Map();
  ASSERT_EQ(before.catalog_version(), 1u);
  ASSERT_EQ(LearnersOf(before), (LearnerLists{{3}, {}, {}, {}}));

  EXPECT_EQ(state_.ReportLearnerCaughtUp(CaughtUp(servers_[2], 0, 0)).status().code(),
            absl::StatusCode::kAborted)
      << "the learner has not copied table 'w'";
  EXPECT_EQ(state_.ReportLearnerCaughtUp(CaughtUp(servers_[2], 1, 1)).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "server 3 does not learn shard 1";
  EXPECT_EQ(state_.ReportLearnerCaughtUp(CaughtUp(servers_[1], 1, 1)).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "server 2 is a replica of shard 1, not a learner";
  EXPECT_EQ(state_.ReportLearnerCaughtUp(CaughtUp(servers_[2], 4, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::MemberRef stale = servers_[2];
  stale.set_incarnation(stale.incarnation() + 100);
  EXPECT_EQ(state_.ReportLearnerCaughtUp(CaughtUp(stale, 0, 1)).status().code(),
            absl::StatusCode::kNotFound);
  const v1::ClusterMap unchanged = state_.Map();
  EXPECT_EQ(unchanged.epoch(), before.epoch());
  EXPECT_EQ(ChainsOf(unchanged), ChainsOf(before));
  EXPECT_EQ(LearnersOf(unchanged), LearnersOf(before));

  // Once it holds the table too, it joins.
  absl::StatusOr<uint64_t> epoch = state_.ReportLearnerCaughtUp(CaughtUp(servers_[2], 0, 1));
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(ChainsOf(state_.Map()), (ReplicaChains{{1, 3}, {2, 1}, {1, 2}, {2, 1}}));
  EXPECT_EQ(LearnersOf(state_.Map()), LearnerLists(4));
  // A repeat is refused: it is a replica now.
  EXPECT_EQ(state_.ReportLearnerCaughtUp(CaughtUp(servers_[2], 0, 1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ClusterStateTest, ARestartedWorkerTakesBackAnUnfinishedRankWithItsProgress) {
  ClusterState state(ThreeServerOptions(), kStart);
  absl::StatusOr<Registration> a = state.RegisterWorker("", kStart);
  absl::StatusOr<Registration> b = state.RegisterWorker("", kStart);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->job_running);
  EXPECT_EQ(a->steps_done, 0u);
  const v1::MemberRef ref_a = Ref(v1::MemberRef::ROLE_WORKER, *a);
  const v1::MemberRef ref_b = Ref(v1::MemberRef::ROLE_WORKER, *b);
  ASSERT_TRUE(state.Heartbeat(ref_a, 1, kStart, 40).ok());
  ASSERT_TRUE(state.Heartbeat(ref_b, 1, kStart, 37).ok());
  ASSERT_TRUE(state.Heartbeat(ref_b, 1, kStart, 30).ok()) << "the largest report is kept";
  // Both fall silent and are declared dead; restarted, a's rank comes back first with its
  // progress, then a finishes its share and leaves, and the next restart gets b's rank.
  state.ExpireSilentMembers(kStart + absl::Seconds(2));
  EXPECT_EQ(state.Heartbeat(ref_a, 1, kStart + absl::Seconds(2), 90).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<Registration> a2 = state.RegisterWorker("", kStart + absl::Seconds(2));
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a2->rank, 0u);
  EXPECT_EQ(a2->steps_done, 40u);
  EXPECT_TRUE(a2->job_running);
  ASSERT_TRUE(state.Leave(Ref(v1::MemberRef::ROLE_WORKER, *a2), /*finished=*/true).ok());
  absl::StatusOr<Registration> b2 = state.RegisterWorker("", kStart + absl::Seconds(2));
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->rank, 1u) << "rank 0 finished its share";
  EXPECT_EQ(b2->steps_done, 37u);
  EXPECT_TRUE(b2->job_running);
  // Once every rank finished and no worker is alive, the job is over: a next one starts afresh.
  ASSERT_TRUE(state.Leave(Ref(v1::MemberRef::ROLE_WORKER, *b2), /*finished=*/true).ok());
  absl::StatusOr<Registration> next = state.RegisterWorker("", kStart + absl::Seconds(2));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->rank, 0u);
  EXPECT_EQ(next->steps_done, 0u);
  EXPECT_FALSE(next->job_running);
}

TEST(ClusterStateTest, ARankWhoseWorkerDiedBeforeReportingKeepsTheJobRunning) {
  ClusterState state(ThreeServerOptions(), kStart);
  absl::StatusOr<Registration> a = state.RegisterWorker("", kStart);
  absl::StatusOr<Registration> b = state.RegisterWorker("", kStart);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(state.Heartbeat(Ref(v1::MemberRef::ROLE_WORKER, *a), 1, kStart, 50).ok());
  // b dies before its first progress report; a finishes and leaves.
  ASSERT_TRUE(state.Leave(Ref(v1::MemberRef::ROLE_WORKER, *b)).ok());
  ASSERT_TRUE(state.Leave(Ref(v1::MemberRef::ROLE_WORKER, *a), /*finished=*/true).ok());
  absl::StatusOr<Registration> restarted = state.RegisterWorker("", kStart);
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ(restarted->rank, b->rank) << "b's share is still to be done";
  EXPECT_EQ(restarted->steps_done, 0u);
  EXPECT_TRUE(restarted->job_running) << "the job is under way: no start barrier";
}

// --- Persistence: a state sink, resuming from what it saved, refused saves, grace ---

ClusterOptions PersistenceOptions() {
  ClusterOptions options;
  options.num_shards = 8;
  options.replication_factor = 2;
  options.min_servers = 2;
  options.heartbeat_interval = absl::Milliseconds(200);
  options.failure_timeout = absl::Seconds(1);
  return options;
}

v1::TableSpec DenseSpec(const std::string& name) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(100);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(0.1f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  return spec;
}

// Records every state the sink is given, and can be told to refuse.
struct RecordingSink {
  std::vector<v1::CoordinatorState> saved;
  std::optional<absl::Status> refuse;
  ClusterState::StateSink AsSink() {
    return [this](const v1::CoordinatorState& state) {
      if (refuse) return *refuse;
      saved.push_back(state);
      return absl::OkStatus();
    };
  }
};

// Three servers (placed), two workers, one table; the sink saw each step.
struct Cluster {
  RecordingSink sink;
  ClusterState state{PersistenceOptions(), kStart};
  std::vector<Registration> servers;
  std::vector<Registration> workers;

  Cluster() {
    state.SetStateSink(sink.AsSink());
    for (int i = 0; i < 3; ++i) {
      auto server = state.RegisterServer("127.0.0.1:" + std::to_string(7000 + i), kStart);
      EXPECT_TRUE(server.ok()) << server.status();
      servers.push_back(*server);
    }
    for (int i = 0; i < 2; ++i) {
      auto worker = state.RegisterWorker("", kStart);
      EXPECT_TRUE(worker.ok()) << worker.status();
      workers.push_back(*worker);
    }
    EXPECT_TRUE(state.CreateTable(DenseSpec("w")).ok());
  }
};

TEST(ClusterStatePersistenceTest, EveryChangeIsSavedBeforeItIsVisible) {
  Cluster cluster;
  // 3 server and 2 worker registrations, 1 table.
  ASSERT_EQ(cluster.sink.saved.size(), 6u);
  for (size_t i = 1; i < cluster.sink.saved.size(); ++i) {
    EXPECT_GT(cluster.sink.saved[i].generation(), cluster.sink.saved[i - 1].generation());
  }
  // The newest saved state holds the visible map exactly.
  EXPECT_TRUE(MessageDifferencer::Equals(cluster.sink.saved.back().map(), cluster.state.Map()));
  EXPECT_TRUE(MessageDifferencer::Equals(cluster.sink.saved.back(), cluster.state.Snapshot()));
  EXPECT_EQ(cluster.sink.saved.back().map().tables_size(), 1);
  EXPECT_EQ(cluster.sink.saved.back().job_ranks_size(), 2);
}

TEST(ClusterStatePersistenceTest, AResumedStateCarriesOnTheSameCluster) {
  Cluster cluster;
  // The first server dies: promotions and learners, a new epoch, all saved.
  const v1::MemberRef dead = Ref(v1::MemberRef::ROLE_SERVER, cluster.servers[0]);
  ASSERT_TRUE(cluster.state.Leave(dead).ok());
  const v1::ClusterMap before = cluster.state.Map();
  const v1::CoordinatorState saved = cluster.sink.saved.back();

  const absl::Time restart = kStart + absl::Seconds(30);
  ClusterState resumed(PersistenceOptions(), restart);
  ASSERT_TRUE(resumed.Resume(saved, restart).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(resumed.Map(), before))
      << "members, placement, learners, catalog and all three versions as they were";
  v1::CoordinatorState snapshot = resumed.Snapshot();
  EXPECT_GE(snapshot.next_incarnation(), saved.next_incarnation());
  snapshot.set_next_incarnation(saved.next_incarnation());
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot, saved))
      << "all but the incarnation counter, which also stays above the restart's clock";

  // Live members go on with their incarnations; the dead one stays dead.
  for (int i = 1; i < 3; ++i) {
    auto epoch = resumed.Heartbeat(Ref(v1::MemberRef::ROLE_SERVER, cluster.servers[i]),
                                   before.epoch(), restart);
    ASSERT_TRUE(epoch.ok()) << epoch.status();
    EXPECT_EQ(*epoch, before.epoch());
  }
  EXPECT_EQ(resumed.Heartbeat(dead, before.epoch(), restart).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(resumed
                  .Heartbeat(Ref(v1::MemberRef::ROLE_WORKER, cluster.workers[1]), 0, restart,
                             /*steps_done=*/7)
                  .ok());

  // New members get ids and incarnations never used before.
  auto server = resumed.RegisterServer("127.0.0.1:7100", restart);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->id, 4u);
  for (const Registration& old : cluster.servers) EXPECT_GT(server->incarnation, old.incarnation);
  auto worker = resumed.RegisterWorker("", restart);
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ(worker->id, 3u);
  EXPECT_EQ(worker->rank, 2u) << "ranks 0 and 1 are held by the live workers";
  EXPECT_GE(resumed.Map().epoch(), before.epoch()) << "epochs never go backwards";
  // The table catalog survived: the same spec is not created again.
  auto table = resumed.CreateTable(DenseSpec("w"));
  ASSERT_TRUE(table.ok());
  EXPECT_FALSE(table->second);
}

TEST(ClusterStatePersistenceTest, ARefusedSaveUndoesTheChangeWhole) {
  Cluster cluster;
  const v1::ClusterMap before = cluster.state.Map();
  const v1::CoordinatorState state_before = cluster.state.Snapshot();
  cluster.sink.refuse = absl::ResourceExhaustedError("disk full");

  auto server = cluster.state.RegisterServer("127.0.0.1:7100", kStart);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(server.status().message().find("disk full"), std::string::npos) << server.status();
  EXPECT_EQ(cluster.state.CreateTable(DenseSpec("v")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      cluster.state.Leave(Ref(v1::MemberRef::ROLE_SERVER, cluster.servers[0])).status().code(),
      absl::StatusCode::kUnavailable);
  // A sweep that would declare every member dead is undone too, and tried again later.
  const absl::Time late = kStart + absl::Seconds(5);
  EXPECT_TRUE(cluster.state.ExpireSilentMembers(late).empty());
  EXPECT_TRUE(MessageDifferencer::Equals(cluster.state.Map(), before));
  // Next id and incarnation counters too: nothing of the refused changes is left.
  v1::CoordinatorState now = cluster.state.Snapshot();
  now.set_generation(state_before.generation());
  EXPECT_TRUE(MessageDifferencer::Equals(now, state_before));

  cluster.sink.refuse.reset();
  EXPECT_EQ(cluster.state.ExpireSilentMembers(late).size(), 5u);
  auto again = cluster.state.RegisterServer("127.0.0.1:7100", late);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, 4u);
}

TEST(ClusterStatePersistenceTest, MembersGetAFullTimeoutFromTheGrace) {
  Cluster cluster;
  const v1::CoordinatorState saved = cluster.sink.saved.back();
  const absl::Time loaded = kStart + absl::Seconds(60);
  ClusterState resumed(PersistenceOptions(), loaded);
  ASSERT_TRUE(resumed.Resume(saved, loaded).ok());
  // Listening began 3 s after loading (a slow start): the grace runs from then, and a heartbeat
  // during it does not shorten it for that member (its timeout runs from that heartbeat on).
  const absl::Time listening = loaded + absl::Seconds(3);
  resumed.GrantGrace(listening);
  EXPECT_TRUE(resumed.ExpireSilentMembers(listening + absl::Milliseconds(1999)).empty())
      << "two failure timeouts of grace";
  ASSERT_TRUE(resumed
                  .Heartbeat(Ref(v1::MemberRef::ROLE_SERVER, cluster.servers[0]), 0,
                             listening + absl::Milliseconds(1500))
                  .ok());
  const std::vector<v1::MemberRef> dead =
      resumed.ExpireSilentMembers(listening + absl::Milliseconds(2001));
  EXPECT_EQ(dead.size(), 4u) << "all but the server that heartbeated";
}

TEST(ClusterStateTest, RestartedSilenceClocksGiveEveryMemberOneFullTimeout) {
  ClusterState state(ThreeServerOptions(), kStart);
  std::vector<Registration> servers;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(*state.RegisterServer("127.0.0.1:" + std::to_string(7000 + i), kStart));
  }
  // The coordinator wakes 5 s later: everyone looks silent for five failure timeouts.
  const absl::Time woke = kStart + absl::Seconds(5);
  state.RestartSilenceClocks(woke);
  EXPECT_TRUE(state.ExpireSilentMembers(woke + absl::Milliseconds(1000)).empty());
  ASSERT_TRUE(
      state
          .Heartbeat(Ref(v1::MemberRef::ROLE_SERVER, servers[0]), 0, woke + absl::Milliseconds(600))
          .ok());
  // Restarting never moves a clock back: server 0's heartbeat still counts from 600 ms.
  state.RestartSilenceClocks(woke);
  const std::vector<v1::MemberRef> dead =
      state.ExpireSilentMembers(woke + absl::Milliseconds(1001));
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].id() + dead[1].id(), servers[1].id + servers[2].id);
  EXPECT_TRUE(state.ExpireSilentMembers(woke + absl::Milliseconds(1600)).empty());
  EXPECT_EQ(state.ExpireSilentMembers(woke + absl::Milliseconds(1601)).size(), 1u);
}

TEST(ClusterStatePersistenceTest, ProgressIsSavedAtMostOnceASecond) {
  Cluster cluster;
  const size_t saves = cluster.sink.saved.size();
  const v1::MemberRef worker = Ref(v1::MemberRef::ROLE_WORKER, cluster.workers[0]);
  ASSERT_TRUE(cluster.state.Heartbeat(worker, 0, kStart, /*steps_done=*/10).ok());
  EXPECT_EQ(cluster.sink.saved.size(), saves) << "a heartbeat alone does not write";
  cluster.state.SaveProgressIfDue(kStart);
  ASSERT_EQ(cluster.sink.saved.size(), saves + 1);
  ASSERT_EQ(cluster.sink.saved.back().progress_size(), 1);
  EXPECT_EQ(cluster.sink.saved.back().progress(0).steps_done(), 10u);
  EXPECT_TRUE(cluster.sink.saved.back().job_running());
  ASSERT_TRUE(cluster.state.Heartbeat(worker, 0, kStart, /*steps_done=*/11).ok());
  cluster.state.SaveProgressIfDue(kStart + absl::Milliseconds(500));
  EXPECT_EQ(cluster.sink.saved.size(), saves + 1) << "within the second";
  cluster.state.SaveProgressIfDue(kStart + absl::Seconds(1));
  ASSERT_EQ(cluster.sink.saved.size(), saves + 2);
  EXPECT_EQ(cluster.sink.saved.back().progress(0).steps_done(), 11u);
  cluster.state.SaveProgressIfDue(kStart + absl::Seconds(3));
  EXPECT_EQ(cluster.sink.saved.size(), saves + 2) << "nothing new to save";
}

TEST(ClusterStatePersistenceTest, ResumeRefusesAnotherShapeOrAStartedState) {
  Cluster cluster;
  const v1::CoordinatorState saved = cluster.sink.saved.back();
  ClusterOptions other = PersistenceOptions();
  other.num_shards = 16;
  ClusterState wrong_shards(other, kStart);
  const absl::Status refused = wrong_shards.Resume(saved, kStart);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("--num_shards=16"), std::string::npos) << refused;
  EXPECT_EQ(cluster.state.Resume(saved, kStart).code(), absl::StatusCode::kFailedPrecondition);
  v1::CoordinatorState torn = saved;
  torn.mutable_map()->mutable_shards()->RemoveLast();
  ClusterState short_map(PersistenceOptions(), kStart);
  EXPECT_EQ(short_map.Resume(torn, kStart).code(), absl::StatusCode::kInvalidArgument);
}

// Prometheus' increase() counts from a series' first sample: the event counters must be exposed,
// at 0, by a coordinator that has seen no event yet (values are not checked: other tests of this
// process may have counted events in the same global registry).
TEST(ClusterStateMetricsTest, EventCountersAreExposedBeforeTheFirstEvent) {
  ClusterState state(ThreeServerOptions(), kStart);
  const std::string text = GlobalMetrics().Render();
  for (const char* series :
       {"ps_coordinator_members_declared_dead_total{role=\"server\"} ",
        "ps_coordinator_members_declared_dead_total{role=\"worker\"} ",
        "\nps_coordinator_failovers_total ", "\nps_coordinator_rereplications_total "}) {
    EXPECT_NE(text.find(series), std::string::npos) << series << " missing from\n" << text;
  }
}

}  // namespace
}  // namespace ps
