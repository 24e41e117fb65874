#include "server/table_shard.h"

#include "server/sparse_store.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/partition.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

constexpr uint32_t kShards = 4;

v1::TableInfo Table(v1::TableKind kind, v1::ConsistencySpec::Model model) {
  v1::TableInfo table;
  table.set_table_id(1);
  v1::TableSpec& spec = *table.mutable_spec();
  spec.set_name("t");
  spec.set_kind(kind);
  spec.set_dense_size(40);
  spec.set_sparse_dim(3);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(model);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_CONSTANT);
  spec.mutable_initializer()->set_value(10.0f);
  return table;
}

std::unique_ptr<TableShard> Shard(const v1::TableInfo& table, uint32_t shard_id = 1,
                                  absl::flat_hash_set<uint32_t> live = {1, 2}) {
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Create(table, kShards, shard_id);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::make_unique<TableShard>(*std::move(store), std::move(live));
}

// A one-slice push frame: `keys` (sparse) then `values`, described by a header claiming
// `claimed_values` elements (the true count unless a test lies).
struct Frame {
  v1::ShardSlice slice;
  grpc::ByteBuffer bytes;
};
Frame MakeFrame1(uint32_t shard_id, const std::vector<uint64_t>& keys,
                 const std::vector<float>& values, int64_t claimed_values = -1) {
  v1::PushRequest header;
  v1::ShardSlice* slice = header.add_slices();
  slice->set_table_id(1);
  slice->set_shard_id(shard_id);
  slice->set_num_keys(keys.size());
  const uint64_t count = claimed_values < 0 ? values.size() : claimed_values;
  slice->mutable_values()->set_encoding(v1::ENCODING_F32);
  slice->mutable_values()->set_num_elements(count);
  slice->mutable_values()->set_payload_bytes(count * sizeof(float));
  std::vector<char> payload(keys.size() * 8 + values.size() * 4);
  std::memcpy(payload.data(), keys.data(), keys.size() * 8);
  std::memcpy(payload.data() + keys.size() * 8, values.data(), values.size() * 4);
  grpc::Slice owned(payload.data(), payload.size());  // Copies: outlives `payload`.
  return Frame{*slice, MakeFrame(header, {owned})};
}

absl::StatusOr<PushPayload> Validate(TableShard& shard, const Frame& frame) {
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame.bytes, &header);
  if (!reader.ok()) return reader.status();
  return shard.store().ValidatePush(frame.slice, *reader);
}

// Validates, admits and applies like the service; returns whether it was a duplicate.
absl::StatusOr<bool> PushTo(TableShard& shard, const Frame& frame, PushIdentity who) {
  absl::StatusOr<PushPayload> payload = Validate(shard, frame);
  if (!payload.ok()) return payload.status();
  absl::MutexLock lock(&shard.mu());
  absl::StatusOr<bool> duplicate = shard.AdmitLocked(who);
  if (duplicate.ok() && !*duplicate) shard.ApplyLocked(who, *payload);
  return duplicate;
}

std::vector<float> ReadAll(TableShard& shard, const std::vector<uint64_t>& keys = {}) {
  v1::TensorHeader header;
  uint64_t clock = 0;
  grpc::Slice slice = shard.Read(keys, &header, &clock);
  std::vector<float> values(header.num_elements());
  EXPECT_EQ(slice.size(), values.size() * sizeof(float));
  std::memcpy(values.data(), slice.begin(), slice.size());
  return values;
}

TEST(TableShardTest, DenseAspPushAppliesSgdToTheShardsRange) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP);
  auto shard = Shard(table);
  const uint64_t size = DenseShardRange(40, kShards, 1).size();
  ASSERT_EQ(ReadAll(*shard), std::vector<float>(size, 10.0f));
  std::vector<float> gradient(size);
  for (size_t i = 0; i < size; ++i) gradient[i] = static_cast<float>(i);
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, gradient), {1, 1, 1, 0}).ok());
  const std::vector<float> values = ReadAll(*shard);
  for (size_t i = 0; i < size; ++i) EXPECT_EQ(values[i], 10.0f - static_cast<float>(i));
}

TEST(TableShardTest, ARetriedPushIsAcknowledgedButAppliedOnce) {
  auto shard = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP));
  const std::vector<float> ones(DenseShardRange(40, kShards, 1).size(), 1.0f);
  const Frame frame = MakeFrame1(1, {}, ones);
  EXPECT_EQ(*PushTo(*shard, frame, {1, 1, 5, 0}), false);
  EXPECT_EQ(*PushTo(*shard, frame, {1, 1, 5, 0}), true);
  EXPECT_EQ(*PushTo(*shard, frame, {1, 1, 4, 0}), true) << "an older seq is also a duplicate";
  EXPECT_EQ(ReadAll(*shard)[0], 9.0f);
  // A new incarnation starts a new sequence; the old one is then refused.
  EXPECT_EQ(*PushTo(*shard, frame, {1, 2, 1, 0}), false);
  EXPECT_EQ(PushTo(*shard, frame, {1, 1, 6, 0}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadAll(*shard)[0], 8.0f);
}

TEST(TableShardTest, BspAppliesTheAverageOnceEveryLiveWorkerPushed) {
  auto shard = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_BSP));
  const size_t size = DenseShardRange(40, kShards, 1).size();
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, std::vector<float>(size, 1.0f)), {1, 1, 1, 0}).ok());
  EXPECT_EQ(ReadAll(*shard)[0], 10.0f) << "nothing applied before worker 2 pushes";
  EXPECT_FALSE(shard->Readable(1));
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, std::vector<float>(size, 3.0f)), {2, 1, 1, 0}).ok());
  EXPECT_TRUE(shard->Readable(1));
  EXPECT_EQ(ReadAll(*shard)[0], 8.0f) << "10 - mean(1, 3)";
  // Clock 1: worker 2 dies after worker 1 pushed; the clock completes without it.
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, std::vector<float>(size, 4.0f)), {1, 1, 2, 1}).ok());
  EXPECT_FALSE(shard->Readable(2));
  shard->SetLiveWorkers({1});
  EXPECT_TRUE(shard->Readable(2));
  EXPECT_EQ(ReadAll(*shard)[0], 4.0f);
}

TEST(TableShardTest, SparseRowsAreCreatedOnFirstTouchAndUpdatedPerKey) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_ASP);
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; keys.size() < 2; ++key) {
    if (SparseShardOf(key, kShards) == 2) keys.push_back(key);
  }
  auto shard = Shard(table, 2);
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(2, keys, {1, 2, 3, 4, 5, 6}), {1, 1, 1, 0}).ok());
  EXPECT_EQ(ReadAll(*shard, {keys[1], keys[0]}),
            (std::vector<float>{6, 5, 4, 9, 8, 7}));
}

TEST(TableShardTest, BadPushesAreRejectedAndChangeNothing) {
  auto dense = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP));
  const size_t size = DenseShardRange(40, kShards, 1).size();
  const std::vector<float> before = ReadAll(*dense);

  std::vector<float> short_gradient(size - 1, 1.0f);
  EXPECT_EQ(Validate(*dense, MakeFrame1(1, {}, short_gradient)).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> with_nan(size, 1.0f);
  with_nan[size / 2] = std::numeric_limits<float>::quiet_NaN();
  absl::Status nan = Validate(*dense, MakeFrame1(1, {}, with_nan)).status();
  EXPECT_EQ(nan.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(nan.message().find("finite"), std::string::npos) << nan;
  std::vector<float> with_inf(size, 1.0f);
  with_inf.back() = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Validate(*dense, MakeFrame1(1, {}, with_inf)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The header claims more values than the frame carries.
  EXPECT_EQ(Validate(*dense, MakeFrame1(1, {}, std::vector<float>(size, 1.0f), size + 1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Validate(*dense, MakeFrame1(1, {7}, std::vector<float>(size, 1.0f))).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "dense tables take no keys";
  EXPECT_EQ(ReadAll(*dense), before);

  auto sparse = Shard(Table(v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_ASP), 2);
  uint64_t mine = 0, other = 0;
  while (SparseShardOf(mine, kShards) != 2) ++mine;
  while (SparseShardOf(other, kShards) == 2) ++other;
  EXPECT_EQ(Validate(*sparse, MakeFrame1(2, {other}, {1, 1, 1})).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a key of another shard";
  EXPECT_EQ(Validate(*sparse, MakeFrame1(2, {mine, mine}, {1, 1, 1, 1, 1, 1})).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a key twice";
  EXPECT_EQ(Validate(*sparse, MakeFrame1(2, {mine}, {1, 1})).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a row of the wrong width";
  EXPECT_EQ(sparse->store().table().spec().sparse_dim(), 3u);
  EXPECT_EQ(static_cast<const SparseStore&>(sparse->store()).num_rows(), 0u)
      << "rejected pushes create no rows";
}

}  // namespace
}  // namespace ps
