// Replication against real processes: a primary killed in the middle of a BSP clock (the clock
// completes with the right average), and bad Replicate requests sent straight to a backup (each
// refused with a clear error, the backup's state unchanged, bitwise).
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/partition.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/raw_call.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

constexpr uint64_t kDenseSize = 400;

v1::TableSpec BspSpec() {
  v1::TableSpec spec;
  spec.set_name("bsp");
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(kDenseSize);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_BSP);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_ZEROS);
  return spec;
}

std::unique_ptr<PsClient> Connect(LocalCluster& cluster, bool observer, int wait_for_workers) {
  PsClientOptions options;
  options.coordinator_address = cluster.coordinator_address();
  options.observer = observer;
  options.wait_for_workers = wait_for_workers;
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST(ReplicationTest, APrimaryKilledInTheMiddleOfABspClockCompletesItWithTheRightAverage) {
  LocalClusterOptions options;
  options.servers = 3;
  options.workers = 0;
  options.num_shards = 4;
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  std::unique_ptr<PsClient> a = Connect(cluster, false, 0);
  std::unique_ptr<PsClient> b = Connect(cluster, false, 2);
  ASSERT_TRUE(a && b);
  absl::StatusOr<v1::TableInfo> table = a->CreateTable(BspSpec());
  ASSERT_TRUE(table.ok()) << table.status();

  // Worker a pushes clock 0 and is acknowledged: its gradient is on every replica.
  std::vector<float> gradient_a(kDenseSize), gradient_b(kDenseSize);
  for (uint64_t i = 0; i < kDenseSize; ++i) {
    gradient_a[i] = -static_cast<float>(i % 5 + 1);
    gradient_b[i] = -static_cast<float>(3 * (i % 3) + 1);
  }
  ASSERT_TRUE(a->Push(*table, gradient_a).ok());
  // Kill the primary of shard 0 while the clock waits for worker b.
  grpc::ClientContext context;
  v1::ClusterStatus status;
  ASSERT_TRUE(cluster.coordinator().GetClusterStatus(&context, {}, &status).ok());
  const int victim = cluster.ServerIndex(status.map(), status.map().shards(0).replicas(0));
  ASSERT_GE(victim, 0);
  cluster.server(victim).Signal(SIGKILL);
  // Worker b's push goes to the promoted primaries (retried transparently) and completes it.
  ASSERT_TRUE(b->Push(*table, gradient_b).ok()) << cluster.AllLogs();
  a->AdvanceClock();
  b->AdvanceClock();
  std::vector<float> values(kDenseSize);
  ASSERT_TRUE(a->Pull(*table, absl::MakeSpan(values)).ok()) << cluster.AllLogs();
  std::vector<float> expected(kDenseSize);
  for (uint64_t i = 0; i < kDenseSize; ++i) {
    expected[i] = -(gradient_a[i] + gradient_b[i]) / 2;  // SGD at rate 1 of the average.
  }
  EXPECT_EQ(values, expected) << "both contributions, each once, averaged over two";
}

// Replicate frames built by hand and sent to a backup.
class BadReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.servers = 2;
    options.workers = 0;
    options.num_shards = 2;
    absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    cluster_ = *std::move(started);
    worker_ = Connect(*cluster_, false, 0);
    ASSERT_TRUE(worker_);
    v1::TableSpec spec = BspSpec();
    spec.set_name("asp");
    spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
    absl::StatusOr<v1::TableInfo> table = worker_->CreateTable(spec);
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *table;
    ASSERT_TRUE(worker_->Push(table_, std::vector<float>(kDenseSize, 1.0f)).ok());
    absl::StatusOr<v1::ClusterMap> map = cluster_->WaitForMap(
        [](const v1::ClusterMap& m) { return m.tables_size() > 0; }, absl::Seconds(10));
    ASSERT_TRUE(map.ok()) << map.status();
    map_ = *map;
    primary_ = map_.shards(0).replicas(0);
    backup_ = map_.shards(0).replicas(1);
    for (const v1::ServerInfo& server : map_.servers()) {
      if (server.server_id() == backup_) backup_address_ = server.address();
    }
  }

  // A one-entry request for shard 0 as the primary would send it, then altered by the test.
  v1::ReplicateRequest Request() const {
    v1::ReplicateRequest request;
    request.set_epoch(map_.epoch());
    request.set_primary_id(primary_);
    request.set_catalog_version(map_.catalog_version());
    v1::LogEntry* entry = request.add_entries();
    entry->set_table_id(table_.table_id());
    entry->set_shard_id(0);
    entry->set_log_index(2);
    entry->set_has_push(true);
    entry->set_worker_id(worker_->worker_id());
    entry->set_incarnation(worker_->incarnation());
    entry->set_seq(2);
    v1::ShardSlice* slice = entry->mutable_slice();
    slice->set_table_id(table_.table_id());
    slice->set_shard_id(0);
    const uint64_t size = DenseShardRange(kDenseSize, map_.num_shards(), 0).size();
    slice->mutable_values()->set_encoding(v1::ENCODING_F32);
    slice->mutable_values()->set_num_elements(size);
    slice->mutable_values()->set_payload_bytes(size * sizeof(float));
    return request;
  }

  grpc::Status Send(const grpc::ByteBuffer& frame, absl::Duration deadline = absl::Seconds(5)) {
    return RawUnaryCall(backup_address_, "/ps.v1.ParameterServer/Replicate", frame, deadline)
        .status;
  }

  grpc::Status SendWithValues(const v1::ReplicateRequest& request, size_t floats) {
    std::vector<float> values(floats, 2.0f);
    return Send(MakeFrame(request, {BorrowedSlice(values.data(), floats * sizeof(float))}));
  }

  // The backup's replicas as (table, shard, log index, checksum), to compare before and after.
  std::string BackupState() {
    auto stub = v1::ParameterServer::NewStub(OpenChannel(backup_address_));
    grpc::ClientContext context;
    v1::DescribeShardsResponse response;
    EXPECT_TRUE(stub->DescribeShards(&context, {}, &response).ok());
    std::string state;
    for (const v1::ShardReplicaInfo& info : response.replicas()) {
      absl::StrAppend(&state, info.table_id(), "/", info.shard_id(), "@", info.log_index(), ":",
                      info.state_crc32(), " ");
    }
    return state;
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<PsClient> worker_;
  v1::TableInfo table_;
  v1::ClusterMap map_;
  uint32_t primary_ = 0;
  uint32_t backup_ = 0;
  std::string backup_address_;
};

TEST_F(BadReplicationTest, EveryBadRequestIsRefusedAndChangesNothing) {
  const size_t floats = DenseShardRange(kDenseSize, map_.num_shards(), 0).size();
  const std::string before = BackupState();
  ASSERT_NE(before.find("@1:"), std::string::npos) << "the backup holds the first push: " << before;

  v1::ReplicateRequest not_primary = Request();
  not_primary.set_primary_id(backup_);
  grpc::Status status = SendWithValues(not_primary, floats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  EXPECT_NE(status.error_message().find("is not the primary"), std::string::npos);

  v1::ReplicateRequest stale_term = Request();
  stale_term.mutable_entries(0)->set_term_epoch(0);
  status = SendWithValues(stale_term, floats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  EXPECT_NE(status.error_message().find("older than the one followed"), std::string::npos)
      << status.error_message();

  v1::ReplicateRequest unknown_table = Request();
  unknown_table.mutable_entries(0)->set_table_id(77);
  unknown_table.mutable_entries(0)->mutable_slice()->set_table_id(77);
  status = SendWithValues(unknown_table, floats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();

  v1::ReplicateRequest unknown_shard = Request();
  unknown_shard.mutable_entries(0)->set_shard_id(9);
  status = SendWithValues(unknown_shard, floats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();

  status = SendWithValues(Request(), floats - 1);  // Payload shorter than the header says.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  std::vector<float> poisoned(floats, 1.0f);
  poisoned[3] = std::numeric_limits<float>::quiet_NaN();
  status = Send(MakeFrame(Request(), {BorrowedSlice(poisoned.data(), floats * sizeof(float))}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  v1::ReplicateRequest barrier_with_update = Request();
  barrier_with_update.mutable_entries(0)->set_barrier(true);
  status = SendWithValues(barrier_with_update, floats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  grpc::Slice garbage(std::string("\xff\xff\xff\x7f not a frame"));
  status = Send(grpc::ByteBuffer(&garbage, 1));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  // A request from an epoch the backup has not seen waits for it, until the sender gives up.
  v1::ReplicateRequest future = Request();
  future.set_epoch(map_.epoch() + 100);
  status = Send(MakeFrame(future, {}), absl::Milliseconds(300));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();

  EXPECT_EQ(BackupState(), before) << "no bad request changed the backup";
  // The cluster still works: the next real push reaches the backup.
  ASSERT_TRUE(worker_->Push(table_, std::vector<float>(kDenseSize, 1.0f)).ok());
  EXPECT_NE(BackupState(), before);
}

}  // namespace
}  // namespace ps::testing
