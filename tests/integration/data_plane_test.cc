// The data plane against real server processes: the waiting semantics of BSP, SSP and ASP,
// exactly-once pushes, and the rejection of every kind of bad request.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/frame.h"
#include "common/grpc_endpoint.h"
#include "common/partition.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.pb.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/raw_call.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

constexpr uint64_t kSize = 100;
constexpr uint32_t kShards = 4;

class DataPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.servers = 2;
    options.workers = 0;
    options.num_shards = kShards;
    options.replication_factor = 1;
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    for (int i = 0; i < 2; ++i) {
      PsClientOptions client_options;
      client_options.coordinator_address = cluster_->coordinator_address();
      client_options.wait_for_workers = 2;
      client_options.request_timeout = absl::Seconds(20);
      // Connect both before waiting: each waits for the other.
      clients_.emplace_back();
      threads_.emplace_back([this, i, client_options] {
        absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(client_options);
        if (client.ok()) clients_[i] = *std::move(client);
      });
    }
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    ASSERT_NE(clients_[0], nullptr);
    ASSERT_NE(clients_[1], nullptr);
  }

  PsClient& a() { return *clients_[0]; }
  PsClient& b() { return *clients_[1]; }

  // A dense table of kSize zeros with SGD at learning rate 1. Both workers pull once so that the
  // servers have seen the map listing both before anyone pushes.
  v1::TableInfo MakeTable(v1::ConsistencySpec::Model model, uint32_t staleness = 0) {
    v1::TableSpec spec;
    spec.set_name("w");
    spec.set_kind(v1::TABLE_KIND_DENSE);
    spec.set_dense_size(kSize);
    spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
    spec.mutable_optimizer()->set_learning_rate(1.0f);
    spec.mutable_consistency()->set_model(model);
    spec.mutable_consistency()->set_staleness(staleness);
    absl::StatusOr<v1::TableInfo> table = a().CreateTable(spec);
    EXPECT_TRUE(table.ok()) << table.status();
    EXPECT_TRUE(b().LookupTable("w").ok());
    EXPECT_TRUE(a().Pull(*table, absl::MakeSpan(scratch_)).ok());
    EXPECT_TRUE(b().Pull(*table, absl::MakeSpan(scratch_)).ok());
    return *table;
  }

  // Starts a pull by `client` on another thread; `done` is notified when it returns.
  void PullInBackground(PsClient& client, const v1::TableInfo& table, absl::Status* status,
                        absl::Notification* done) {
    threads_.emplace_back([&client, table, status, done, this] {
      std::vector<float> values(kSize);
      *status = client.Pull(table, absl::MakeSpan(values));
      background_values_ = values;
      done->Notify();
    });
  }

  void TearDown() override {
    for (std::thread& thread : threads_) thread.join();
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::vector<std::unique_ptr<PsClient>> clients_;
  std::vector<std::thread> threads_;
  std::vector<float> scratch_ = std::vector<float>(kSize);
  std::vector<float> background_values_;
};

std::vector<float> Filled(float value) { return std::vector<float>(kSize, value); }

TEST_F(DataPlaneTest, BspReaderOfTheNextClockWaitsForEveryLiveWorker) {
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_BSP);
  ASSERT_TRUE(a().Push(table, Filled(1.0f)).ok());
  a().AdvanceClock();
  absl::Status pulled;
  absl::Notification done;
  PullInBackground(a(), table, &pulled, &done);
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(700)))
      << "a reader at clock 1 must wait for worker b's clock-0 push";
  ASSERT_TRUE(b().Push(table, Filled(3.0f)).ok());
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(pulled.ok()) << pulled;
  EXPECT_EQ(background_values_, Filled(-2.0f)) << "one update: minus the mean of 1 and 3";
  const ClientStats stats = a().stats();
  EXPECT_GE(stats.parked_time, absl::Milliseconds(600)) << "the wait at the barrier";
  EXPECT_LE(stats.parked_time, stats.pull_time);
  EXPECT_GT(stats.server_push_time, absl::ZeroDuration());
  EXPECT_LE(stats.server_push_time, stats.push_time);
}

TEST_F(DataPlaneTest, SspFastWorkerBlocksExactlyWhenStalenessPlusOneAheadAndResumes) {
  constexpr uint32_t kStaleness = 2;
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_SSP, kStaleness);
  // Worker b stays at clock 0. Worker a may read at clocks 0..s without waiting.
  for (uint32_t clock = 0; clock <= kStaleness; ++clock) {
    absl::Status pulled;
    absl::Notification done;
    PullInBackground(a(), table, &pulled, &done);
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)))
        << "a reader " << clock << " clocks ahead must not wait";
    ASSERT_TRUE(pulled.ok()) << pulled;
    ASSERT_TRUE(a().Push(table, Filled(1.0f)).ok());
    a().AdvanceClock();
  }
  absl::Status pulled;
  absl::Notification done;
  PullInBackground(a(), table, &pulled, &done);
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(700)))
      << "s + 1 clocks ahead of the slowest worker must wait";
  ASSERT_TRUE(b().Push(table, Filled(1.0f)).ok());
  b().AdvanceClock();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(pulled.ok()) << pulled;
  EXPECT_EQ(background_values_, Filled(-4.0f)) << "pushes apply on arrival: 3 from a, 1 from b";
}

TEST_F(DataPlaneTest, BspPushPullWaitsInOneCallForEveryLiveWorker) {
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_BSP);
  absl::Status fused;
  absl::Notification done;
  std::vector<float> values(kSize);
  threads_.emplace_back([&] {
    fused = a().PushPull(table, Filled(1.0f), absl::MakeSpan(values));
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(700)))
      << "the pull half reads at clock 1, which waits for worker b's clock-0 push";
  ASSERT_TRUE(b().Push(table, Filled(3.0f)).ok());
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(fused.ok()) << fused;
  EXPECT_EQ(values, Filled(-2.0f)) << "one update: minus the mean of 1 and 3";
  EXPECT_EQ(a().clock(), 1u);
  const ClientStats stats = a().stats();
  EXPECT_EQ(stats.bytes_pushed, kSize * sizeof(float));
  EXPECT_EQ(stats.bytes_pulled, 2 * kSize * sizeof(float));  // MakeTable's pull, and this.
  // The server says how long it held the pull at the barrier: most of the call's time.
  EXPECT_GE(stats.parked_time, absl::Milliseconds(600));
  EXPECT_LE(stats.parked_time + stats.server_push_time, stats.push_pull_time);
  EXPECT_GT(stats.server_push_time, absl::ZeroDuration());
}

TEST_F(DataPlaneTest, PushesStreamedPerShardApplyExactlyOnce) {
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_ASP);
  PsClientOptions options;
  options.coordinator_address = cluster_->coordinator_address();
  options.request_timeout = absl::Seconds(20);
  options.stream_push_bytes = 1;  // Every push to a server holding two shards streams.
  absl::StatusOr<std::unique_ptr<PsClient>> streaming = PsClient::Connect(options);
  ASSERT_TRUE(streaming.ok()) << streaming.status();
  ASSERT_TRUE((*streaming)->LookupTable("w").ok());
  for (int push = 0; push < 5; ++push) {
    ASSERT_TRUE((*streaming)->Push(table, Filled(1.0f)).ok()) << "push " << push;
  }
  ASSERT_TRUE(a().Pull(table, absl::MakeSpan(scratch_)).ok());
  EXPECT_EQ(scratch_, Filled(-5.0f));
  EXPECT_GT((*streaming)->stats().server_push_time, absl::ZeroDuration());
}

TEST_F(DataPlaneTest, AspReadersNeverWait) {
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_ASP);
  for (int clock = 0; clock < 20; ++clock) {
    ASSERT_TRUE(a().PushPull(table, Filled(1.0f), absl::MakeSpan(scratch_)).ok());
  }
  EXPECT_EQ(scratch_, Filled(-20.0f));
}

TEST_F(DataPlaneTest, APullPastItsDeadlineFailsWithAClearError) {
  PsClientOptions options;
  options.coordinator_address = cluster_->coordinator_address();
  options.request_timeout = absl::Milliseconds(600);
  absl::StatusOr<std::unique_ptr<PsClient>> impatient = PsClient::Connect(options);
  ASSERT_TRUE(impatient.ok());
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_BSP);
  ASSERT_TRUE((*impatient)->Pull(table, absl::MakeSpan(scratch_)).ok());
  (*impatient)->AdvanceClock();  // Clock 1 cannot complete: nobody pushed clock 0.
  const absl::Time start = absl::Now();
  const absl::Status status = (*impatient)->Pull(table, absl::MakeSpan(scratch_));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find("slower workers"), std::string::npos) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(DataPlaneTest, CreatingATableIsIdempotentAndAConflictingSpecIsRefused) {
  const v1::TableInfo table = MakeTable(v1::ConsistencySpec::MODEL_ASP);
  absl::StatusOr<v1::TableInfo> again = b().CreateTable(table.spec());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->table_id(), table.table_id());
  v1::TableSpec different = table.spec();
  different.set_dense_size(kSize + 1);
  EXPECT_EQ(b().CreateTable(different).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(b().LookupTable("nope").status().code(), absl::StatusCode::kNotFound);
}

// Hand-built frames sent straight to a server, as a buggy or hostile client might.
class RawDataPlaneTest : public DataPlaneTest {
 protected:
  void SetUp() override {
    DataPlaneTest::SetUp();
    if (HasFatalFailure()) return;
    table_ = MakeTable(v1::ConsistencySpec::MODEL_ASP);
    absl::StatusOr<v1::ClusterMap> map = cluster_->WaitForMap(
        [](const v1::ClusterMap&) { return true; }, absl::Seconds(5));
    ASSERT_TRUE(map.ok());
    map_ = *map;
    const uint32_t primary = map_.shards(0).replicas(0);
    for (const v1::ServerInfo& server : map_.servers()) {
      if (server.server_id() == primary) address_ = server.address();
    }
    range_ = DenseShardRange(kSize, kShards, 0);
  }

  // A push to shard 0 from worker a with `values` (the right length unless a test says otherwise).
  v1::PushRequest Header(uint64_t seq, uint64_t num_values) {
    v1::PushRequest header;
    header.set_epoch(map_.epoch());
    header.set_catalog_version(map_.catalog_version());
    header.set_worker_id(a().worker_id());
    header.set_incarnation(a().incarnation());
    header.set_seq(seq);
    v1::ShardSlice* slice = header.add_slices();
    slice->set_table_id(table_.table_id());
    slice->set_shard_id(0);
    slice->mutable_values()->set_encoding(v1::ENCODING_F32);
    slice->mutable_values()->set_num_elements(num_values);
    slice->mutable_values()->set_payload_bytes(num_values * sizeof(float));
    return header;
  }

  struct Answer {
    grpc::Status status;
    v1::PushResponse response;
    std::string epoch_trailer;
  };
  Answer Send(const grpc::ByteBuffer& frame, const char* method = "/ps.v1.ParameterServer/Push") {
    RawAnswer raw = RawUnaryCall(address_, method, frame, absl::Seconds(10));
    Answer answer;
    answer.status = raw.status;
    answer.epoch_trailer = raw.epoch_trailer;
    if (answer.status.ok()) {
      EXPECT_TRUE(ParseMessage(raw.response, &answer.response));
    }
    return answer;
  }

  Answer Push(const v1::PushRequest& header, const std::vector<float>& values) {
    return Send(MakeFrame(header, {BorrowedSlice(values.data(), values.size() * sizeof(float))}));
  }

  // Element 0 of the table as the observer-free client a sees it.
  float FirstValue() {
    EXPECT_TRUE(a().Pull(table_, absl::MakeSpan(scratch_)).ok());
    return scratch_[0];
  }

  v1::TableInfo table_;
  v1::ClusterMap map_;
  std::string address_;
  DenseRange range_;
};

TEST_F(RawDataPlaneTest, ADuplicatedPushIsAcknowledgedButAppliedOnce) {
  const std::vector<float> ones(range_.size(), 1.0f);
  const Answer first = Push(Header(1000, range_.size()), ones);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_FALSE(first.response.duplicate());
  const Answer retry = Push(Header(1000, range_.size()), ones);
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  EXPECT_TRUE(retry.response.duplicate());
  EXPECT_EQ(FirstValue(), -1.0f);
  ASSERT_TRUE(Push(Header(1001, range_.size()), ones).status.ok());
  EXPECT_EQ(FirstValue(), -2.0f) << "the next seq applies";
}

// A PushPull frame: the push of Header(seq) with `values`, then a read of shard 0 in `encoding`.
grpc::ByteBuffer PushPullFrame(const v1::PushRequest& push, const std::vector<float>& values,
                               v1::Encoding encoding, uint64_t pull_keys = 0) {
  v1::PushPullRequest header;
  *header.mutable_push() = push;
  v1::PullRequest* pull = header.mutable_pull();
  pull->set_epoch(push.epoch());
  pull->set_catalog_version(push.catalog_version());
  pull->set_worker_id(push.worker_id());
  pull->set_incarnation(push.incarnation());
  pull->set_clock(push.clock() + 1);
  pull->set_value_encoding(encoding);
  v1::ShardSlice* slice = pull->add_slices();
  slice->set_table_id(push.slices(0).table_id());
  slice->set_shard_id(0);
  slice->set_num_keys(pull_keys);
  return MakeFrame(header, {BorrowedSlice(values.data(), values.size() * sizeof(float))});
}

TEST_F(RawDataPlaneTest, PushPullAppliesExactlyOnceAndReadsTheResult) {
  const std::vector<float> ones(range_.size(), 1.0f);
  for (bool retry : {false, true}) {
    const RawAnswer raw =
        RawUnaryCall(address_, "/ps.v1.ParameterServer/PushPull",
                     PushPullFrame(Header(2000, range_.size()), ones, v1::ENCODING_F32),
                     absl::Seconds(10));
    ASSERT_TRUE(raw.status.ok()) << raw.status.error_message();
    v1::PushPullResponse header;
    absl::StatusOr<FrameReader> reader = FrameReader::Open(raw.response, &header);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ(header.push().duplicate(), retry);
    ASSERT_EQ(header.pull().slices_size(), 1);
    EXPECT_EQ(header.pull().slices(0).values().num_elements(), range_.size());
    std::vector<float> read(range_.size());
    ASSERT_TRUE(reader->Read(read.data(), read.size() * sizeof(float)).ok());
    EXPECT_EQ(reader->remaining(), 0u);
    EXPECT_EQ(read, std::vector<float>(range_.size(), -1.0f)) << "applied once, then read";
  }
  EXPECT_EQ(FirstValue(), -1.0f);
}

TEST_F(RawDataPlaneTest, APushPullWhosePullIsBadChangesNothing) {
  const float before = FirstValue();
  const std::vector<float> ones(range_.size(), 1.0f);
  for (const auto& [frame, what] : std::vector<std::pair<grpc::ByteBuffer, std::string>>{
           {PushPullFrame(Header(3000, range_.size()), ones, v1::ENCODING_TOPK), "TOPK pull"},
           {PushPullFrame(Header(3001, range_.size()), ones, v1::ENCODING_F32, 1u << 30),
            "more pull keys than bytes"},
           {PushPullFrame(Header(3002, range_.size()), ones, v1::ENCODING_F32, 2),
            "keys for a dense pull"},
       }) {
    const RawAnswer raw =
        RawUnaryCall(address_, "/ps.v1.ParameterServer/PushPull", frame, absl::Seconds(10));
    EXPECT_EQ(raw.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << raw.status.error_message();
  }
  EXPECT_EQ(FirstValue(), before);
}

TEST_F(RawDataPlaneTest, APushStreamOfMixedPushesIsRefused) {
  const float before = FirstValue();
  const std::vector<float> ones(range_.size(), 1.0f);
  // Two messages for the same shard with different seqs: the second is of another push.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::GenericStub stub(OpenChannel(address_));
  struct Call : grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
    std::vector<grpc::ByteBuffer> messages;
    size_t next = 0;
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    void Next() {
      if (next == messages.size()) {
        StartWritesDone();
      } else {
        StartWrite(&messages[next++]);
      }
    }
    void OnWriteDone(bool ok) override {
      if (ok) Next();
    }
    void OnDone(const grpc::Status& s) override {
      status = s;
      done.Notify();
    }
  } call;
  call.messages.push_back(
      MakeFrame(Header(4000, range_.size()), {BorrowedSlice(ones.data(), ones.size() * 4)}));
  call.messages.push_back(
      MakeFrame(Header(4001, range_.size()), {BorrowedSlice(ones.data(), ones.size() * 4)}));
  stub.PrepareBidiStreamingCall(&context, "/ps.v1.ParameterServer/PushStream",
                                grpc::StubOptions(), &call);
  call.StartRead(&call.response);
  call.Next();
  call.StartCall();
  ASSERT_TRUE(call.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << call.status.error_message();
  EXPECT_NE(call.status.error_message().find("of another push"), std::string::npos);
  // The first message was a push of its own and applied once; a retry of it is a duplicate.
  EXPECT_EQ(FirstValue(), before - 1.0f);
  const Answer retry = Push(Header(4000, range_.size()), ones);
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  EXPECT_TRUE(retry.response.duplicate());
  EXPECT_EQ(FirstValue(), before - 1.0f);
}

TEST_F(RawDataPlaneTest, EveryBadRequestIsRejectedAndChangesNothing) {
  const float before = FirstValue();
  const std::vector<float> ones(range_.size(), 1.0f);

  std::vector<float> with_nan = ones;
  with_nan[1] = std::numeric_limits<float>::quiet_NaN();
  Answer answer = Push(Header(1, range_.size()), with_nan);
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(answer.status.error_message().find("finite"), std::string::npos);

  std::vector<float> with_inf = ones;
  with_inf.back() = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(Push(Header(2, range_.size()), with_inf).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const std::vector<float> short_values(range_.size() - 1, 1.0f);
  EXPECT_EQ(Push(Header(3, range_.size() - 1), short_values).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "wrong length";
  EXPECT_EQ(Push(Header(4, range_.size()), short_values).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "payload shorter than the header says";

  v1::PushRequest unknown_table = Header(5, range_.size());
  unknown_table.mutable_slices(0)->set_table_id(999);
  answer = Push(unknown_table, ones);
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::PushRequest no_such_shard = Header(6, range_.size());
  no_such_shard.mutable_slices(0)->set_shard_id(kShards + 3);
  EXPECT_EQ(Push(no_such_shard, ones).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Routed with an older map to a server that does not lead the shard now: sent back to
  // refresh. (The primary serves an older map's request for a shard it still leads.)
  v1::PushRequest stale = Header(7, range_.size());
  stale.set_epoch(map_.epoch() - 1);
  std::string other_address;
  for (const v1::ServerInfo& server : map_.servers()) {
    if (server.server_id() != map_.shards(0).replicas(0)) other_address = server.address();
  }
  RawAnswer to_other =
      RawUnaryCall(other_address, "/ps.v1.ParameterServer/Push",
                   MakeFrame(stale, {BorrowedSlice(ones.data(), ones.size() * sizeof(float))}),
                   absl::Seconds(10));
  EXPECT_EQ(to_other.status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(to_other.epoch_trailer, std::to_string(map_.epoch())) << "names the current epoch";

  v1::PushRequest stranger = Header(8, range_.size());
  stranger.set_worker_id(4242);
  EXPECT_EQ(Push(stranger, ones).status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::PushRequest old_incarnation = Header(9, range_.size());
  old_incarnation.set_incarnation(a().incarnation() + 1);
  EXPECT_EQ(Push(old_incarnation, ones).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  v1::PushRequest wrong_encoding = Header(10, range_.size());
  wrong_encoding.mutable_slices(0)->mutable_values()->set_encoding(v1::ENCODING_F16);
  EXPECT_EQ(Push(wrong_encoding, ones).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const char garbage[] = {9, 0, 0, 0, 1, 2, 3};
  grpc::Slice garbage_slice(garbage, sizeof(garbage));
  EXPECT_EQ(Send(grpc::ByteBuffer(&garbage_slice, 1)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "a frame that does not parse";
  EXPECT_EQ(Send(grpc::ByteBuffer(&garbage_slice, 1), "/ps.v1.ParameterServer/Pull")
                .status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Client-side checks fail before anything is sent.
  EXPECT_EQ(a().Push(table_, std::vector<float>(kSize + 1)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint64_t> keys = {1};
  std::vector<float> row(1);
  EXPECT_EQ(a().PushSparse(table_, keys, row).code(), absl::StatusCode::kInvalidArgument)
      << "a dense table through the sparse call";

  EXPECT_EQ(FirstValue(), before) << "no rejected push changed the shard";
}

TEST_F(RawDataPlaneTest, CompressedPushesApplyAndMalformedOnesChangeNothing) {
  const float before = FirstValue();
  // Top-k: element 0 gets 2 and element 5 gets 3; nothing else moves.
  auto topk = [&](uint64_t seq, std::vector<uint32_t> indices, std::vector<float> values) {
    v1::PushRequest header = Header(seq, range_.size());
    v1::TensorHeader* tensor = header.mutable_slices(0)->mutable_values();
    tensor->set_encoding(v1::ENCODING_TOPK);
    tensor->set_payload_bytes(8 * indices.size());
    std::string payload(reinterpret_cast<const char*>(indices.data()), 4 * indices.size());
    payload.append(reinterpret_cast<const char*>(values.data()), 4 * values.size());
    grpc::Slice slice(payload.data(), payload.size());
    return Send(MakeFrame(header, {slice}));
  };
  Answer answer = topk(20, {0, 5}, {2.0f, 3.0f});
  ASSERT_TRUE(answer.status.ok()) << answer.status.error_message();
  ASSERT_TRUE(a().Pull(table_, absl::MakeSpan(scratch_)).ok());
  EXPECT_EQ(scratch_[0], before - 2.0f);
  EXPECT_EQ(scratch_[5], -3.0f);
  EXPECT_EQ(scratch_[1], 0.0f);
  const std::vector<float> applied = scratch_;

  answer = topk(21, {0, static_cast<uint32_t>(range_.size())}, {1.0f, 1.0f});
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(answer.status.error_message().find("beyond"), std::string::npos)
      << answer.status.error_message();
  EXPECT_EQ(topk(22, {5, 5}, {1.0f, 1.0f}).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << "an index twice";
  EXPECT_EQ(topk(23, {1, 2}, {1.0f, std::numeric_limits<float>::infinity()}).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // int8 blocks whose first scale is NaN.
  v1::PushRequest int8 = Header(24, range_.size());
  v1::TensorHeader* tensor = int8.mutable_slices(0)->mutable_values();
  tensor->set_encoding(v1::ENCODING_INT8_BLOCK);
  tensor->set_block_size(16);
  const uint64_t blocks = (range_.size() + 15) / 16;
  tensor->set_payload_bytes(blocks * 4 + range_.size());
  std::string payload(tensor->payload_bytes(), '\1');
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(payload.data(), &nan, 4);
  grpc::Slice slice(payload.data(), payload.size());
  answer = Send(MakeFrame(int8, {slice}));
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(answer.status.error_message().find("scale"), std::string::npos)
      << answer.status.error_message();

  ASSERT_TRUE(a().Pull(table_, absl::MakeSpan(scratch_)).ok());
  EXPECT_EQ(scratch_, applied) << "no rejected push changed the shard";
}

TEST_F(RawDataPlaneTest, SparseKeysOfAnotherShardAreRejected) {
  v1::TableSpec spec;
  spec.set_name("embeddings");
  spec.set_kind(v1::TABLE_KIND_SPARSE);
  spec.set_sparse_dim(2);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  absl::StatusOr<v1::TableInfo> sparse = a().CreateTable(spec);
  ASSERT_TRUE(sparse.ok());
  absl::StatusOr<v1::ClusterMap> map = cluster_->WaitForMap(
      [&](const v1::ClusterMap& m) { return m.tables_size() == 2; }, absl::Seconds(5));
  ASSERT_TRUE(map.ok());
  uint64_t key = 0;
  while (SparseShardOf(key, kShards) == 0) ++key;  // A key of some other shard.
  v1::PushRequest header = Header(1, 2);
  header.set_catalog_version(map->catalog_version());
  header.mutable_slices(0)->set_table_id(sparse->table_id());
  header.mutable_slices(0)->set_num_keys(1);
  const std::vector<float> row = {1.0f, 1.0f};
  const grpc::ByteBuffer frame =
      MakeFrame(header, {BorrowedSlice(&key, sizeof(key)), BorrowedSlice(row.data(), 8)});
  // The server may not have the catalog listing the new table yet: it answers UNAVAILABLE (retry)
  // until its map watch delivers it.
  Answer answer = Send(frame);
  for (int attempt = 0; attempt < 50 && answer.status.error_code() == grpc::StatusCode::UNAVAILABLE;
       ++attempt) {
    absl::SleepFor(absl::Milliseconds(100));
    answer = Send(frame);
  }
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(answer.status.error_message().find("belongs to shard"), std::string::npos)
      << answer.status.error_message();
}

}  // namespace
}  // namespace ps::testing
