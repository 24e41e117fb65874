// ClusterState with a state sink: what is saved, resuming from it, refused saves, grace.
#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/coordinator/cluster_state.h"

namespace ps {
namespace {

using google::protobuf::util::MessageDifferencer;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

ClusterOptions Options() {
  ClusterOptions options;
  options.num_shards = 8;
  options.replication_factor = 2;
  options.min_servers = 2;
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
  ClusterState state{Options(), kStart};
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
  EXPECT_TRUE(
      MessageDifferencer::Equals(cluster.sink.saved.back(), cluster.state.Snapshot()));
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
  ClusterState resumed(Options(), restart);
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
  EXPECT_TRUE(resumed.Heartbeat(Ref(v1::MemberRef::ROLE_WORKER, cluster.workers[1]), 0, restart,
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
  EXPECT_EQ(cluster.state.Leave(Ref(v1::MemberRef::ROLE_SERVER, cluster.servers[0])).status().code(),
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
  ClusterState resumed(Options(), loaded);
  ASSERT_TRUE(resumed.Resume(saved, loaded).ok());
  // Listening began 3 s after loading (a slow start): the grace runs from then, and a heartbeat
  // during it does not shorten it for that member (its timeout runs from that heartbeat on).
  const absl::Time listening = loaded + absl::Seconds(3);
  resumed.GrantGrace(listening);
  EXPECT_TRUE(resumed.ExpireSilentMembers(listening + absl::Milliseconds(1999)).empty())
      << "two failure timeouts of grace";
  ASSERT_TRUE(resumed.Heartbeat(Ref(v1::MemberRef::ROLE_SERVER, cluster.servers[0]), 0,
                                listening + absl::Milliseconds(1500))
                  .ok());
  const std::vector<v1::MemberRef> dead =
      resumed.ExpireSilentMembers(listening + absl::Milliseconds(2001));
  EXPECT_EQ(dead.size(), 4u) << "all but the server that heartbeated";
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
  ClusterOptions other = Options();
  other.num_shards = 16;
  ClusterState wrong_shards(other, kStart);
  const absl::Status refused = wrong_shards.Resume(saved, kStart);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("--num_shards=16"), std::string::npos) << refused;
  EXPECT_EQ(cluster.state.Resume(saved, kStart).code(), absl::StatusCode::kFailedPrecondition);
  v1::CoordinatorState torn = saved;
  torn.mutable_map()->mutable_shards()->RemoveLast();
  ClusterState short_map(Options(), kStart);
  EXPECT_EQ(short_map.Resume(torn, kStart).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
