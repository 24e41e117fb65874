#include "worker/model/checkpoint_model.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/checkpoint/file_damage.h"
#include "gtest/gtest.h"
#include "worker/model/test_checkpoint.h"

namespace ps {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kShards = 4;
// Not a multiple of kShards: the ranges differ in size.
constexpr size_t kDenseSize = 1001;

std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Values with varied bit patterns (signs, exponents, a negative zero), each distinct.
std::vector<float> DenseValues() {
  std::vector<float> values(kDenseSize);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = (i % 2 == 0 ? 1.0f : -1.0f) * (0.001f * i + 1.0f / (i + 3));
  }
  values[500] = -0.0f;
  return values;
}

bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Checkpoint 7 under `root`: table 1 "emb" (sparse), table 2 "mlp" (1001 dense values), table 3
// "tiny" (3 dense values: shard 3's range is empty).
v1::CheckpointManifest WriteSynthetic(const std::string& root) {
  absl::StatusOr<v1::CheckpointManifest> manifest =
      WriteTestCheckpoint(root, 7, kShards,
                          {SparseTestTable("emb", 8), DenseTestTable("mlp", DenseValues()),
                           DenseTestTable("tiny", {1.5f, -2.5f, 3.25f})});
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  return manifest.ok() ? *manifest : v1::CheckpointManifest();
}

// Replaces a listed shard file and its manifest entry, as a checkpoint whose every checksum
// holds but whose content is wrong.
void ReplaceShard(const std::string& dir, v1::CheckpointManifest manifest, uint32_t table,
                  uint32_t shard, const v1::ShardState& state,
                  const std::vector<grpc::Slice>& payload) {
  const std::string name = ShardFileName(table, shard);
  absl::StatusOr<ShardFileInfo> written = WriteShardFile(dir + "/" + name, state, payload);
  ASSERT_TRUE(written.ok()) << written.status();
  for (v1::ShardCheckpoint& entry : *manifest.mutable_shards()) {
    if (entry.path() == name) {
      entry.set_size_bytes(written->size_bytes);
      entry.set_crc32c(written->crc32c);
    }
  }
  ASSERT_TRUE(WriteManifest(dir, manifest).ok());
}

TEST(ReadDenseTableFromCheckpointTest, AssemblesTheWholeTableBitwiseFromEveryShard) {
  const std::string root = FreshDir("whole");
  WriteSynthetic(root);
  absl::StatusOr<CheckpointedDenseTable> table =
      ReadDenseTableFromCheckpoint(CheckpointDirectory(root, 7), "mlp");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->checkpoint_id, 7u);
  EXPECT_EQ(table->table.table_id(), 2u);
  EXPECT_EQ(table->table.spec().dense_size(), kDenseSize);
  // Only each file's first array: the slots and accumulator after it hold 1e6 and more.
  EXPECT_TRUE(BitwiseEqual(table->values, DenseValues()));
}

TEST(ReadDenseTableFromCheckpointTest, ATableSmallerThanTheShardCountHasEmptyRanges) {
  const std::string root = FreshDir("tiny");
  WriteSynthetic(root);
  absl::StatusOr<CheckpointedDenseTable> table =
      ReadDenseTableFromCheckpoint(CheckpointDirectory(root, 7), "tiny");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(BitwiseEqual(table->values, {1.5f, -2.5f, 3.25f}));
}

TEST(ReadDenseTableFromCheckpointTest, AnUnknownTableIsNotFoundListingTheTables) {
  const std::string root = FreshDir("unknown");
  WriteSynthetic(root);
  const absl::Status status =
      ReadDenseTableFromCheckpoint(CheckpointDirectory(root, 7), "weights").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  for (const char* part : {"'weights'", "'emb'", "'mlp'", "'tiny'", "TABLE_KIND_SPARSE"}) {
    EXPECT_NE(status.message().find(part), std::string::npos) << part << " in " << status;
  }
}

TEST(ReadDenseTableFromCheckpointTest, ASparseTableIsAFailedPrecondition) {
  const std::string root = FreshDir("sparse");
  WriteSynthetic(root);
  const absl::Status status =
      ReadDenseTableFromCheckpoint(CheckpointDirectory(root, 7), "emb").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("SPARSE"), std::string::npos) << status;
}

TEST(ReadDenseTableFromCheckpointTest, ACorruptShardFileIsDataLossNamingTheFile) {
  const std::string root = FreshDir("corrupt");
  WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  const std::string path = dir + "/" + ShardFileName(2, 1);
  ASSERT_TRUE(FlipByte(path, fs::file_size(path) / 2, 0x10));
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
  // The other tables' files are not read.
  EXPECT_TRUE(ReadDenseTableFromCheckpoint(dir, "tiny").ok());
}

TEST(ReadDenseTableFromCheckpointTest, AMissingShardFileIsNotFoundNamingTheFile) {
  const std::string root = FreshDir("missing_file");
  WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  fs::remove(dir + "/" + ShardFileName(2, 3));
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find(ShardFileName(2, 3)), std::string::npos) << status;
}

TEST(ReadDenseTableFromCheckpointTest, AManifestClaimingMoreValuesThanItsFilesHoldIsDataLoss) {
  const std::string root = FreshDir("too_many_values");
  WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  // A billion values (4 GB) over files of a few hundred bytes: refused before allocating them.
  for (v1::TableInfo& table : *manifest->mutable_tables()) {
    if (table.spec().name() == "mlp") table.mutable_spec()->set_dense_size(1000000000);
  }
  ASSERT_TRUE(WriteManifest(dir, *manifest).ok());
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("its shard files hold"), std::string::npos) << status;
}

TEST(ReadDenseTableFromCheckpointTest, AShardMissingFromTheManifestIsDataLoss) {
  const std::string root = FreshDir("unlisted");
  v1::CheckpointManifest manifest = WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  auto* shards = manifest.mutable_shards();
  for (int i = 0; i < shards->size(); ++i) {
    if ((*shards)[i].table_id() == 2 && (*shards)[i].shard_id() == 2) {
      shards->DeleteSubrange(i, 1);
      break;
    }
  }
  ASSERT_TRUE(WriteManifest(dir, manifest).ok());
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("no file for table 2 shard 2"), std::string::npos) << status;
}

TEST(ReadDenseTableFromCheckpointTest, AFileThatDiffersFromItsListingIsDataLoss) {
  const std::string root = FreshDir("relisted");
  WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  // A whole, self-consistent file, but not the one the manifest lists.
  v1::ShardState state;
  state.set_table_id(2);
  state.set_shard_id(0);
  std::vector<float> values(251, 0.0f);
  ASSERT_TRUE(WriteShardFile(dir + "/" + ShardFileName(2, 0), state,
                             {grpc::Slice(values.data(), values.size() * sizeof(float))})
                  .ok());
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("not the one the manifest lists"), std::string::npos) << status;
}

TEST(ReadDenseTableFromCheckpointTest, AFileHoldingAnotherShardIsDataLoss) {
  const std::string root = FreshDir("other_shard");
  const v1::CheckpointManifest manifest = WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  v1::ShardState state;
  state.set_table_id(2);
  state.set_shard_id(3);
  std::vector<float> values(250, 0.0f);
  ReplaceShard(dir, manifest, 2, 1, state,
               {grpc::Slice(values.data(), values.size() * sizeof(float))});
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("holds table 2 shard 3"), std::string::npos) << status;
}

TEST(ReadDenseTableFromCheckpointTest, APayloadThatDoesNotFitTheRangeIsDataLoss) {
  const std::string root = FreshDir("misfit");
  const v1::CheckpointManifest manifest = WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  // Shard 1 of 1001 values over 4 shards holds 250 values (elements 250..499); a file for
  // another table size or shard count has more or fewer.
  for (const size_t floats : {251, 249, 2 * 250 + 1}) {
    v1::ShardState state;
    state.set_table_id(2);
    state.set_shard_id(1);
    std::vector<float> values(floats, 0.0f);
    ReplaceShard(dir, manifest, 2, 1, state,
                 {grpc::Slice(values.data(), values.size() * sizeof(float))});
    const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << floats << ": " << status;
    EXPECT_NE(status.message().find("holds 250 values"), std::string::npos) << status;
  }
}

TEST(ReadDenseTableFromCheckpointTest, AnIncompleteCheckpointIsNotFound) {
  const std::string root = FreshDir("incomplete");
  WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  fs::remove(dir + "/" + kManifestName);
  const absl::Status status = ReadDenseTableFromCheckpoint(dir, "mlp").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find("incomplete"), std::string::npos) << status;
}

TEST(ChooseCheckpointTest, ACheckpointDirectoryNamesItself) {
  const std::string root = FreshDir("choose_self");
  WriteSynthetic(root);
  const std::string dir = CheckpointDirectory(root, 7);
  std::vector<std::string> skipped;
  EXPECT_EQ(*ChooseCheckpoint(dir, &skipped), dir);
  EXPECT_EQ(*ChooseCheckpoint(dir + "/", &skipped), dir);
  // Incomplete, it is still the one asked for: reading it then says why it cannot be.
  fs::remove(dir + "/" + kManifestName);
  EXPECT_EQ(*ChooseCheckpoint(dir, &skipped), dir);
  EXPECT_TRUE(skipped.empty());
}

TEST(ChooseCheckpointTest, ACopiedCheckpointIsKnownByItsManifest) {
  const std::string root = FreshDir("choose_copy");
  WriteSynthetic(root);
  const std::string copy = root + "/best";
  fs::copy(CheckpointDirectory(root, 7), copy);
  std::vector<std::string> skipped;
  absl::StatusOr<std::string> chosen = ChooseCheckpoint(copy, &skipped);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(*chosen, copy);
  EXPECT_TRUE(ReadDenseTableFromCheckpoint(*chosen, "mlp").ok());
}

TEST(ChooseCheckpointTest, ARootGivesItsNewestCompleteCheckpointSayingWhatItSkipped) {
  const std::string root = FreshDir("choose_root");
  WriteSynthetic(root);
  ASSERT_TRUE(WriteTestCheckpoint(root, 8, kShards, {DenseTestTable("mlp", {1, 2, 3, 4, 5})}).ok());
  // 9 damaged, 10 incomplete: 8 is the newest to read.
  ASSERT_TRUE(WriteTestCheckpoint(root, 9, kShards, {DenseTestTable("mlp", {1, 2, 3, 4, 5})}).ok());
  const std::string damaged = CheckpointDirectory(root, 9) + "/" + ShardFileName(1, 0);
  ASSERT_TRUE(FlipByte(damaged, fs::file_size(damaged) / 2, 0x10));
  fs::create_directories(CheckpointDirectory(root, 10));

  std::vector<std::string> skipped;
  absl::StatusOr<std::string> chosen = ChooseCheckpoint(root + "/", &skipped);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(*chosen, CheckpointDirectory(root, 8));
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].rfind("ckpt-0000000010: ", 0), 0u) << skipped[0];
  EXPECT_NE(skipped[0].find("incomplete"), std::string::npos) << skipped[0];
  EXPECT_EQ(skipped[1].rfind("ckpt-0000000009: ", 0), 0u) << skipped[1];
  EXPECT_NE(skipped[1].find("checksum mismatch"), std::string::npos) << skipped[1];
}

TEST(ChooseCheckpointTest, NothingToReadIsNotFound) {
  const std::string root = FreshDir("choose_none");
  std::vector<std::string> skipped;
  EXPECT_EQ(ChooseCheckpoint(root + "/absent", &skipped).status().code(),
            absl::StatusCode::kNotFound);
  // An empty root, then one whose only checkpoint is incomplete: the error says why.
  EXPECT_EQ(ChooseCheckpoint(root, &skipped).status().code(), absl::StatusCode::kNotFound);
  fs::create_directories(CheckpointDirectory(root, 3));
  const absl::Status status = ChooseCheckpoint(root, &skipped).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find("ckpt-0000000003: "), std::string::npos) << status;

  std::ofstream(root + "/file") << "not a directory";
  EXPECT_EQ(ChooseCheckpoint(root + "/file", &skipped).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
