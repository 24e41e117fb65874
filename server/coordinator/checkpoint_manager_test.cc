#include "server/coordinator/checkpoint_manager.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

namespace fs = std::filesystem;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);
constexpr uint32_t kShards = 4;

std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  fs::remove_all(dir);
  return dir;
}

v1::TableSpec Spec(const std::string& name, v1::ConsistencySpec::Model model) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(100);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(0.1f);
  spec.mutable_consistency()->set_model(model);
  return spec;
}

// Servers that answer from the map: each "writes" (creates the directory, lists files) the
// shards it leads, with BSP shards cut where the test says.
class FakeServers final : public ServerCheckpointClient {
 public:
  explicit FakeServers(ClusterState& state) : state_(state) {}

  absl::StatusOr<v1::DescribeShardsResponse> DescribeShards(const std::string& address,
                                                            absl::Time) override {
    absl::MutexLock lock(&mu_);
    v1::DescribeShardsResponse response;
    const v1::ClusterMap map = state_.Map();
    for (const v1::ShardAssignment& shard : map.shards()) {
      if (AddressOf(map, shard.replicas(0)) != address) continue;
      for (const v1::TableInfo& table : map.tables()) {
        v1::ShardReplicaInfo* replica = response.add_replicas();
        replica->set_table_id(table.table_id());
        replica->set_shard_id(shard.shard_id());
        replica->set_role(v1::ShardReplicaInfo::ROLE_PRIMARY);
        replica->set_completed_clocks(completed_ + shard.shard_id() % 2);
      }
    }
    return response;
  }

  absl::StatusOr<v1::CheckpointResponse> Checkpoint(const std::string& address,
                                                    const v1::CheckpointRequest& request,
                                                    absl::Time) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    if (aborts_left_ > 0) {
      --aborts_left_;
      return absl::AbortedError("a shard passed the cut");
    }
    if (!error_.ok()) return error_;
    fs::create_directories(request.directory());
    v1::CheckpointResponse response;
    const v1::ClusterMap map = state_.Map();
    for (const v1::ShardAssignment& shard : map.shards()) {
      if (AddressOf(map, shard.replicas(0)) != address || shard.shard_id() == skip_shard_) {
        continue;
      }
      for (const v1::TableInfo& table : map.tables()) {
        v1::ShardCheckpoint* file = response.add_shards();
        file->set_table_id(table.table_id());
        file->set_shard_id(shard.shard_id());
        file->set_path(ShardFileName(table.table_id(), shard.shard_id()));
        file->set_size_bytes(1000);
        const auto cut = request.bsp_cut_clocks().find(table.table_id());
        if (cut != request.bsp_cut_clocks().end()) {
          file->set_completed_clocks(cut->second + (shard.shard_id() == straggler_ ? 1 : 0));
        }
      }
    }
    return response;
  }

  absl::Mutex mu_;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 10;
  int aborts_left_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint32_t skip_shard_ ABSL_GUARDED_BY(mu_) = UINT32_MAX;
  uint32_t straggler_ ABSL_GUARDED_BY(mu_) = UINT32_MAX;
  std::vector<v1::CheckpointRequest> requests_ ABSL_GUARDED_BY(mu_);

 private:
  static std::string AddressOf(const v1::ClusterMap& map, uint32_t server) {
    for (const v1::ServerInfo& info : map.servers()) {
      if (info.server_id() == server) return info.address();
    }
    return "";
  }

  ClusterState& state_;
};

class CheckpointManagerTest : public ::testing::Test {
 protected:
  CheckpointManagerTest() : state_(Options(), kStart), servers_(state_) {
    EXPECT_TRUE(state_.RegisterServer("127.0.0.1:7001", kStart).ok());
    EXPECT_TRUE(state_.RegisterServer("127.0.0.1:7002", kStart).ok());
    absl::StatusOr<Registration> worker = state_.RegisterWorker("", kStart);
    EXPECT_TRUE(worker.ok());
    worker_.set_role(v1::MemberRef::ROLE_WORKER);
    worker_.set_id(worker->id);
    worker_.set_incarnation(worker->incarnation);
    EXPECT_TRUE(state_.CreateTable(Spec("bsp", v1::ConsistencySpec::MODEL_BSP)).ok());
    EXPECT_TRUE(state_.CreateTable(Spec("asp", v1::ConsistencySpec::MODEL_ASP)).ok());
  }

  static ClusterOptions Options() {
    ClusterOptions options;
    options.num_shards = kShards;
    options.replication_factor = 2;
    options.min_servers = 2;
    return options;
  }

  CheckpointOptions Checkpoints(const std::string& name, int keep = 3) {
    CheckpointOptions options;
    options.directory = FreshDir(name);
    options.keep = keep;
    return options;
  }

  ClusterState state_;
  FakeServers servers_;
  v1::MemberRef worker_;
};

TEST_F(CheckpointManagerTest, WritesAManifestOfEveryShardWithTheBspCut) {
  ASSERT_TRUE(state_.Heartbeat(worker_, 2, kStart, /*steps_done=*/11).ok());
  CheckpointManager manager(state_, servers_, Checkpoints("happy"));
  absl::StatusOr<v1::CheckpointNowResponse> taken = manager.TakeCheckpoint("test");
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->checkpoint_id(), 1u);
  EXPECT_EQ(taken->shards_size(), static_cast<int>(2 * kShards));
  EXPECT_EQ(taken->total_bytes(), 2 * kShards * 1000);
  {
    absl::MutexLock lock(&servers_.mu_);
    ASSERT_EQ(servers_.requests_.size(), 2u) << "one request per primary";
    // The fastest shard stood at 11: the cut is set 2 clocks ahead of it.
    EXPECT_EQ(servers_.requests_[0].bsp_cut_clocks().at(1), 13u);
    EXPECT_EQ(servers_.requests_[0].bsp_cut_clocks().count(2), 0u) << "ASP tables have no cut";
  }
  absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(taken->directory());
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->checkpoint_id(), 1u);
  EXPECT_EQ(manifest->num_shards(), kShards);
  EXPECT_EQ(manifest->tables_size(), 2);
  EXPECT_EQ(manifest->shards_size(), static_cast<int>(2 * kShards));
  EXPECT_EQ(manifest->bsp_cut_clocks().at(1), 13u);
  ASSERT_EQ(manifest->progress_size(), 1);
  EXPECT_EQ(manifest->progress(0).steps_done(), 13u) << "BSP ranks are at the cut";
  EXPECT_EQ(manifest->epoch(), state_.Map().epoch());
  EXPECT_EQ(manifest->max_incarnation(), worker_.incarnation());
  EXPECT_EQ(manifest->next_worker_id(), worker_.id() + 1);
  EXPECT_EQ(manager.Status().last_complete_id(), 1u);
  EXPECT_EQ(manager.Status().last_error(), "");
}

TEST_F(CheckpointManagerTest, AnAbortedAttemptRetriesWithACutFurtherAhead) {
  {
    absl::MutexLock lock(&servers_.mu_);
    servers_.aborts_left_ = 4;  // Both servers abort twice.
  }
  CheckpointManager manager(state_, servers_, Checkpoints("retry"));
  absl::StatusOr<v1::CheckpointNowResponse> taken = manager.TakeCheckpoint("test");
  ASSERT_TRUE(taken.ok()) << taken.status();
  absl::MutexLock lock(&servers_.mu_);
  std::vector<uint64_t> cuts;
  for (const v1::CheckpointRequest& request : servers_.requests_) {
    cuts.push_back(request.bsp_cut_clocks().at(1));
  }
  // Two servers per attempt: leads 2, 8, 32 ahead of 11.
  EXPECT_EQ(cuts, (std::vector<uint64_t>{13, 13, 19, 19, 43, 43}));
}

TEST_F(CheckpointManagerTest, FailuresAreReportedAndLeaveEarlierCheckpointsAlone) {
  CheckpointManager manager(state_, servers_, Checkpoints("failures"));
  ASSERT_TRUE(manager.TakeCheckpoint("first").ok());
  {
    absl::MutexLock lock(&servers_.mu_);
    servers_.error_ = absl::ResourceExhaustedError("cannot write x: No space left on device");
  }
  absl::StatusOr<v1::CheckpointNowResponse> failed = manager.TakeCheckpoint("full disk");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(failed.status().message().find("127.0.0.1:700"), std::string::npos)
      << "names the server: " << failed.status();
  EXPECT_EQ(manager.Status().last_complete_id(), 1u);
  EXPECT_NE(manager.Status().last_error().find("No space left"), std::string::npos);

  // A shard no server wrote, and BSP shards cut at different clocks: never a manifest.
  {
    absl::MutexLock lock(&servers_.mu_);
    servers_.error_ = absl::OkStatus();
    servers_.skip_shard_ = 2;
  }
  failed = manager.TakeCheckpoint("missing shard");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(failed.status().message().find("shard 2 was not written"), std::string::npos);
  {
    absl::MutexLock lock(&servers_.mu_);
    servers_.skip_shard_ = UINT32_MAX;
    servers_.straggler_ = 3;
  }
  failed = manager.TakeCheckpoint("torn cut");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(failed.status().message().find("were cut at"), std::string::npos) << failed.status();

  std::vector<std::string> skipped;
  absl::StatusOr<std::vector<uint64_t>> ids = ListCheckpoints(manager.Status().directory());
  ASSERT_TRUE(ids.ok());
  for (uint64_t id : *ids) {
    const bool complete =
        ReadManifest(CheckpointDirectory(manager.Status().directory(), id)).ok();
    EXPECT_EQ(complete, id == 1) << id;
  }
}

TEST_F(CheckpointManagerTest, KeepsTheNewestCheckpoints) {
  CheckpointManager manager(state_, servers_, Checkpoints("keep", /*keep=*/2));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(manager.TakeCheckpoint("test").ok());
  absl::StatusOr<std::vector<uint64_t>> ids = ListCheckpoints(manager.Status().directory());
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<uint64_t>{4, 3}));
}

TEST_F(CheckpointManagerTest, ARestartedCoordinatorReportsTheNewestCheckpointOnDisk) {
  const CheckpointOptions options = Checkpoints("restart");
  {
    CheckpointManager manager(state_, servers_, options);
    ASSERT_TRUE(manager.TakeCheckpoint("test").ok());
    ASSERT_TRUE(manager.TakeCheckpoint("test").ok());
  }
  CheckpointManager restarted(state_, servers_, options);
  EXPECT_EQ(restarted.Status().last_complete_id(), 2u);
  EXPECT_GT(restarted.Status().last_complete_unix_ms(), 0);
  auto next = restarted.TakeCheckpoint("test");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->checkpoint_id(), 3u);
}

TEST_F(CheckpointManagerTest, NothingToCheckpointIsAFailedPrecondition) {
  ClusterState empty(Options(), kStart);
  FakeServers servers(empty);
  CheckpointManager manager(empty, servers, Checkpoints("empty"));
  EXPECT_EQ(manager.TakeCheckpoint("test").status().code(),
            absl::StatusCode::kFailedPrecondition);
  CheckpointManager off(empty, servers, CheckpointOptions());
  EXPECT_EQ(off.TakeCheckpoint("test").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CheckpointManagerTest, ARestoredClusterContinuesAboveTheCheckpoint) {
  ASSERT_TRUE(state_.Heartbeat(worker_, 2, kStart, 11).ok());
  CheckpointOptions options = Checkpoints("restore");
  CheckpointManager manager(state_, servers_, options);
  absl::StatusOr<v1::CheckpointNowResponse> taken = manager.TakeCheckpoint("test");
  ASSERT_TRUE(taken.ok()) << taken.status();
  // The fake wrote no shard files: give the manifest real ones so that it verifies.
  absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(taken->directory());
  ASSERT_TRUE(manifest.ok());
  for (v1::ShardCheckpoint& file : *manifest->mutable_shards()) {
    v1::ShardState state;
    state.set_table_id(file.table_id());
    state.set_shard_id(file.shard_id());
    absl::StatusOr<ShardFileInfo> info =
        WriteShardFile(taken->directory() + "/" + file.path(), state, {});
    ASSERT_TRUE(info.ok());
    file.set_size_bytes(info->size_bytes);
    file.set_crc32c(info->crc32c);
  }
  ASSERT_TRUE(WriteManifest(taken->directory(), *manifest).ok());

  ClusterState restored(Options(), kStart);
  absl::StatusOr<uint64_t> id = RestoreClusterState(restored, options.directory, "latest");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 1u);
  const v1::ClusterMap map = restored.Map();
  EXPECT_GT(map.epoch(), manifest->epoch());
  EXPECT_EQ(map.tables_size(), 2);
  EXPECT_EQ(map.tables(0).spec().name(), "bsp");
  EXPECT_EQ(map.restore().checkpoint_id(), 1u);
  EXPECT_EQ(map.restore().table_ids_size(), 2);
  // Identical specs find the restored tables; new members get ids and incarnations above the
  // checkpoint's, and the rank resumes at the cut.
  absl::StatusOr<std::pair<v1::TableInfo, bool>> table =
      restored.CreateTable(Spec("asp", v1::ConsistencySpec::MODEL_ASP));
  ASSERT_TRUE(table.ok());
  EXPECT_FALSE(table->second);
  EXPECT_EQ(table->first.table_id(), 2u);
  absl::StatusOr<Registration> worker = restored.RegisterWorker("", kStart);
  ASSERT_TRUE(worker.ok());
  EXPECT_GT(worker->id, worker_.id());
  EXPECT_GT(worker->incarnation, worker_.incarnation());
  EXPECT_EQ(worker->steps_done, 13u);
  // Too late, and a checkpoint of another shard count, are refused.
  EXPECT_EQ(restored.RestoreFrom(*manifest, taken->directory()).code(),
            absl::StatusCode::kFailedPrecondition);
  ClusterOptions other = Options();
  other.num_shards = 8;
  ClusterState mismatched(other, kStart);
  EXPECT_EQ(RestoreClusterState(mismatched, options.directory, "1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RestoreClusterState(mismatched, options.directory, "nonsense").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointManagerTest, EveryNStepsOfTheSlowestRankTakesACheckpoint) {
  CheckpointOptions options = Checkpoints("steps");
  options.every_steps = 10;
  CheckpointManager manager(state_, servers_, options);
  manager.Start();
  ASSERT_TRUE(state_.Heartbeat(worker_, 2, kStart, 9).ok());
  absl::SleepFor(absl::Milliseconds(300));  // Three polls: nothing is due yet.
  EXPECT_EQ(manager.Status().last_complete_id(), 0u);
  ASSERT_TRUE(state_.Heartbeat(worker_, 2, kStart, 12).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (manager.Status().last_complete_id() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(manager.Status().last_complete_id(), 1u);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(manager.Status().last_complete_id(), 1u) << "the next is due at step 20";
  manager.Stop();
  CheckpointOptions nowhere;
  nowhere.every_steps = 5;
  EXPECT_EQ(ValidateCheckpointOptions(nowhere).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
