#include "server/snapshot_sink.h"

#include <string>
#include <vector>

#include "common/frame.h"
#include "common/partition.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

constexpr uint32_t kShards = 2;

v1::TableInfo Table(v1::TableKind kind) {
  v1::TableInfo table;
  table.set_table_id(4);
  v1::TableSpec& spec = *table.mutable_spec();
  spec.set_name("t");
  spec.set_kind(kind);
  spec.set_dense_size(1000);
  spec.set_sparse_dim(3);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAM);
  spec.mutable_optimizer()->set_learning_rate(0.05f);
  spec.mutable_optimizer()->set_beta1(0.9f);
  spec.mutable_optimizer()->set_beta2(0.99f);
  spec.mutable_optimizer()->set_epsilon(1e-8f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_BSP);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_UNIFORM);
  spec.mutable_initializer()->set_min(-1.0f);
  spec.mutable_initializer()->set_max(1.0f);
  spec.mutable_initializer()->set_seed(3);
  return table;
}

std::shared_ptr<TableShard> Shard(const v1::TableInfo& table, ReplicaRole role) {
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Create(table, kShards, 1);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::make_shared<TableShard>(*std::move(store), role, 3, absl::flat_hash_set<uint32_t>{1, 2});
}

// Pushes `value` for every element (dense) or for `keys` (sparse) from `worker` at `clock`.
void PushTo(TableShard& shard, uint32_t worker, uint64_t seq, uint64_t clock, float value,
            const std::vector<uint64_t>& keys = {}) {
  const bool dense = shard.store().table().spec().kind() == v1::TABLE_KIND_DENSE;
  const uint64_t count = dense ? DenseShardRange(1000, kShards, 1).size() : keys.size() * 3;
  v1::PushRequest header;
  v1::ShardSlice* slice = header.add_slices();
  slice->set_table_id(4);
  slice->set_shard_id(1);
  slice->set_num_keys(keys.size());
  slice->mutable_values()->set_encoding(v1::ENCODING_F32);
  slice->mutable_values()->set_num_elements(count);
  slice->mutable_values()->set_payload_bytes(count * sizeof(float));
  std::string payload(reinterpret_cast<const char*>(keys.data()), keys.size() * 8);
  for (uint64_t i = 0; i < count; ++i) {
    const float v = value * static_cast<float>(i % 13 + 1);
    payload.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  grpc::Slice bytes(payload.data(), payload.size());
  v1::PushRequest parsed;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(header, {bytes}), &parsed);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<PushPayload> validated = shard.store().ValidatePush(parsed.slices(0), *reader);
  ASSERT_TRUE(validated.ok()) << validated.status();
  absl::MutexLock lock(&shard.mu());
  const PushIdentity who{worker, 1, seq, clock};
  ASSERT_FALSE(*shard.AdmitLocked(who));
  shard.ApplyLocked(who, *validated);
}

std::string Frame(TableShard& shard) {
  absl::MutexLock lock(&shard.mu());
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
  shard.SerializeLocked(&state, &payload);
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(MakeFrame(state, payload).Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// Feeds `frame` to a sink in pieces of the given sizes (cycled) and finishes it.
absl::Status Feed(SnapshotSink& sink, absl::string_view frame, const std::vector<size_t>& sizes) {
  for (size_t i = 0; !frame.empty(); ++i) {
    const size_t n = std::min(frame.size(), sizes[i % sizes.size()]);
    if (absl::Status added = sink.Add(frame.substr(0, n)); !added.ok()) return added;
    frame.remove_prefix(n);
  }
  FinishedCallbacks finished;
  absl::Status done = sink.Finish(&finished);
  for (auto& callback : finished) callback();
  return done;
}

std::vector<uint64_t> KeysOfShard1() {
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; keys.size() < 5; ++key) {
    if (SparseShardOf(key, kShards) == 1) keys.push_back(key);
  }
  return keys;
}

TEST(SnapshotSinkTest, ADenseSnapshotInChunksOfAnySizeInstallsInPlaceBitwise) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE);
  auto primary = Shard(table, ReplicaRole::kPrimary);
  PushTo(*primary, 1, 1, 0, 0.5f);
  PushTo(*primary, 2, 1, 0, -0.25f);  // Clock 0 completes.
  PushTo(*primary, 1, 2, 1, 0.75f);   // Clock 1 accumulates.
  const std::string frame = Frame(*primary);
  for (const std::vector<size_t>& sizes :
       std::vector<std::vector<size_t>>{{1}, {3, 7}, {4096}, {frame.size()}}) {
    auto learner = Shard(table, ReplicaRole::kLearner);
    SnapshotSink sink(learner);
    ASSERT_TRUE(Feed(sink, frame, sizes).ok());
    EXPECT_EQ(Frame(*learner), frame) << "chunks of " << sizes[0];
    absl::MutexLock lock(&learner->mu());
    EXPECT_TRUE(learner->InstalledLocked());
  }
}

TEST(SnapshotSinkTest, ASparseSnapshotIsStagedAndInstalledBitwise) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_SPARSE);
  auto primary = Shard(table, ReplicaRole::kPrimary);
  const std::vector<uint64_t> keys = KeysOfShard1();
  PushTo(*primary, 1, 1, 0, 0.5f, keys);
  PushTo(*primary, 2, 1, 0, 1.5f, {keys[0], keys[3]});
  PushTo(*primary, 1, 2, 1, 2.5f, {keys[2]});
  const std::string frame = Frame(*primary);
  auto learner = Shard(table, ReplicaRole::kLearner);
  SnapshotSink sink(learner);
  ASSERT_TRUE(Feed(sink, frame, {5, 11}).ok());
  EXPECT_EQ(Frame(*learner), frame);
}

TEST(SnapshotSinkTest, ShortLongAndForeignSnapshotsAreRefusedAndLeaveTheLearnerWaiting) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE);
  auto primary = Shard(table, ReplicaRole::kPrimary);
  PushTo(*primary, 1, 1, 0, 0.5f);
  const std::string frame = Frame(*primary);
  const auto still_waiting = [](TableShard& shard) {
    absl::MutexLock lock(&shard.mu());
    return !shard.InstalledLocked();
  };

  auto learner = Shard(table, ReplicaRole::kLearner);
  SnapshotSink short_sink(learner);
  EXPECT_EQ(Feed(short_sink, absl::string_view(frame).substr(0, frame.size() - 1), {999}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(still_waiting(*learner));

  SnapshotSink long_sink(learner);
  EXPECT_EQ(Feed(long_sink, frame + "x", {999}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(still_waiting(*learner));

  absl::StatusOr<std::unique_ptr<ShardStore>> other = ShardStore::Create(table, kShards, 0);
  ASSERT_TRUE(other.ok());
  auto foreign = std::make_shared<TableShard>(*std::move(other), ReplicaRole::kPrimary, 3,
                                              absl::flat_hash_set<uint32_t>{1});
  SnapshotSink foreign_sink(learner);
  EXPECT_EQ(Feed(foreign_sink, Frame(*foreign), {999}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(still_waiting(*learner));

  // The learner still takes a good snapshot afterwards.
  SnapshotSink good(learner);
  ASSERT_TRUE(Feed(good, frame, {999}).ok());
  EXPECT_EQ(Frame(*learner), frame);
  // A replica that is not a learner waiting for a snapshot takes none.
  SnapshotSink again(learner);
  EXPECT_EQ(Feed(again, frame, {999}).code(), absl::StatusCode::kFailedPrecondition);
}

// Found by snapshot_fuzzer: the whole-frame install (a sparse learner's staged snapshot, a restore
// from a checkpoint file) took bytes beyond the state's arrays that the in-place path refuses.
TEST(SnapshotSinkTest, BytesBeyondTheArraysAreRefusedWholeAndStagedAlike) {
  for (const v1::TableKind kind : {v1::TABLE_KIND_DENSE, v1::TABLE_KIND_SPARSE}) {
    const v1::TableInfo table = Table(kind);
    auto primary = Shard(table, ReplicaRole::kPrimary);
    PushTo(*primary, 1, 1, 0, 0.5f, kind == v1::TABLE_KIND_SPARSE ? KeysOfShard1() : std::vector<uint64_t>{});
    const std::string frame = Frame(*primary);
    const std::string longer = frame + "x";

    auto learner = Shard(table, ReplicaRole::kLearner);
    grpc::Slice slice(longer.data(), longer.size());
    v1::ShardState state;
    absl::StatusOr<FrameReader> reader = FrameReader::Open(grpc::ByteBuffer(&slice, 1), &state);
    ASSERT_TRUE(reader.ok());
    FinishedCallbacks finished;
    {
      absl::MutexLock lock(&learner->mu());
      EXPECT_EQ(learner->InstallLocked(state, *reader, &finished).code(),
                absl::StatusCode::kInvalidArgument)
          << v1::TableKind_Name(kind);
      EXPECT_FALSE(learner->InstalledLocked());
    }
    SnapshotSink sink(learner);
    EXPECT_EQ(Feed(sink, longer, {7}).code(), absl::StatusCode::kInvalidArgument)
        << v1::TableKind_Name(kind);
    SnapshotSink good(learner);
    ASSERT_TRUE(Feed(good, frame, {7}).ok());
    EXPECT_EQ(Frame(*learner), frame);
  }
}

TEST(SnapshotSinkTest, ASparseAccumulatorListedTwiceIsRefused) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_SPARSE);
  auto primary = Shard(table, ReplicaRole::kPrimary);
  const std::vector<uint64_t> keys = KeysOfShard1();
  PushTo(*primary, 1, 1, 0, 0.5f, keys);  // Worker 2 has not pushed: clock 0 accumulates.
  const std::string frame = Frame(*primary);
  grpc::Slice slice(frame.data(), frame.size());
  v1::ShardState state;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(grpc::ByteBuffer(&slice, 1), &state);
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ(state.accumulators_size(), 1);
  // The same accumulator again, its keys and sums appended: found by snapshot_fuzzer, whose
  // input made Serialize read past the sums kept.
  const size_t accumulator_bytes = keys.size() * (sizeof(uint64_t) + 3 * sizeof(float));
  const std::string payload = frame.substr(frame.size() - reader->remaining());
  *state.add_accumulators() = state.accumulators(0);
  const std::string doubled_payload =
      payload + payload.substr(payload.size() - accumulator_bytes);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(MakeFrame(state, {grpc::Slice(doubled_payload.data(), doubled_payload.size())})
                  .Dump(&slices)
                  .ok());
  std::string doubled;
  for (const grpc::Slice& part : slices) {
    doubled.append(reinterpret_cast<const char*>(part.begin()), part.size());
  }
  auto learner = Shard(table, ReplicaRole::kLearner);
  SnapshotSink sink(learner);
  const absl::Status refused = Feed(sink, doubled, {7});
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find("twice"), absl::string_view::npos) << refused;
  SnapshotSink good(learner);
  ASSERT_TRUE(Feed(good, frame, {7}).ok());
  EXPECT_EQ(Frame(*learner), frame);
}

}  // namespace
}  // namespace ps
