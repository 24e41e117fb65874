// Resource limits on real servers (README "Security", limits): a client inserting sparse keys
// without end is refused with RESOURCE_EXHAUSTED once the table's quota is reached, nothing of the
// refused push is applied, and the servers stay up serving that table's rows and other tables; an
// oversize message is refused; one client connection cannot hold more parked pulls or push
// streams than its caps.
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.grpc.pb.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/raw_call.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

constexpr uint32_t kShards = 4;
constexpr uint32_t kDim = 16;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.servers = 2;
    options.workers = 0;
    options.num_shards = kShards;
    options.replication_factor = 2;
    options.server_args = {"--table_memory_mb=1", "--max_message_mb=1",
                           "--max_parked_pulls_per_client=2", "--max_streams_per_client=2"};
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    PsClientOptions client_options;
    client_options.coordinator_address = cluster_->coordinator_address();
    client_options.wait_for_workers = 1;
    client_options.request_timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  v1::TableInfo Create(const std::string& name, v1::TableKind kind,
                       v1::ConsistencySpec::Model model = v1::ConsistencySpec::MODEL_ASP) {
    v1::TableSpec spec;
    spec.set_name(name);
    spec.set_kind(kind);
    if (kind == v1::TABLE_KIND_SPARSE) {
      spec.set_sparse_dim(kDim);
    } else {
      spec.set_dense_size(64);
    }
    spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
    spec.mutable_optimizer()->set_learning_rate(1.0f);
    spec.mutable_consistency()->set_model(model);
    absl::StatusOr<v1::TableInfo> table = client_->CreateTable(spec);
    EXPECT_TRUE(table.ok()) << table.status();
    return table.ok() ? *table : v1::TableInfo();
  }

  // The address of the server leading `shard` now.
  std::string PrimaryOf(uint32_t shard) {
    absl::StatusOr<v1::ClusterMap> map =
        cluster_->WaitForMap([](const v1::ClusterMap&) { return true; }, absl::Seconds(5));
    EXPECT_TRUE(map.ok());
    const uint32_t id = map->shards(shard).replicas(0);
    return cluster_->server_address(cluster_->ServerIndex(*map, id));
  }

  void ExpectServersUp() {
    for (int i = 0; i < cluster_->num_servers(); ++i) {
      EXPECT_EQ(cluster_->server(i).Wait(absl::ZeroDuration()), std::nullopt) << "server " << i;
    }
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<PsClient> client_;
};

TEST_F(LimitsTest, SparseRowsBeyondTheTableQuotaAreRefusedAndTheServerKeepsServing) {
  const v1::TableInfo greedy = Create("greedy", v1::TABLE_KIND_SPARSE);
  const v1::TableInfo other = Create("other", v1::TABLE_KIND_DENSE);
  constexpr uint64_t kBatch = 1000;
  const std::vector<float> ones(kBatch * kDim, 1.0f);
  uint64_t accepted = 0;
  absl::Status refused;
  // Each server holds every shard (R = 2 of 2 servers): about 1 MiB / 96 B = 10922 rows fit.
  for (int batch = 0; batch < 100 && refused.ok(); ++batch) {
    std::vector<uint64_t> keys(kBatch);
    std::iota(keys.begin(), keys.end(), accepted);
    refused = client_->PushSparse(greedy, keys, ones);
    if (refused.ok()) accepted += kBatch;
  }
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("beyond its quota"), absl::string_view::npos) << refused;
  EXPECT_GE(accepted, 8000u);
  EXPECT_LE(accepted, 11000u);
  ExpectServersUp();

  // The refused batch left nothing: its first key reads as the initial value, 0.
  std::vector<float> row(kDim);
  const std::vector<uint64_t> refused_key = {accepted};
  ASSERT_TRUE(client_->PullSparse(greedy, refused_key, absl::MakeSpan(row)).ok());
  EXPECT_EQ(row, std::vector<float>(kDim, 0.0f));
  // Rows it holds still take pushes (no new memory) and read back.
  const std::vector<uint64_t> old_key = {0};
  ASSERT_TRUE(client_->PushSparse(greedy, old_key, std::vector<float>(kDim, 1.0f)).ok());
  ASSERT_TRUE(client_->PullSparse(greedy, old_key, absl::MakeSpan(row)).ok());
  EXPECT_EQ(row, std::vector<float>(kDim, -2.0f)) << "two SGD steps of gradient 1, rate 1";
  // Other tables are served as before.
  ASSERT_TRUE(client_->Push(other, std::vector<float>(64, 0.5f)).ok());
  std::vector<float> dense(64);
  ASSERT_TRUE(client_->Pull(other, absl::MakeSpan(dense)).ok());
  EXPECT_EQ(dense, std::vector<float>(64, -0.5f));
  ExpectServersUp();
}

TEST_F(LimitsTest, AnOversizeMessageIsRefused) {
  const std::string big(2 << 20, 'x');
  grpc::Slice slice(big.data(), big.size());
  const RawAnswer answer = RawUnaryCall(PrimaryOf(0), "/ps.v1.ParameterServer/Push",
                                        grpc::ByteBuffer(&slice, 1), absl::Seconds(10));
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << answer.status.error_message();
  ExpectServersUp();
}

TEST_F(LimitsTest, OneConnectionHoldsAtMostItsCapOfParkedPullsAndPushStreams) {
  const v1::TableInfo table = Create("bsp", v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_BSP);
  std::vector<float> values(64);
  ASSERT_TRUE(client_->Pull(table, absl::MakeSpan(values)).ok());  // The servers know it.
  absl::StatusOr<v1::ClusterMap> map = cluster_->WaitForMap(
      [](const v1::ClusterMap& m) { return m.tables_size() == 1; }, absl::Seconds(5));
  ASSERT_TRUE(map.ok());
  const std::string address = PrimaryOf(0);
  // Reads of clock 1 wait for this worker's push of clock 0, which never comes.
  v1::PullRequest header;
  header.set_epoch(map->epoch());
  header.set_catalog_version(map->catalog_version());
  header.set_membership_version(map->membership_version());
  header.set_worker_id(client_->worker_id());
  header.set_incarnation(client_->incarnation());
  header.set_clock(1);
  header.set_value_encoding(v1::ENCODING_F32);
  v1::ShardSlice* slice = header.add_slices();
  slice->set_table_id(table.table_id());
  slice->set_shard_id(0);
  const grpc::ByteBuffer frame = MakeFrame(header, {});
  grpc::GenericStub stub(OpenFreshChannel(address));  // One connection for every call below.
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
  };
  std::vector<std::unique_ptr<Call>> pulls;
  for (int i = 0; i < 3; ++i) {
    auto& call = pulls.emplace_back(std::make_unique<Call>());
    call->request = frame;
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    Call* raw = call.get();
    stub.UnaryCall(&call->context, "/ps.v1.ParameterServer/Pull", grpc::StubOptions(),
                   &call->request, &call->response, [raw](grpc::Status status) {
                     raw->status = std::move(status);
                     raw->done.Notify();
                   });
    if (i < 2) absl::SleepFor(absl::Milliseconds(300));  // Parked, in order.
  }
  ASSERT_TRUE(pulls[2]->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(pulls[2]->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << pulls[2]->status.error_message();
  EXPECT_NE(pulls[2]->status.error_message().find("waiting pulls"), std::string::npos)
      << pulls[2]->status.error_message();
  EXPECT_FALSE(pulls[0]->done.HasBeenNotified()) << pulls[0]->status.error_message();
  EXPECT_FALSE(pulls[1]->done.HasBeenNotified()) << pulls[1]->status.error_message();

  // Push streams: two open at once on this connection, the third refused.
  auto typed = v1::ParameterServer::NewStub(OpenFreshChannel(address));
  struct Stream {
    grpc::ClientContext context;
    v1::PushResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::PushRequest>> writer;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 2; ++i) {
    auto& stream = streams.emplace_back(std::make_unique<Stream>());
    stream->writer = typed->PushStream(&stream->context, &stream->response);
  }
  absl::SleepFor(absl::Milliseconds(300));
  Stream third;
  third.context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  third.writer = typed->PushStream(&third.context, &third.response);
  third.writer->WritesDone();
  const grpc::Status refused = third.writer->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  // Once they end, new streams are taken again.
  for (auto& stream : streams) {
    stream->writer->WritesDone();
    EXPECT_TRUE(stream->writer->Finish().ok());
  }
  Stream fourth;
  fourth.writer = typed->PushStream(&fourth.context, &fourth.response);
  fourth.writer->WritesDone();
  EXPECT_TRUE(fourth.writer->Finish().ok());

  for (auto& call : pulls) call->context.TryCancel();
  for (auto& call : pulls) call->done.WaitForNotification();
  ExpectServersUp();
}

}  // namespace
}  // namespace ps::testing
