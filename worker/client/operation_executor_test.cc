#include "worker/client/operation_executor.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/frame.h"
#include "gtest/gtest.h"
#include "proto/parameter_server.pb.h"
#include "worker/client/cluster_map_source.h"
#include "worker/client/server_transport.h"

namespace ps {
namespace {

constexpr uint32_t kWorkerId = 11;
constexpr uint64_t kIncarnation = 22;
constexpr uint64_t kSeq = 7;
constexpr uint64_t kClock = 3;
constexpr uint32_t kTableId = 4;

// One call the executor made.
struct SentCall {
  std::string address;
  uint32_t connection = 0;
  std::string method;
  grpc::ByteBuffer request;
  absl::Time deadline;
};

// Records every call. With a responder, answers each call inside Call(); without one, keeps the
// calls pending until the test answers them (from another thread than the executor's).
class FakeTransport : public ServerTransport {
 public:
  using Responder = std::function<ServerReply(const SentCall&)>;

  FakeTransport() = default;
  explicit FakeTransport(Responder responder) : responder_(std::move(responder)) {}

  void Call(const std::string& address, uint32_t connection, absl::string_view method,
            grpc::ByteBuffer request, absl::Time deadline, DoneCallback done) override {
    SentCall call{address, connection, std::string(method), std::move(request), deadline};
    if (!responder_) {
      absl::MutexLock lock(&mu_);
      sent_.push_back(std::move(call));
      pending_.push_back(std::move(done));
      return;
    }
    ServerReply reply = responder_(call);
    {
      absl::MutexLock lock(&mu_);
      sent_.push_back(std::move(call));
    }
    std::move(done)(std::move(reply));
  }

  // Recorded as one call per message, the stream's answer from the responder of its first.
  void StreamCall(const std::string& address, uint32_t connection, absl::string_view method,
                  std::vector<grpc::ByteBuffer> requests, absl::Time deadline,
                  DoneCallback done) override {
    std::vector<SentCall> calls;
    for (grpc::ByteBuffer& request : requests) {
      calls.push_back(
          SentCall{address, connection, std::string(method), std::move(request), deadline});
    }
    ServerReply reply = responder_ ? responder_(calls.front()) : ServerReply();
    {
      absl::MutexLock lock(&mu_);
      sent_.insert(sent_.end(), calls.begin(), calls.end());
    }
    std::move(done)(std::move(reply));
  }

  // Waits (bounded, so that a broken executor fails the test instead of hanging it) until `n`
  // calls are pending at once.
  bool AwaitPending(size_t n) {
    absl::MutexLock lock(&mu_);
    const auto enough = [this, n]()
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }

  // Answers every pending call with `answer(call)`.
  void AnswerPending(const Responder& answer) {
    std::vector<std::pair<ServerReply, DoneCallback>> replies;
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < pending_.size(); ++i) {
        replies.emplace_back(answer(sent_[sent_.size() - pending_.size() + i]),
                             std::move(pending_[i]));
      }
      pending_.clear();
    }
    for (auto& [reply, done] : replies) std::move(done)(std::move(reply));
  }

  std::vector<SentCall> sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  std::vector<std::string> addresses() const {
    std::vector<std::string> addresses;
    for (const SentCall& call : sent()) addresses.push_back(call.address);
    return addresses;
  }

 private:
  const Responder responder_;
  mutable absl::Mutex mu_;
  std::vector<SentCall> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<DoneCallback> pending_ ABSL_GUARDED_BY(mu_);
};

// Maps on demand: AwaitMap publishes the queued maps, in order, until one satisfies the caller
// (as if the coordinator had sent them while it waited), and records the timeout it was given;
// it never blocks.
class FakeMapSource : public ClusterMapSource {
 public:
  explicit FakeMapSource(v1::ClusterMap first) : current_(std::move(first)) {}

  void QueueMap(v1::ClusterMap next) {
    absl::MutexLock lock(&mu_);
    queued_.push_back(std::move(next));
  }

  std::shared_ptr<const v1::ClusterMap> Map() const override {
    absl::MutexLock lock(&mu_);
    return std::make_shared<const v1::ClusterMap>(current_);
  }
  std::optional<v1::ClusterMap> AwaitMap(const std::function<bool(const v1::ClusterMap&)>& ready,
                                         absl::Duration timeout) const override {
    absl::MutexLock lock(&mu_);
    waits_.push_back(timeout);
    while (!ready(current_) && !queued_.empty()) {
      current_ = std::move(queued_.front());
      queued_.erase(queued_.begin());
    }
    if (!ready(current_)) return std::nullopt;
    return current_;
  }
  void ReportUnreachable(uint32_t server_id, const std::string& reason) override {
    absl::MutexLock lock(&mu_);
    reports_.emplace_back(server_id, reason);
  }

  std::vector<absl::Duration> waits() const {
    absl::MutexLock lock(&mu_);
    return waits_;
  }
  std::vector<std::pair<uint32_t, std::string>> reports() const {
    absl::MutexLock lock(&mu_);
    return reports_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable v1::ClusterMap current_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<v1::ClusterMap> queued_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<absl::Duration> waits_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint32_t, std::string>> reports_ ABSL_GUARDED_BY(mu_);
};

// Servers 1 "a:1", 2 "b:2", 3 "c:3"; `alive` of them ALIVE, the rest DEAD. Shard s is led by
// primaries[s] (0: no replicas yet).
v1::ClusterMap MakeMap(uint64_t epoch, const std::vector<uint32_t>& alive,
                       const std::vector<uint32_t>& primaries) {
  v1::ClusterMap map;
  map.set_epoch(epoch);
  map.set_catalog_version(9);
  map.set_membership_version(12);
  map.set_num_shards(static_cast<uint32_t>(primaries.size()));
  const char* const addresses[] = {"a:1", "b:2", "c:3"};
  for (uint32_t id = 1; id <= 3; ++id) {
    v1::ServerInfo* server = map.add_servers();
    server->set_server_id(id);
    server->set_address(addresses[id - 1]);
    server->set_state(std::find(alive.begin(), alive.end(), id) != alive.end()
                          ? v1::MEMBER_STATE_ALIVE
                          : v1::MEMBER_STATE_DEAD);
  }
  for (uint32_t shard = 0; shard < primaries.size(); ++shard) {
    v1::ShardAssignment* assignment = map.add_shards();
    assignment->set_shard_id(shard);
    if (primaries[shard] != 0) assignment->add_replicas(primaries[shard]);
  }
  return map;
}

v1::TableInfo DenseTable(uint64_t size) {
  v1::TableInfo table;
  table.set_table_id(kTableId);
  table.mutable_spec()->set_name("w");
  table.mutable_spec()->set_kind(v1::TABLE_KIND_DENSE);
  table.mutable_spec()->set_dense_size(size);
  return table;
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// A push of `gradient` to `table`, split into `num_shards` equal F32 ranges.
Operation DensePush(const v1::TableInfo& table, const std::vector<float>& gradient,
                    uint32_t num_shards) {
  Operation op;
  op.push = true;
  op.table = &table;
  op.seq = kSeq;
  op.clock = kClock;
  op.what = "push to table 'w'";
  const size_t per_shard = gradient.size() / num_shards;
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_values = per_shard;
    part.values_header.set_encoding(v1::ENCODING_F32);
    part.values_header.set_num_elements(per_shard);
    part.values_header.set_payload_bytes(per_shard * sizeof(float));
    part.values = BorrowedSlice(gradient.data() + shard * per_shard, per_shard * sizeof(float));
  }
  return op;
}

// A pull of `out.size()` values of `table`, split into `num_shards` equal ranges.
Operation DensePull(const v1::TableInfo& table, std::vector<float>& out, uint32_t num_shards) {
  Operation op;
  op.table = &table;
  op.clock = kClock;
  op.what = "pull of table 'w' at clock 3";
  const size_t per_shard = out.size() / num_shards;
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    ShardPart& part = op.parts.emplace_back();
    part.shard_id = shard;
    part.num_values = per_shard;
    part.out = out.data() + shard * per_shard;
  }
  return op;
}

// The header and payload bytes of a request frame.
template <typename Header>
std::string ReadFrame(const grpc::ByteBuffer& frame, Header* header) {
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, header);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return "";
  std::string payload(reader->remaining(), '\0');
  EXPECT_TRUE(reader->Read(payload.data(), payload.size()).ok());
  return payload;
}

std::vector<uint32_t> ShardsOf(const google::protobuf::RepeatedPtrField<v1::ShardSlice>& slices) {
  std::vector<uint32_t> shards;
  for (const v1::ShardSlice& slice : slices) {
    EXPECT_EQ(slice.table_id(), kTableId);
    shards.push_back(slice.shard_id());
  }
  return shards;
}

// A pull answer with one F32 slice per (shard, values).
grpc::ByteBuffer PullAnswer(const std::vector<std::pair<uint32_t, std::vector<float>>>& slices) {
  v1::PullResponse header;
  std::vector<grpc::Slice> payload;
  for (const auto& [shard, values] : slices) {
    v1::ShardSlice* slice = header.add_slices();
    slice->set_table_id(kTableId);
    slice->set_shard_id(shard);
    slice->mutable_values()->set_encoding(v1::ENCODING_F32);
    slice->mutable_values()->set_num_elements(values.size());
    slice->mutable_values()->set_payload_bytes(values.size() * sizeof(float));
    payload.emplace_back(values.data(), values.size() * sizeof(float));
  }
  return MakeFrame(header, payload);
}

ServerReply Ok(grpc::ByteBuffer response = grpc::ByteBuffer()) {
  ServerReply reply;
  reply.response = std::move(response);
  return reply;
}

ServerReply Refused(grpc::StatusCode code, const std::string& message,
                    std::optional<uint64_t> server_epoch = std::nullopt) {
  ServerReply reply;
  reply.status = grpc::Status(code, message);
  if (server_epoch) reply.trailing_metadata.emplace("ps-epoch", absl::StrCat(*server_epoch));
  return reply;
}

OperationExecutorOptions Options() {
  OperationExecutorOptions options;
  options.sender.worker_id = kWorkerId;
  options.sender.incarnation = kIncarnation;
  return options;
}

bool AllDone(const Operation& op) {
  return std::all_of(op.parts.begin(), op.parts.end(),
                     [](const ShardPart& part) { return part.done; });
}

// A PushPull answer: the push's answer and one F32 pull slice per (shard, values).
grpc::ByteBuffer PushPullAnswer(
    const std::vector<std::pair<uint32_t, std::vector<float>>>& slices) {
  v1::PullResponse pull;
  FrameReader::Open(PullAnswer(slices), &pull).IgnoreError();
  v1::PushPullResponse header;
  *header.mutable_pull() = pull;
  std::vector<grpc::Slice> payload;
  for (const auto& [shard, values] : slices) {
    payload.emplace_back(values.data(), values.size() * sizeof(float));
  }
  return MakeFrame(header, payload);
}

TEST(OperationExecutorTest, PushPullSendsBothHalvesInOneRequestAndRetriesWithTheSameSeq) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2}));
  maps.QueueMap(MakeMap(6, {1, 2}, {1, 1}));  // Shard 1 moves to server 1.
  std::vector<float> out(4, -1.0f);
  FakeTransport transport([&](const SentCall& call) {
    v1::PushPullRequest header;
    ReadFrame(call.request, &header);
    if (call.address == "b:2") return Refused(grpc::StatusCode::ABORTED, "moved", 6);
    std::vector<std::pair<uint32_t, std::vector<float>>> answer;
    for (const v1::ShardSlice& slice : header.pull().slices()) {
      answer.push_back({slice.shard_id(), {10.0f + slice.shard_id(), 20.0f + slice.shard_id()}});
    }
    return Ok(PushPullAnswer(answer));
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(4);
  const std::vector<float> gradient = {0, 1, 2, 3};
  Operation op = DensePush(table, gradient, 2);
  op.pull_after_push = true;
  op.pull_clock = kClock + 1;
  for (uint32_t shard = 0; shard < 2; ++shard) op.parts[shard].out = out.data() + 2 * shard;

  const ExecutionResult result = executor.Execute(op);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 1u);
  EXPECT_EQ(out, (std::vector<float>{10, 20, 11, 21}));
  EXPECT_EQ(result.traffic.bytes, 4 * sizeof(float));            // Pushed.
  EXPECT_EQ(result.pulled_after_push.bytes, 4 * sizeof(float));  // Pulled.

  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 3u);  // a:1 and b:2, then shard 1 again to a:1.
  EXPECT_EQ(sent[2].address, "a:1");
  for (const SentCall& call : sent) {
    SCOPED_TRACE(call.address);
    EXPECT_EQ(call.method, "/ps.v1.ParameterServer/PushPull");
    v1::PushPullRequest header;
    const std::string payload = ReadFrame(call.request, &header);
    EXPECT_EQ(header.push().seq(), kSeq);
    EXPECT_EQ(header.push().clock(), kClock);
    EXPECT_EQ(header.pull().clock(), kClock + 1);
    EXPECT_EQ(ShardsOf(header.push().slices()), ShardsOf(header.pull().slices()));
    EXPECT_EQ(payload.size(), header.push().slices_size() * 2 * sizeof(float));  // No keys.
  }
  v1::PushPullRequest retried;
  EXPECT_EQ(ReadFrame(sent[2].request, &retried), Bytes({2, 3}));
  EXPECT_EQ(retried.push().epoch(), 6u);
}

TEST(OperationExecutorTest, ALargePushToOneServerStreamsOneMessagePerShard) {
  FakeMapSource maps(MakeMap(5, {1}, {1, 1, 1}));
  FakeTransport transport([](const SentCall&) { return Ok(); });
  OperationExecutorOptions options = Options();
  options.stream_push_bytes = 12 * sizeof(float);  // The push below: 12 values on 3 shards.
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(12);
  std::vector<float> gradient(12);
  for (size_t i = 0; i < gradient.size(); ++i) gradient[i] = static_cast<float>(i);
  Operation op = DensePush(table, gradient, 3);

  const ExecutionResult result = executor.Execute(op);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(AllDone(op));
  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 3u);
  for (uint32_t shard = 0; shard < 3; ++shard) {
    SCOPED_TRACE(shard);
    EXPECT_EQ(sent[shard].method, "/ps.v1.ParameterServer/PushStream");
    v1::PushRequest header;
    EXPECT_EQ(ReadFrame(sent[shard].request, &header),
              Bytes({gradient.begin() + 4 * shard, gradient.begin() + 4 * (shard + 1)}));
    EXPECT_EQ(ShardsOf(header.slices()), std::vector<uint32_t>{shard});
    EXPECT_EQ(header.seq(), kSeq);
    EXPECT_EQ(header.clock(), kClock);
  }

  // One byte under the threshold: a single unary Push.
  options.stream_push_bytes = 12 * sizeof(float) + 1;
  FakeTransport unary([](const SentCall&) { return Ok(); });
  OperationExecutor small(options, maps, unary);
  Operation again = DensePush(table, gradient, 3);
  ASSERT_TRUE(small.Execute(again).status.ok());
  ASSERT_EQ(unary.sent().size(), 1u);
  EXPECT_EQ(unary.sent()[0].method, "/ps.v1.ParameterServer/Push");
}

TEST(OperationExecutorTest, PushSendsOneRequestPerServerAllInFlightTogether) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2, 1, 2}));
  FakeTransport transport;  // Answers only once the test says so.
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(8);
  const std::vector<float> gradient = {0, 1, 2, 3, 4, 5, 6, 7};
  Operation op = DensePush(table, gradient, 4);

  ExecutionResult result;
  std::thread training([&] { result = executor.Execute(op); });
  const bool both_in_flight = transport.AwaitPending(2);
  transport.AnswerPending([](const SentCall&) { return Ok(); });
  training.join();
  ASSERT_TRUE(both_in_flight);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 0u);
  EXPECT_EQ(result.traffic.bytes, 8 * sizeof(float));
  EXPECT_EQ(result.traffic.dense_equivalent_bytes, 8 * sizeof(float));
  EXPECT_TRUE(AllDone(op));
  EXPECT_TRUE(maps.waits().empty());

  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 2u);
  const std::vector<std::vector<uint32_t>> shards = {{0, 2}, {1, 3}};
  const std::vector<std::string> payloads = {Bytes({0, 1, 4, 5}), Bytes({2, 3, 6, 7})};
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(sent[i].address);
    EXPECT_EQ(sent[i].address, i == 0 ? "a:1" : "b:2");
    EXPECT_EQ(sent[i].method, "/ps.v1.ParameterServer/Push");
    v1::PushRequest header;
    EXPECT_EQ(ReadFrame(sent[i].request, &header), payloads[i]);
    EXPECT_EQ(header.epoch(), 5u);
    EXPECT_EQ(header.catalog_version(), 9u);
    EXPECT_EQ(header.membership_version(), 12u);
    EXPECT_EQ(header.worker_id(), kWorkerId);
    EXPECT_EQ(header.incarnation(), kIncarnation);
    EXPECT_EQ(header.seq(), kSeq);
    EXPECT_EQ(header.clock(), kClock);
    EXPECT_EQ(ShardsOf(header.slices()), shards[i]);
    for (const v1::ShardSlice& slice : header.slices()) {
      EXPECT_EQ(slice.num_keys(), 0u);
      EXPECT_EQ(slice.values().encoding(), v1::ENCODING_F32);
      EXPECT_EQ(slice.values().num_elements(), 2u);
      EXPECT_EQ(slice.values().payload_bytes(), 8u);
    }
  }
}

TEST(OperationExecutorTest,
     AbortedWithEpochWaitsForThatEpochAndResendsToTheNewPrimaryWithTheSameSeq) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2}));
  maps.QueueMap(MakeMap(6, {1, 2}, {1, 2}));     // Not yet what server 1 knows.
  maps.QueueMap(MakeMap(7, {1, 2, 3}, {3, 2}));  // Shard 0 moved to server 3.
  FakeTransport transport([](const SentCall& call) {
    return call.address == "a:1"
               ? Refused(grpc::StatusCode::ABORTED, "request epoch 5, server epoch 7", 7)
               : Ok();
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(4);
  const std::vector<float> gradient = {1.5f, 2.5f, 3.5f, 4.5f};
  Operation op = DensePush(table, gradient, 2);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 1u);
  EXPECT_TRUE(AllDone(op));
  EXPECT_EQ(maps.waits().size(), 1u);  // One wait, until epoch 7 (epoch 6 did not satisfy it).
  EXPECT_EQ(maps.Map()->epoch(), 7u);
  EXPECT_TRUE(maps.reports().empty());
  // Server 2 accepted its part at once; only shard 0 is resent, to its new primary.
  EXPECT_EQ(transport.addresses(), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 3u);
  v1::PushRequest first;
  v1::PushRequest resent;
  EXPECT_EQ(ReadFrame(sent[0].request, &first), Bytes({1.5f, 2.5f}));
  EXPECT_EQ(ReadFrame(sent[2].request, &resent), Bytes({1.5f, 2.5f}));
  EXPECT_EQ(first.epoch(), 5u);
  EXPECT_EQ(resent.epoch(), 7u);
  EXPECT_EQ(resent.seq(), kSeq);
  EXPECT_EQ(resent.clock(), kClock);
  EXPECT_EQ(ShardsOf(resent.slices()), std::vector<uint32_t>{0});
  // Traffic counts each part once, when it went through.
  EXPECT_EQ(result.traffic.bytes, 4 * sizeof(float));
}

TEST(OperationExecutorTest, PartialSuccessResendsOnlyTheRefusedServersParts) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2, 1, 2}));
  int refusals_left = 1;
  FakeTransport transport([&](const SentCall& call) {
    if (call.address == "b:2" && refusals_left > 0) {
      --refusals_left;
      return Refused(grpc::StatusCode::ABORTED, "not the primary");  // No epoch named.
    }
    return Ok();
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(8);
  const std::vector<float> gradient = {0, 1, 2, 3, 4, 5, 6, 7};
  Operation op = DensePush(table, gradient, 4);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 1u);
  EXPECT_EQ(transport.addresses(), (std::vector<std::string>{"a:1", "b:2", "b:2"}));
  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 3u);
  v1::PushRequest resent;
  EXPECT_EQ(ReadFrame(sent[2].request, &resent), Bytes({2, 3, 6, 7}));
  EXPECT_EQ(ShardsOf(resent.slices()), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(resent.seq(), kSeq);
  EXPECT_EQ(resent.epoch(), 5u);
  // No epoch named: a newer map or the first backoff step, whichever comes first.
  EXPECT_EQ(maps.waits(), std::vector<absl::Duration>{absl::Milliseconds(5)});
  EXPECT_EQ(result.traffic.bytes, 8 * sizeof(float));
}

TEST(OperationExecutorTest, UnavailableIsReportedOncePerServerAndEpochAndRetriedWithBackoff) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2}));
  int attempt = 0;
  FakeTransport transport([&](const SentCall& call) {
    if (call.address != "b:2") return Ok();
    ++attempt;
    if (attempt == 2) maps.QueueMap(MakeMap(6, {1, 2}, {1, 2}));  // Arrives during the next wait.
    return attempt <= 3 ? Refused(grpc::StatusCode::UNAVAILABLE, "connection refused") : Ok();
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(4);
  const std::vector<float> gradient = {1, 2, 3, 4};
  Operation op = DensePush(table, gradient, 2);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 3u);
  EXPECT_EQ(transport.addresses(), (std::vector<std::string>{"a:1", "b:2", "b:2", "b:2", "b:2"}));
  // Once at epoch 5 (not again on the second refusal at epoch 5), once at epoch 6.
  const std::vector<std::pair<uint32_t, std::string>> expected_reports = {
      {2, "connection refused"}, {2, "connection refused"}};
  EXPECT_EQ(maps.reports(), expected_reports);
  EXPECT_EQ(maps.waits(),
            (std::vector<absl::Duration>{absl::Milliseconds(5), absl::Milliseconds(10),
                                         absl::Milliseconds(20)}));
}

TEST(OperationExecutorTest, BackoffDoublesUpToHalfASecond) {
  FakeMapSource maps(MakeMap(5, {1}, {1}));
  int refusals_left = 9;
  FakeTransport transport([&](const SentCall&) {
    return refusals_left-- > 0 ? Refused(grpc::StatusCode::ABORTED, "busy") : Ok();
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(2);
  const std::vector<float> gradient = {1, 2};
  Operation op = DensePush(table, gradient, 1);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 9u);
  std::vector<absl::Duration> expected;
  for (int ms : {5, 10, 20, 40, 80, 160, 320, 500, 500}) expected.push_back(absl::Milliseconds(ms));
  EXPECT_EQ(maps.waits(), expected);
}

TEST(OperationExecutorTest, ObserverReportsNoUnreachableServer) {
  FakeMapSource maps(MakeMap(5, {1}, {1}));
  int refusals_left = 1;
  FakeTransport transport([&](const SentCall&) {
    return refusals_left-- > 0 ? Refused(grpc::StatusCode::UNAVAILABLE, "gone")
                               : Ok(PullAnswer({{0, {7, 8}}}));
  });
  OperationExecutorOptions options = Options();
  options.observer = true;
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(2);
  std::vector<float> values(2);
  Operation op = DensePull(table, values, 1);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.retries, 1u);
  EXPECT_EQ(values, (std::vector<float>{7, 8}));
  EXPECT_TRUE(maps.reports().empty());
}

TEST(OperationExecutorTest, NonRetryableErrorIsReturnedNamingTheServer) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2}));
  FakeTransport transport([](const SentCall& call) {
    return call.address == "b:2"
               ? Refused(grpc::StatusCode::INVALID_ARGUMENT, "slice 0 has 3 values; expected 2")
               : Ok();
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(4);
  const std::vector<float> gradient = {1, 2, 3, 4};
  Operation op = DensePush(table, gradient, 2);

  const ExecutionResult result = executor.Execute(op);

  EXPECT_EQ(result.status,
            absl::InvalidArgumentError(
                "push to table 'w': server 2 (b:2): slice 0 has 3 values; expected 2"));
  EXPECT_EQ(result.retries, 0u);
  EXPECT_EQ(transport.sent().size(), 2u);
  EXPECT_TRUE(maps.waits().empty());
  EXPECT_TRUE(op.parts[0].done);
  EXPECT_FALSE(op.parts[1].done);
}

TEST(OperationExecutorTest, ServerDeadlineIsReturnedWithTheRequestTimeout) {
  FakeMapSource maps(MakeMap(5, {1}, {1}));
  FakeTransport transport([](const SentCall&) {
    return Refused(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(2);
  std::vector<float> values(2);
  Operation op = DensePull(table, values, 1);

  const ExecutionResult result = executor.Execute(op);

  EXPECT_EQ(result.status,
            absl::DeadlineExceededError(
                "pull of table 'w' at clock 3: server 1 (a:1) did not answer within 1m (a "
                "BSP/SSP pull waits for slower workers): Deadline Exceeded"));
}

TEST(OperationExecutorTest, DeadlinePassedWhileRefusedNamesTheRetriesAndTheLastReason) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2}));
  FakeTransport transport([](const SentCall& call) {
    return call.address == "a:1" ? Refused(grpc::StatusCode::ABORTED, "epoch mismatch") : Ok();
  });
  OperationExecutorOptions options = Options();
  options.request_timeout = absl::ZeroDuration();  // Spent once the first attempt is back.
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(4);
  const std::vector<float> gradient = {1, 2, 3, 4};
  Operation op = DensePush(table, gradient, 2);

  const ExecutionResult result = executor.Execute(op);

  EXPECT_EQ(result.status,
            absl::DeadlineExceededError("push to table 'w' still failed after 1 retries within 0: "
                                        "ABORTED: epoch mismatch"));
  EXPECT_EQ(result.retries, 1u);
  EXPECT_EQ(transport.sent().size(), 2u);
  EXPECT_TRUE(maps.waits().empty());
}

TEST(OperationExecutorTest, ShardWithoutLivePrimaryWaitsForAMapUntilTheDeadline) {
  FakeMapSource maps(MakeMap(5, {1}, {1, 2}));  // Server 2, shard 1's primary, is dead.
  FakeTransport transport([](const SentCall&) { return Ok(); });
  OperationExecutorOptions options = Options();
  options.request_timeout = absl::ZeroDuration();
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(4);
  const std::vector<float> gradient = {1, 2, 3, 4};
  Operation op = DensePush(table, gradient, 2);

  const ExecutionResult result = executor.Execute(op);

  EXPECT_EQ(result.status,
            absl::DeadlineExceededError("push to table 'w' still failed after 1 retries within 0: "
                                        "UNAVAILABLE: a shard has no live primary in the map"));
  EXPECT_EQ(transport.addresses(), std::vector<std::string>{"a:1"});
  EXPECT_TRUE(op.parts[0].done);
  EXPECT_FALSE(op.parts[1].done);
}

// A server answering a dense pull with values 10 s and 10 s + 1 for each shard s asked.
ServerReply AnswerTwoValuesPerShard(const SentCall& call) {
  v1::PullRequest request;
  ReadFrame(call.request, &request);
  std::vector<std::pair<uint32_t, std::vector<float>>> answer;
  for (const v1::ShardSlice& slice : request.slices()) {
    const float base = 10.0f * static_cast<float>(slice.shard_id());
    answer.push_back({slice.shard_id(), {base, base + 1}});
  }
  return Ok(PullAnswer(answer));
}

TEST(OperationExecutorTest, DensePullScattersEachServersAnswerIntoItsRanges) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2, 1, 2}));
  FakeTransport transport(AnswerTwoValuesPerShard);
  OperationExecutorOptions options = Options();
  options.pull_encoding = v1::ENCODING_F32;
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(8);
  std::vector<float> values(8, -1);
  Operation op = DensePull(table, values, 4);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(values, (std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31}));
  EXPECT_EQ(result.traffic.bytes, 8 * sizeof(float));
  EXPECT_EQ(result.traffic.dense_equivalent_bytes, 8 * sizeof(float));
  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 2u);
  v1::PullRequest request;
  EXPECT_EQ(ReadFrame(sent[1].request, &request), "");  // Dense pulls carry no payload.
  EXPECT_EQ(sent[1].method, "/ps.v1.ParameterServer/Pull");
  EXPECT_EQ(request.epoch(), 5u);
  EXPECT_EQ(request.catalog_version(), 9u);
  EXPECT_EQ(request.worker_id(), kWorkerId);
  EXPECT_EQ(request.incarnation(), kIncarnation);
  EXPECT_EQ(request.clock(), kClock);
  EXPECT_EQ(request.value_encoding(), v1::ENCODING_F32);
  EXPECT_EQ(ShardsOf(request.slices()), (std::vector<uint32_t>{1, 3}));
}

TEST(OperationExecutorTest, LargePullToOneServerIsSpreadOverItsConnections) {
  // Shards 0, 2, 4, 5 on server 1; 1 and 3 on server 2.
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2, 1, 2, 1, 1}));
  FakeTransport transport(AnswerTwoValuesPerShard);
  OperationExecutorOptions options = Options();
  options.spread_bytes = 3 * 2 * sizeof(float);  // Server 1's share; server 2's is smaller.
  options.connections_per_server = 2;
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(12);
  std::vector<float> values(12, -1);
  Operation op = DensePull(table, values, 6);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(values, (std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51}));
  EXPECT_EQ(result.traffic.bytes, 12 * sizeof(float));
  std::vector<std::tuple<std::string, uint32_t, std::vector<uint32_t>>> calls;
  for (const SentCall& call : transport.sent()) {
    v1::PullRequest request;
    ReadFrame(call.request, &request);
    calls.emplace_back(call.address, call.connection, ShardsOf(request.slices()));
  }
  std::sort(calls.begin(), calls.end());
  using Call = std::tuple<std::string, uint32_t, std::vector<uint32_t>>;
  EXPECT_EQ(calls, (std::vector<Call>{Call{"a:1", 0, {0, 2}}, Call{"a:1", 1, {4, 5}},
                                      Call{"b:2", 0, {1, 3}}}));
}

TEST(OperationExecutorTest, SpreadPushRetriesOnlyTheRefusedConnectionsPartsWithTheSameSeq) {
  FakeMapSource maps(MakeMap(5, {1}, {1, 1, 1, 1}));
  maps.QueueMap(MakeMap(6, {1}, {1, 1, 1, 1}));
  int refused = 0;
  FakeTransport transport([&](const SentCall& call) {
    if (call.connection == 1 && refused++ == 0) {
      return Refused(grpc::StatusCode::ABORTED, "map epoch changed", 6);
    }
    return Ok();
  });
  OperationExecutorOptions options = Options();
  options.spread_bytes = 1;
  options.connections_per_server = 2;
  options.stream_push_bytes = 0;
  OperationExecutor executor(options, maps, transport);
  const v1::TableInfo table = DenseTable(8);
  const std::vector<float> gradient = {1, 2, 3, 4, 5, 6, 7, 8};
  Operation op = DensePush(table, gradient, 4);

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(AllDone(op));
  EXPECT_EQ(result.retries, 1u);
  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 4u);
  std::vector<std::pair<uint64_t, std::vector<uint32_t>>> resent;
  for (const SentCall& call : sent) {
    v1::PushRequest request;
    ReadFrame(call.request, &request);
    EXPECT_EQ(request.seq(), kSeq);
    if (request.epoch() == 6) resent.emplace_back(call.connection, ShardsOf(request.slices()));
  }
  // Connection 0 ({0, 1}) went through; the second attempt resends only shards 2 and 3, spread
  // again by the same rule.
  std::sort(resent.begin(), resent.end());
  EXPECT_EQ(resent, (std::vector<std::pair<uint64_t, std::vector<uint32_t>>>{{0, {2}}, {1, {3}}}));
}

TEST(OperationExecutorTest, SparsePullScattersRowsToTheirKeysPositions) {
  FakeMapSource maps(MakeMap(5, {1}, {1, 1}));
  FakeTransport transport([](const SentCall&) {
    return Ok(PullAnswer({{0, {1, 2, 3, 4}}, {1, {5, 6}}}));
  });
  OperationExecutor executor(Options(), maps, transport);
  v1::TableInfo table;
  table.set_table_id(kTableId);
  table.mutable_spec()->set_name("e");
  table.mutable_spec()->set_kind(v1::TABLE_KIND_SPARSE);
  table.mutable_spec()->set_sparse_dim(2);
  // Keys 50, 70, 90 asked in the order 90, 70, 50: shard 0 holds 50 and 90, shard 1 holds 70.
  const std::vector<uint64_t> shard0_keys = {50, 90};
  const std::vector<uint64_t> shard1_keys = {70};
  const std::vector<size_t> shard0_positions = {2, 0};
  const std::vector<size_t> shard1_positions = {1};
  std::vector<float> values(6, -1);
  Operation op;
  op.table = &table;
  op.clock = kClock;
  op.what = "pull of table 'e' at clock 3";
  ShardPart& first = op.parts.emplace_back();
  first.shard_id = 0;
  first.num_keys = 2;
  first.keys = BorrowedSlice(shard0_keys.data(), 2 * sizeof(uint64_t));
  first.num_values = 4;
  first.out = values.data();
  first.positions = shard0_positions;
  ShardPart& second = op.parts.emplace_back();
  second.shard_id = 1;
  second.num_keys = 1;
  second.keys = BorrowedSlice(shard1_keys.data(), sizeof(uint64_t));
  second.num_values = 2;
  second.out = values.data();
  second.positions = shard1_positions;

  const ExecutionResult result = executor.Execute(op);

  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(values, (std::vector<float>{3, 4, 5, 6, 1, 2}));
  // Keys out, values back.
  EXPECT_EQ(result.traffic.bytes, 3 * sizeof(uint64_t) + 6 * sizeof(float));
  const std::vector<SentCall> sent = transport.sent();
  ASSERT_EQ(sent.size(), 1u);
  v1::PullRequest request;
  const std::string keys = ReadFrame(sent[0].request, &request);
  const std::vector<uint64_t> all_keys = {50, 90, 70};
  EXPECT_EQ(keys, std::string(reinterpret_cast<const char*>(all_keys.data()),
                              all_keys.size() * sizeof(uint64_t)));
  ASSERT_EQ(request.slices_size(), 2);
  EXPECT_EQ(request.slices(0).num_keys(), 2u);
  EXPECT_EQ(request.slices(1).num_keys(), 1u);
}

TEST(OperationExecutorTest, PullAnswerForAnotherShardIsAnError) {
  FakeMapSource maps(MakeMap(5, {1, 2}, {1, 2}));
  FakeTransport transport([](const SentCall& call) {
    return Ok(call.address == "a:1" ? PullAnswer({{0, {1, 2}}}) : PullAnswer({{3, {3, 4}}}));
  });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(4);
  std::vector<float> values(4, -1);
  Operation op = DensePull(table, values, 2);

  const ExecutionResult result = executor.Execute(op);

  v1::ShardSlice answered;  // What server 2 sent for shard 1.
  answered.set_table_id(kTableId);
  answered.set_shard_id(3);
  answered.mutable_values()->set_encoding(v1::ENCODING_F32);
  answered.mutable_values()->set_num_elements(2);
  answered.mutable_values()->set_payload_bytes(8);
  EXPECT_EQ(result.status,
            absl::InternalError(absl::StrCat(
                "pull of table 'w' at clock 3 from server 2: the server's answer for shard 1 "
                "does not match the request (another shard or encoding): ",
                answered.ShortDebugString())));
  EXPECT_EQ(result.retries, 0u);
  EXPECT_EQ(values[0], 1);  // Server 1's answer was fine.
  EXPECT_EQ(values[1], 2);
  EXPECT_EQ(values[2], -1);  // Nothing of the mismatched answer was written.
  EXPECT_EQ(values[3], -1);
}

TEST(OperationExecutorTest, PullAnswerWithTooFewSlicesIsAnError) {
  FakeMapSource maps(MakeMap(5, {1}, {1, 1}));
  FakeTransport transport([](const SentCall&) { return Ok(PullAnswer({{0, {1, 2}}})); });
  OperationExecutor executor(Options(), maps, transport);
  const v1::TableInfo table = DenseTable(4);
  std::vector<float> values(4);
  Operation op = DensePull(table, values, 2);

  const ExecutionResult result = executor.Execute(op);

  EXPECT_EQ(result.status, absl::InternalError("pull of table 'w' at clock 3 from server 1: the "
                                               "server answered 1 slices for 2 requested"));
}

}  // namespace
}  // namespace ps
