#include "server/table_shard.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/codec/compression.h"
#include "common/codec/encoder.h"
#include "common/codec/half.h"
#include "common/partition.h"
#include "common/table/initializer.h"
#include "gtest/gtest.h"
#include "server/sparse_store.h"

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
                                  absl::flat_hash_set<uint32_t> live = {1, 2},
                                  ReplicaRole role = ReplicaRole::kPrimary) {
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Create(table, kShards, shard_id);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::make_unique<TableShard>(*std::move(store), role, /*epoch=*/5, std::move(live));
}

// A one-slice push frame: `keys` (sparse) then `values`, described by a header claiming
// `claimed_values` elements (the true count unless a test lies).
struct Frame {
  v1::ShardSlice slice;
  grpc::ByteBuffer bytes;
};
Frame EncodedFrame(uint32_t shard_id, const std::vector<uint64_t>& keys,
                   const v1::TensorHeader& values, const std::string& encoded) {
  v1::PushRequest header;
  v1::ShardSlice* slice = header.add_slices();
  slice->set_table_id(1);
  slice->set_shard_id(shard_id);
  slice->set_num_keys(keys.size());
  *slice->mutable_values() = values;
  std::string payload(reinterpret_cast<const char*>(keys.data()), keys.size() * 8);
  payload += encoded;
  grpc::Slice owned(payload.data(), payload.size());  // Copies: outlives `payload`.
  return Frame{*slice, MakeFrame(header, {owned})};
}

Frame MakeFrame1(uint32_t shard_id, const std::vector<uint64_t>& keys,
                 const std::vector<float>& values, int64_t claimed_values = -1) {
  const uint64_t count = claimed_values < 0 ? values.size() : claimed_values;
  v1::TensorHeader header = DescribeEncoded(Compression(), count);
  return EncodedFrame(shard_id, keys, header,
                      std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
}

// `values` compressed with `codec` ("int8", "topk:0.25", ...; no error feedback carried over).
Frame CompressedFrame(uint32_t shard_id, const std::vector<uint64_t>& keys,
                      const std::vector<float>& values, const char* codec) {
  const Compression compression = *ParseCompression(codec);
  std::vector<float> residual(values.size(), 0.0f);
  std::string encoded(EncodedBytes(compression, values.size()), '\0');
  EXPECT_TRUE(EncodeTensor(compression, values, absl::MakeSpan(residual), encoded.data()).ok());
  return EncodedFrame(shard_id, keys, DescribeEncoded(compression, values.size()), encoded);
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

std::vector<float> ReadAll(TableShard& shard, const std::vector<uint64_t>& keys = {},
                           v1::Encoding encoding = v1::ENCODING_F32) {
  v1::TensorHeader header;
  uint64_t clock = 0;
  grpc::Slice slice = shard.Read(keys, encoding, &header, &clock);
  EXPECT_EQ(header.encoding(), encoding);
  EXPECT_EQ(slice.size(), header.payload_bytes());
  std::vector<float> values(header.num_elements());
  if (encoding == v1::ENCODING_F32) {
    std::memcpy(values.data(), slice.begin(), slice.size());
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t half;
      std::memcpy(&half, slice.begin() + 2 * i, 2);
      values[i] = HalfToFloat(half);
    }
  }
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
  EXPECT_EQ(ReadAll(*shard)[0], 9.0f);
  EXPECT_EQ(*PushTo(*shard, frame, {1, 1, 4, 0}), false)
      << "an older seq that was never applied is applied, not silently acknowledged";
  EXPECT_EQ(*PushTo(*shard, frame, {1, 1, 4, 0}), true);
  EXPECT_EQ(ReadAll(*shard)[0], 8.0f);
  // A new incarnation starts a new sequence; the old one is then refused.
  EXPECT_EQ(*PushTo(*shard, frame, {1, 2, 1, 0}), false);
  EXPECT_EQ(PushTo(*shard, frame, {1, 1, 6, 0}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadAll(*shard)[0], 7.0f);
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

TEST(TableShardTest, TopkPushesChangeOnlyTheCoordinatesSent) {
  auto asp = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP));
  const size_t size = DenseShardRange(40, kShards, 1).size();  // 10 values.
  std::vector<float> gradient(size, 0.5f);
  gradient[3] = 4.0f;
  gradient[7] = -2.0f;
  ASSERT_TRUE(PushTo(*asp, CompressedFrame(1, {}, gradient, "topk:0.2"), {1, 1, 1, 0}).ok());
  std::vector<float> expected(size, 10.0f);
  expected[3] = 6.0f;
  expected[7] = 12.0f;
  EXPECT_EQ(ReadAll(*asp), expected);

  // BSP sums the two workers' sparse contributions before averaging.
  auto bsp = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_BSP));
  std::vector<float> other(size, 0.0f);
  other[3] = 2.0f;
  other[9] = 6.0f;
  ASSERT_TRUE(PushTo(*bsp, CompressedFrame(1, {}, gradient, "topk:0.2"), {1, 1, 1, 0}).ok());
  ASSERT_TRUE(PushTo(*bsp, CompressedFrame(1, {}, other, "topk:0.2"), {2, 1, 1, 0}).ok());
  expected.assign(size, 10.0f);
  expected[3] = 10.0f - (4.0f + 2.0f) / 2;
  expected[7] = 10.0f + 1.0f;
  expected[9] = 10.0f - 3.0f;
  EXPECT_EQ(ReadAll(*bsp), expected);
}

TEST(TableShardTest, BlockAndHalfEncodedPushesDecodeIntoTheUpdate) {
  const size_t size = DenseShardRange(40, kShards, 1).size();
  std::vector<float> gradient(size);
  for (size_t i = 0; i < size; ++i) gradient[i] = 0.25f * static_cast<float>(i) - 1.0f;
  for (const char* codec : {"fp16", "int8:4", "onebit:4"}) {
    auto shard = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP));
    ASSERT_TRUE(PushTo(*shard, CompressedFrame(1, {}, gradient, codec), {1, 1, 1, 0}).ok());
    const std::vector<float> values = ReadAll(*shard);
    // fp16 and int8 are close to the gradient; one bit keeps each sign.
    for (size_t i = 0; i < size; ++i) {
      const float applied = 10.0f - values[i];
      if (std::string(codec) == "onebit:4") {
        EXPECT_EQ(applied > 0, gradient[i] >= 0) << codec << " " << i;
      } else {
        EXPECT_NEAR(applied, gradient[i], 0.02f) << codec << " " << i;
      }
    }
  }
  // Sparse rows accept the dense codecs too.
  auto sparse = Shard(Table(v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_ASP), 2);
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; keys.size() < 2; ++key) {
    if (SparseShardOf(key, kShards) == 2) keys.push_back(key);
  }
  ASSERT_TRUE(
      PushTo(*sparse, CompressedFrame(2, keys, {1, 2, 3, 4, 5, 6}, "fp16"), {1, 1, 1, 0}).ok());
  EXPECT_EQ(ReadAll(*sparse, keys), (std::vector<float>{9, 8, 7, 6, 5, 4}));
  EXPECT_EQ(
      Validate(*sparse, CompressedFrame(2, keys, {1, 2, 3, 4, 5, 6}, "topk:0.5")).status().code(),
      absl::StatusCode::kInvalidArgument)
      << "top-k is for dense tables";
}

TEST(TableShardTest, MalformedCompressedPushesAreRejectedAndChangeNothing) {
  auto shard = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP));
  const size_t size = DenseShardRange(40, kShards, 1).size();
  const std::vector<float> before = ReadAll(*shard);
  std::vector<float> gradient(size, 1.0f);
  // An index past the shard's range.
  v1::TensorHeader topk = DescribeEncoded(*ParseCompression("topk:0.1"), size);
  std::string pair(8, '\0');
  const uint32_t index = static_cast<uint32_t>(size);
  const float value = 1.0f;
  std::memcpy(pair.data(), &index, 4);
  std::memcpy(pair.data() + 4, &value, 4);
  absl::Status beyond = Validate(*shard, EncodedFrame(1, {}, topk, pair)).status();
  EXPECT_EQ(beyond.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(beyond.message().find("table 't' shard 1"), std::string::npos) << beyond;
  // A block scale that is not finite.
  Frame int8 = CompressedFrame(1, {}, gradient, "int8:4");
  v1::TensorHeader header = int8.slice.values();
  std::string bad(header.payload_bytes(), '\0');
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bad.data(), &nan, 4);
  EXPECT_EQ(Validate(*shard, EncodedFrame(1, {}, header, bad)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadAll(*shard), before);
}

TEST(TableShardTest, PullsCanReturnHalfPrecision) {
  auto shard = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP));
  std::vector<float> gradient(DenseShardRange(40, kShards, 1).size(), 0.1f);
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, gradient), {1, 1, 1, 0}).ok());
  const std::vector<float> exact = ReadAll(*shard);
  const std::vector<float> half = ReadAll(*shard, {}, v1::ENCODING_F16);
  ASSERT_EQ(half.size(), exact.size());
  for (size_t i = 0; i < exact.size(); ++i) {
    EXPECT_NE(half[i], exact[i]);
    EXPECT_NEAR(half[i], exact[i], exact[i] * 1e-3f);
  }
}

// Sparse rows, created or not, in either encoding: F16 is each F32 value rounded to half, and
// rows not created yet come from the initialiser without being created.
TEST(TableShardTest, SparsePullsReturnCreatedAndInitialRowsInEitherEncoding) {
  v1::TableInfo table = Table(v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_ASP);
  v1::InitializerSpec& initializer = *table.mutable_spec()->mutable_initializer();
  initializer.set_kind(v1::InitializerSpec::KIND_UNIFORM);
  initializer.set_min(-3.0f);
  initializer.set_max(3.0f);
  initializer.set_seed(7);
  auto shard = Shard(table, 2);
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; keys.size() < 3; ++key) {
    if (SparseShardOf(key, kShards) == 2) keys.push_back(key);
  }
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(2, {keys[0]}, {0.5f, 1.5f, -2.5f}), {1, 1, 1, 0}).ok());
  // keys[0] is created; keys[1] and keys[2] are not, and keys[1] is asked twice.
  const std::vector<uint64_t> asked = {keys[1], keys[0], keys[2], keys[1]};
  const std::vector<float> exact = ReadAll(*shard, asked);
  ASSERT_EQ(exact.size(), asked.size() * 3);
  Initializer expected_initial(table.spec().initializer());
  for (size_t i : {size_t{0}, size_t{2}}) {
    std::vector<float> row(3);
    expected_initial.FillRow(asked[i], absl::MakeSpan(row));
    EXPECT_EQ(std::vector<float>(exact.begin() + 3 * i, exact.begin() + 3 * i + 3), row) << i;
  }
  std::vector<float> created(3);
  expected_initial.FillRow(keys[0], absl::MakeSpan(created));
  EXPECT_EQ(exact[3], created[0] - 0.5f);
  EXPECT_EQ(exact[4], created[1] - 1.5f);
  EXPECT_EQ(exact[5], created[2] + 2.5f);
  EXPECT_EQ(std::vector<float>(exact.begin(), exact.begin() + 3),
            std::vector<float>(exact.begin() + 9, exact.end()));

  const std::vector<float> half = ReadAll(*shard, asked, v1::ENCODING_F16);
  ASSERT_EQ(half.size(), exact.size());
  for (size_t i = 0; i < exact.size(); ++i) {
    EXPECT_EQ(half[i], HalfToFloat(FloatToHalf(exact[i]))) << i;
  }
  // Reads created nothing: only the pushed row exists.
  EXPECT_EQ(static_cast<const SparseStore&>(shard->store()).num_rows(), 1u);
}

// --- Replication: entries from a primary make a backup or learner bitwise equal to it. ---

std::string StateBytes(TableShard& shard) {
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

// Applies a push on the primary and returns its log entry with the validated payload for a
// replica (as the service forwards the request's bytes).
OfferedEntry PrimaryPush(TableShard& primary, TableShard& replica, const Frame& frame,
                         PushIdentity who, std::vector<std::string>* log, std::string name) {
  absl::StatusOr<PushPayload> payload = Validate(primary, frame);
  EXPECT_TRUE(payload.ok()) << payload.status();
  v1::LogEntry entry;
  {
    absl::MutexLock lock(&primary.mu());
    absl::StatusOr<bool> duplicate = primary.AdmitLocked(who);
    EXPECT_TRUE(duplicate.ok() && !*duplicate);
    entry = primary.ApplyLocked(who, *payload);
  }
  absl::StatusOr<PushPayload> forwarded = Validate(replica, frame);
  EXPECT_TRUE(forwarded.ok()) << forwarded.status();
  return OfferedEntry{entry, *std::move(forwarded),
                      [log, name](const absl::Status& status) {
                        log->push_back(status.ok() ? name : name + ":" + status.ToString());
                      }};
}

void Offer(TableShard& replica, OfferedEntry entry) {
  FinishedCallbacks finished;
  {
    absl::MutexLock lock(&replica.mu());
    replica.OfferLocked(std::move(entry), &finished);
  }
  for (auto& callback : finished) callback();
}

v1::TableInfo AdamTable(v1::TableKind kind, v1::ConsistencySpec::Model model) {
  v1::TableInfo table = Table(kind, model);
  table.mutable_spec()->mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_ADAM);
  table.mutable_spec()->mutable_optimizer()->set_learning_rate(0.1f);
  table.mutable_spec()->mutable_optimizer()->set_beta1(0.9f);
  table.mutable_spec()->mutable_optimizer()->set_beta2(0.999f);
  table.mutable_spec()->mutable_optimizer()->set_epsilon(1e-8f);
  return table;
}

TEST(TableShardReplicationTest, BackupAppliesEntriesInLogOrderAndEqualsThePrimaryBitwise) {
  const v1::TableInfo table = AdamTable(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP);
  auto primary = Shard(table);
  auto backup = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);
  const size_t size = DenseShardRange(40, kShards, 1).size();
  std::vector<std::string> log;
  std::vector<OfferedEntry> entries;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    std::vector<float> gradient(size);
    for (size_t i = 0; i < size; ++i) gradient[i] = 0.37f * seq - 0.011f * i;
    entries.push_back(PrimaryPush(*primary, *backup, MakeFrame1(1, {}, gradient),
                                  {1, 1, seq, 0}, &log, "e" + std::to_string(seq)));
  }
  ASSERT_NE(StateBytes(*primary), StateBytes(*backup));
  Offer(*backup, std::move(entries[2]));
  Offer(*backup, std::move(entries[1]));
  EXPECT_TRUE(log.empty()) << "entries 3 and 2 wait for entry 1";
  Offer(*backup, std::move(entries[0]));
  EXPECT_EQ(log, (std::vector<std::string>{"e1", "e2", "e3"}));
  EXPECT_EQ(StateBytes(*primary), StateBytes(*backup));
  absl::MutexLock lock(&backup->mu());
  EXPECT_EQ(backup->LogIndexLocked(), 3u);
  EXPECT_TRUE(*backup->AdmitLocked({1, 1, 2, 0})) << "the dedupe record is replicated";
}

TEST(TableShardReplicationTest, BspClocksCompleteOnBackupsOnlyThroughThePrimarysEntries) {
  const v1::TableInfo table = AdamTable(v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_BSP);
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; keys.size() < 3; ++key) {
    if (SparseShardOf(key, kShards) == 2) keys.push_back(key);
  }
  auto primary = Shard(table, 2, {1, 2});
  // The backup believes only worker 1 is alive: it must still wait for the primary's decision.
  auto backup = Shard(table, 2, {1}, ReplicaRole::kBackup);
  std::vector<std::string> log;
  Offer(*backup, PrimaryPush(*primary, *backup, MakeFrame1(2, {keys[0], keys[1]}, {1, 2, 3, 4, 5, 6}),
                             {1, 1, 1, 0}, &log, "w1"));
  EXPECT_EQ(StateBytes(*primary), StateBytes(*backup)) << "clock 0 still open on both";
  std::optional<v1::LogEntry> completion = primary->SetLiveWorkers({1});
  ASSERT_TRUE(completion.has_value()) << "worker 2 left: clock 0 completes without it";
  ASSERT_EQ(completion->completions_size(), 1);
  EXPECT_EQ(completion->completions(0).contributors(), 1u);
  Offer(*backup, OfferedEntry{*completion, std::nullopt, [&](const absl::Status& s) {
                                log.push_back(s.ok() ? "done" : s.ToString());
                              }});
  EXPECT_EQ(log, (std::vector<std::string>{"w1", "done"}));
  EXPECT_EQ(StateBytes(*primary), StateBytes(*backup));
  EXPECT_TRUE(backup->Readable(1));
}

// Found by push_request_fuzzer: a worker whose first push is ahead of the shard's clock completes
// the clocks before it on the primary with no contributors, and the backup refused such an entry
// (the primary would report it failed on every such push).
TEST(TableShardReplicationTest, ABackupFollowsClocksThePrimaryCompletedWithoutContributors) {
  const v1::TableInfo table = AdamTable(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_BSP);
  auto primary = Shard(table, 1, {1});
  auto backup = Shard(table, 1, {1}, ReplicaRole::kBackup);
  const std::vector<float> gradient(DenseShardRange(40, kShards, 1).size(), 0.5f);
  std::vector<std::string> log;
  OfferedEntry joined = PrimaryPush(*primary, *backup, MakeFrame1(1, {}, gradient), {1, 1, 1, 3},
                                    &log, "w1@3");
  ASSERT_EQ(joined.entry.completions_size(), 4) << "clocks 0, 1 and 2 without it, then 3";
  EXPECT_EQ(joined.entry.completions(0).contributors(), 0u);
  EXPECT_EQ(joined.entry.completions(3).contributors(), 1u);
  Offer(*backup, std::move(joined));
  EXPECT_EQ(log, (std::vector<std::string>{"w1@3"}));
  EXPECT_EQ(StateBytes(*primary), StateBytes(*backup));

  // A completion without contributors of a clock the backup holds a push for is still refused.
  auto other = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);
  auto other_primary = Shard(table, 1, {1, 2});
  Offer(*other, PrimaryPush(*other_primary, *other, MakeFrame1(1, {}, gradient), {1, 1, 1, 0},
                            &log, "w1@0"));
  v1::LogEntry forged;
  forged.set_table_id(table.table_id());
  forged.set_shard_id(1);
  forged.set_log_index(2);
  forged.set_term_epoch(5);
  forged.add_completions()->set_clock(0);
  Offer(*other, OfferedEntry{forged, std::nullopt, [&](const absl::Status& status) {
                               log.push_back(status.ok() ? "forged" : "refused");
                             }});
  EXPECT_EQ(log, (std::vector<std::string>{"w1@3", "w1@0", "refused"}));
}

TEST(TableShardReplicationTest, ANewPrimaryIsFollowedOnlyFromExactlyItsBaseIndex) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP);
  const size_t size = DenseShardRange(40, kShards, 1).size();
  const Frame frame = MakeFrame1(1, {}, std::vector<float>(size, 1.0f));
  auto old_primary = Shard(table);
  auto ahead = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);   // Got entries 1 and 2.
  auto behind = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);  // Got entry 1 only.
  std::vector<std::string> log;
  OfferedEntry first = PrimaryPush(*old_primary, *ahead, frame, {1, 1, 1, 0}, &log, "a1");
  const v1::LogEntry old_entry_1 = first.entry;
  OfferedEntry second = PrimaryPush(*old_primary, *ahead, frame, {1, 1, 2, 0}, &log, "a2");
  OfferedEntry first_copy{first.entry, *Validate(*behind, frame), [&](const absl::Status&) {}};
  Offer(*ahead, std::move(first));
  Offer(*ahead, std::move(second));
  Offer(*behind, std::move(first_copy));
  // `behind` is promoted: its term starts at epoch 9 from log index 1.
  {
    FinishedCallbacks finished;
    absl::MutexLock lock(&behind->mu());
    behind->SetRoleLocked(ReplicaRole::kPrimary, 9, &finished);
  }
  OfferedEntry next = PrimaryPush(*behind, *ahead, frame, {1, 1, 3, 0}, &log, "b2");
  EXPECT_EQ(next.entry.log_index(), 2u);
  EXPECT_EQ(next.entry.term_base_index(), 1u);
  const v1::LogEntry log_entry_b2 = next.entry;
  Offer(*ahead, std::move(next));
  ASSERT_EQ(log.size(), 3u);
  EXPECT_NE(log[2].find("FAILED_PRECONDITION"), std::string::npos)
      << "a copy holding an entry the new primary lacks diverged: " << log[2];
  {
    absl::MutexLock lock(&ahead->mu());
    EXPECT_EQ(ahead->LogIndexLocked(), 2u) << "the refused entry changed nothing";
  }
  // A copy exactly at the base takes up the new term.
  auto at_base = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);
  Offer(*at_base, OfferedEntry{old_entry_1, *Validate(*at_base, frame), [](const absl::Status&) {}});
  OfferedEntry again = PrimaryPush(*behind, *at_base, frame, {1, 1, 4, 0}, &log, "b3");
  // Entry 3 of the new term arrives before entry 2: queued, then both apply.
  v1::LogEntry entry_2 = log_entry_b2;
  Offer(*at_base, std::move(again));
  EXPECT_EQ(log.size(), 3u) << "entry 3 waits for entry 2";
  Offer(*at_base, OfferedEntry{entry_2, *Validate(*at_base, frame), [](const absl::Status&) {}});
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[3], "b3");
  EXPECT_EQ(StateBytes(*behind), StateBytes(*at_base));
}

TEST(TableShardReplicationTest, ALearnerQueuesUntilItsSnapshotIsInstalledThenEqualsThePrimary) {
  const v1::TableInfo table = AdamTable(v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_ASP);
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; keys.size() < 4; ++key) {
    if (SparseShardOf(key, kShards) == 3) keys.push_back(key);
  }
  auto primary = Shard(table, 3);
  auto learner = Shard(table, 3, {1, 2}, ReplicaRole::kLearner);
  std::vector<std::string> log;
  // Before the snapshot: applied on the primary only.
  PrimaryPush(*primary, *learner, MakeFrame1(3, {keys[0], keys[1]}, {1, 2, 3, 4, 5, 6}),
              {1, 1, 1, 0}, &log, "before");
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
  {
    absl::MutexLock lock(&primary->mu());
    primary->SerializeLocked(&state, &payload);
  }
  // After the snapshot: forwarded, and acknowledged by the learner at once.
  Offer(*learner, PrimaryPush(*primary, *learner,
                              MakeFrame1(3, {keys[2], keys[1]}, {7, 8, 9, 10, 11, 12}),
                              {2, 1, 1, 0}, &log, "after"));
  EXPECT_EQ(log, (std::vector<std::string>{"after"}));
  v1::ShardState parsed;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(state, payload), &parsed);
  ASSERT_TRUE(reader.ok()) << reader.status();
  FinishedCallbacks finished;
  {
    absl::MutexLock lock(&learner->mu());
    ASSERT_TRUE(learner->InstallLocked(parsed, *reader, &finished).ok());
    EXPECT_EQ(learner->LogIndexLocked(), 2u) << "the queued entry was applied after the install";
  }
  EXPECT_TRUE(finished.empty()) << "it was acknowledged already";
  EXPECT_EQ(StateBytes(*primary), StateBytes(*learner));
}

TEST(TableShardReplicationTest, ASnapshotOfAnotherShardIsRefusedAndChangesNothing) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP);
  auto other = Shard(table, 2);
  auto learner = Shard(table, 1, {1, 2}, ReplicaRole::kLearner);
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
  {
    absl::MutexLock lock(&other->mu());
    other->SerializeLocked(&state, &payload);
  }
  v1::ShardState parsed;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(state, payload), &parsed);
  ASSERT_TRUE(reader.ok());
  FinishedCallbacks finished;
  absl::MutexLock lock(&learner->mu());
  EXPECT_EQ(learner->InstallLocked(parsed, *reader, &finished).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(learner->InstalledLocked());
  // A truncated state of the right shard is refused too.
  parsed.set_shard_id(1);
  v1::ShardState truncated;
  absl::StatusOr<FrameReader> short_reader =
      FrameReader::Open(MakeFrame(parsed, {}), &truncated);
  ASSERT_TRUE(short_reader.ok());
  EXPECT_EQ(learner->InstallLocked(truncated, *short_reader, &finished).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(learner->InstalledLocked());
}

TEST(TableShardReplicationTest, ABarrierIsAnsweredOnceTheLogReachesItsIndex) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP);
  const size_t size = DenseShardRange(40, kShards, 1).size();
  const Frame frame = MakeFrame1(1, {}, std::vector<float>(size, 1.0f));
  auto primary = Shard(table);
  auto backup = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);
  std::vector<std::string> log;
  OfferedEntry first = PrimaryPush(*primary, *backup, frame, {1, 1, 1, 0}, &log, "e1");
  v1::LogEntry barrier;
  {
    absl::MutexLock lock(&primary->mu());
    barrier = primary->BarrierLocked();
  }
  EXPECT_TRUE(barrier.barrier());
  EXPECT_EQ(barrier.log_index(), 1u);
  Offer(*backup, OfferedEntry{barrier, std::nullopt,
                              [&](const absl::Status& s) { log.push_back(s.ok() ? "b1" : s.ToString()); }});
  EXPECT_TRUE(log.empty()) << "the backup does not hold entry 1 yet";
  Offer(*backup, std::move(first));
  EXPECT_EQ(log, (std::vector<std::string>{"e1", "b1"}));
  Offer(*backup, OfferedEntry{barrier, std::nullopt,
                              [&](const absl::Status& s) { log.push_back(s.ok() ? "b1 again" : s.ToString()); }});
  EXPECT_EQ(log.back(), "b1 again") << "a barrier the log has passed is answered at once";
  EXPECT_EQ(StateBytes(*primary), StateBytes(*backup)) << "barriers change nothing";
}

namespace checkpoint {

// Captures `shard` for a checkpoint (cut or not) with a short deadline.
absl::Status Capture(TableShard& shard, std::optional<uint64_t> cut, v1::ShardState* state,
                     std::vector<grpc::Slice>* payload) {
  return shard.CaptureForCheckpoint(cut, absl::Now() + absl::Milliseconds(50), state, payload);
}

TEST(TableShardCheckpointTest, ABspCutHoldsTheCompletedClocksAndNothingAccumulatedAfter) {
  for (const v1::TableKind kind : {v1::TABLE_KIND_DENSE, v1::TABLE_KIND_SPARSE}) {
    SCOPED_TRACE(v1::TableKind_Name(kind));
    const bool dense = kind == v1::TABLE_KIND_DENSE;
    auto shard = Shard(Table(kind, v1::ConsistencySpec::MODEL_BSP));
    std::vector<uint64_t> keys;
    for (uint64_t key = 0; !dense && keys.size() < 2; ++key) {
      if (SparseShardOf(key, kShards) == 1) keys.push_back(key);
    }
    const size_t size = dense ? DenseShardRange(40, kShards, 1).size() : keys.size() * 3;
    const auto push = [&](uint32_t worker, uint64_t seq, uint64_t clock, float value) {
      ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, keys, std::vector<float>(size, value)),
                         {worker, 1, seq, clock})
                      .ok());
    };
    push(1, 1, 0, 1.0f);
    push(2, 1, 0, 3.0f);  // Clock 0 completes.
    push(1, 2, 1, 5.0f);  // Clock 1 accumulates.
    // The clock-1 state the restored workers must see: clock 0 applied, no trace of clock 1.
    v1::ShardState state;
    std::vector<grpc::Slice> payload;
    ASSERT_TRUE(Capture(*shard, 1, &state, &payload).ok());
    EXPECT_EQ(state.completed_clocks(), 1u);
    EXPECT_EQ(state.pending_size(), 0);
    EXPECT_EQ(state.accumulators_size(), 0);
    // Values (and, sparse, keys and update counts) only: SGD keeps no slots.
    EXPECT_EQ(payload.size(), dense ? 1u : 3u);
    std::vector<grpc::Slice> full;
    v1::ShardState full_state;
    {
      absl::MutexLock lock(&shard->mu());
      shard->SerializeLocked(&full_state, &full);
    }
    EXPECT_EQ(full_state.accumulators_size(), 1);
    ASSERT_GE(full.size(), payload.size());
    for (size_t i = 0; i < payload.size(); ++i) {
      EXPECT_EQ(payload[i].size(), full[i].size());
      EXPECT_EQ(std::memcmp(payload[i].begin(), full[i].begin(), full[i].size()), 0);
    }
    // Past the cut: refused; ahead of it, waited for (and here not reached in time).
    EXPECT_EQ(Capture(*shard, 0, &state, &payload).code(), absl::StatusCode::kAborted);
    EXPECT_EQ(Capture(*shard, 5, &state, &payload).code(), absl::StatusCode::kDeadlineExceeded);
  }
}

TEST(TableShardCheckpointTest, AnIdleBspShardIsCutWhereItStands) {
  auto shard = Shard(Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_BSP));
  const size_t size = DenseShardRange(40, kShards, 1).size();
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, std::vector<float>(size, 1.0f)), {1, 1, 1, 0}).ok());
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, std::vector<float>(size, 1.0f)), {2, 1, 1, 0}).ok());
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
  // Just pushed: not idle yet, so a cut at 3 is waited for.
  EXPECT_EQ(Capture(*shard, 3, &state, &payload).code(), absl::StatusCode::kDeadlineExceeded);
  absl::SleepFor(TableShard::kIdleCut);
  ASSERT_TRUE(Capture(*shard, 3, &state, &payload).ok());
  EXPECT_EQ(state.completed_clocks(), 1u);
  // A clock accumulating is not idle, however long it waits.
  ASSERT_TRUE(PushTo(*shard, MakeFrame1(1, {}, std::vector<float>(size, 1.0f)), {1, 1, 2, 1}).ok());
  absl::SleepFor(TableShard::kIdleCut);
  EXPECT_EQ(Capture(*shard, 3, &state, &payload).code(), absl::StatusCode::kDeadlineExceeded);
  // Without live workers nothing will complete: cut at once.
  shard->SetLiveWorkers({});
  ASSERT_TRUE(Capture(*shard, 3, &state, &payload).ok());
  EXPECT_EQ(state.completed_clocks(), 2u) << "clock 1 completed as its other worker left";
}

TEST(TableShardCheckpointTest, OnlyAPrimaryIsCapturedAndARestoredPrimaryStartsItsTerm) {
  const v1::TableInfo table = Table(v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_ASP);
  auto primary = Shard(table);
  const size_t size = DenseShardRange(40, kShards, 1).size();
  ASSERT_TRUE(PushTo(*primary, MakeFrame1(1, {}, std::vector<float>(size, 2.0f)), {1, 1, 1, 0}).ok());
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
  ASSERT_TRUE(Capture(*primary, std::nullopt, &state, &payload).ok());
  auto backup = Shard(table, 1, {1, 2}, ReplicaRole::kBackup);
  EXPECT_EQ(Capture(*backup, std::nullopt, &state, &payload).code(), absl::StatusCode::kAborted);

  // Restored into a fresh primary at epoch 9 and a fresh backup: both hold the state, the
  // primary's entries carry its new term, and the backup follows them.
  auto restored = Shard(table, 1, {1, 2}, ReplicaRole::kPrimary);
  v1::ShardState parsed;
  for (TableShard* replica : {restored.get(), backup.get()}) {
    absl::StatusOr<FrameReader> reader = FrameReader::Open(MakeFrame(state, payload), &parsed);
    ASSERT_TRUE(reader.ok());
    absl::MutexLock lock(&replica->mu());
    ASSERT_TRUE(replica->RestoreLocked(parsed, *reader, 9).ok());
    EXPECT_EQ(replica->LogIndexLocked(), 1u);
  }
  EXPECT_EQ(ReadAll(*restored), ReadAll(*primary));
  std::vector<std::string> log;
  Offer(*backup, PrimaryPush(*restored, *backup, MakeFrame1(1, {}, std::vector<float>(size, 1.0f)),
                             {3, 1, 1, 0}, &log, "after restore"));
  EXPECT_EQ(log, (std::vector<std::string>{"after restore"}));
  EXPECT_EQ(ReadAll(*backup), ReadAll(*restored));
  EXPECT_EQ(ReadAll(*restored)[0], 10.0f - 2.0f - 1.0f);
}

}  // namespace checkpoint

}  // namespace
}  // namespace ps
