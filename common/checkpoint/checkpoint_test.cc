#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/frame.h"
#include "common/checkpoint/file_damage.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

namespace fs = std::filesystem;

std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

v1::ShardState State(uint32_t table, uint32_t shard) {
  v1::ShardState state;
  state.set_table_id(table);
  state.set_shard_id(shard);
  state.set_log_index(17);
  state.set_dense_step(5);
  state.add_dedupe()->set_worker_id(3);
  return state;
}

std::vector<grpc::Slice> Payload(size_t floats, float base) {
  std::vector<float> values(floats);
  for (size_t i = 0; i < floats; ++i) values[i] = base + 0.25f * i;
  return {grpc::Slice(values.data(), values.size() * sizeof(float))};
}

std::string PayloadBytes(const grpc::ByteBuffer& frame, v1::ShardState* state) {
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, state);
  EXPECT_TRUE(reader.ok());
  std::string bytes(reader->remaining(), '\0');
  EXPECT_TRUE(reader->Read(bytes.data(), bytes.size()).ok());
  return bytes;
}

TEST(ShardFileTest, RoundTripsBitwise) {
  const std::string dir = FreshDir("round_trip");
  const std::string path = dir + "/" + ShardFileName(2, 5);
  const std::vector<grpc::Slice> payload = Payload(1000, 1.5f);
  absl::StatusOr<ShardFileInfo> written = WriteShardFile(path, State(2, 5), payload);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->size_bytes, fs::file_size(path));

  absl::StatusOr<ShardFile> read = ReadShardFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->info.crc32c, written->crc32c);
  v1::ShardState state;
  const std::string bytes = PayloadBytes(read->frame, &state);
  EXPECT_EQ(state.SerializeAsString(), State(2, 5).SerializeAsString());
  EXPECT_EQ(read->state.SerializeAsString(), State(2, 5).SerializeAsString());
  EXPECT_EQ(bytes, std::string(reinterpret_cast<const char*>(payload[0].begin()),
                               payload[0].size()));
}

TEST(ShardFileTest, DetectsCorruptionTruncationAndForeignFiles) {
  const std::string dir = FreshDir("damage");
  const std::string path = dir + "/f.pss";
  ASSERT_TRUE(WriteShardFile(path, State(1, 0), Payload(256, 0)).ok());
  const auto size = static_cast<std::streamoff>(fs::file_size(path));

  ASSERT_TRUE(FlipByte(path, static_cast<uint64_t>(size / 2)));
  absl::StatusOr<ShardFile> flipped = ReadShardFile(path);
  EXPECT_EQ(flipped.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(flipped.status().message().find("checksum mismatch"), std::string::npos)
      << flipped.status();
  EXPECT_NE(flipped.status().message().find(path), std::string::npos);

  ASSERT_TRUE(WriteShardFile(path, State(1, 0), Payload(256, 0)).ok());
  fs::resize_file(path, size - 7);
  absl::StatusOr<ShardFile> truncated = ReadShardFile(path);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos)
      << truncated.status();

  std::ofstream(path, std::ios::trunc) << "not a checkpoint at all";
  EXPECT_EQ(ReadShardFile(path).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadShardFile(dir + "/missing.pss").status().code(), absl::StatusCode::kNotFound);
}

TEST(ShardFileTest, UnwritableDirectoryIsAnErrorAndLeavesNothing) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  const std::string dir = FreshDir("read_only");
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  absl::StatusOr<ShardFileInfo> written = WriteShardFile(dir + "/f.pss", State(1, 0), Payload(4, 0));
  EXPECT_EQ(written.status().code(), absl::StatusCode::kPermissionDenied) << written.status();
  fs::permissions(dir, fs::perms::owner_all);
}

// A complete checkpoint of `tables` tables x `shards` shards under `root`.
v1::CheckpointManifest WriteCheckpoint(const std::string& root, uint64_t id, uint32_t tables,
                                       uint32_t shards) {
  const std::string dir = CheckpointDirectory(root, id);
  fs::create_directories(dir);
  v1::CheckpointManifest manifest;
  manifest.set_checkpoint_id(id);
  manifest.set_num_shards(shards);
  for (uint32_t table = 1; table <= tables; ++table) {
    manifest.add_tables()->set_table_id(table);
    for (uint32_t shard = 0; shard < shards; ++shard) {
      const std::string name = ShardFileName(table, shard);
      absl::StatusOr<ShardFileInfo> info =
          WriteShardFile(dir + "/" + name, State(table, shard), Payload(64, id + shard));
      EXPECT_TRUE(info.ok());
      v1::ShardCheckpoint* entry = manifest.add_shards();
      entry->set_table_id(table);
      entry->set_shard_id(shard);
      entry->set_path(name);
      entry->set_size_bytes(info->size_bytes);
      entry->set_crc32c(info->crc32c);
    }
  }
  EXPECT_TRUE(WriteManifest(dir, manifest).ok());
  return manifest;
}

TEST(CheckpointStoreTest, ManifestRoundTripsAndNamesParse) {
  const std::string root = FreshDir("manifest");
  const v1::CheckpointManifest manifest = WriteCheckpoint(root, 7, 2, 3);
  absl::StatusOr<v1::CheckpointManifest> read = ReadManifest(CheckpointDirectory(root, 7));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->SerializeAsString(), manifest.SerializeAsString());
  EXPECT_TRUE(VerifyCheckpoint(CheckpointDirectory(root, 7), *read).ok());

  EXPECT_EQ(CheckpointDirectory("/x", 42), "/x/ckpt-0000000042");
  EXPECT_EQ(*ParseCheckpointName("42"), 42u);
  EXPECT_EQ(*ParseCheckpointName("ckpt-0000000042"), 42u);
  EXPECT_EQ(*ParseCheckpointName("/x/ckpt-0000000042"), 42u);
  EXPECT_FALSE(ParseCheckpointName("latest").ok());
  EXPECT_FALSE(ParseCheckpointName("0").ok());
}

TEST(CheckpointStoreTest, RestoreSkipsDamagedCheckpointsNamingTheProblem) {
  const std::string root = FreshDir("restore");
  for (uint64_t id = 1; id <= 4; ++id) WriteCheckpoint(root, id, 2, 4);
  // 4: a flipped byte; 3: a truncated file; 2: no manifest. 1 is whole.
  ASSERT_TRUE(FlipByte(CheckpointDirectory(root, 4) + "/" + ShardFileName(2, 1), 40));
  const std::string truncated = CheckpointDirectory(root, 3) + "/" + ShardFileName(1, 3);
  fs::resize_file(truncated, fs::file_size(truncated) - 1);
  fs::remove(CheckpointDirectory(root, 2) + "/" + kManifestName);
  fs::create_directories(root + "/not-a-checkpoint");

  std::vector<std::string> skipped;
  absl::StatusOr<RestorePoint> point = FindRestorePoint(root, std::nullopt, &skipped);
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_EQ(point->checkpoint_id, 1u);
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped[0].find("ckpt-0000000004"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[0].find("table-2-shard-1.pss: checksum mismatch"), std::string::npos)
      << skipped[0];
  EXPECT_NE(skipped[1].find("table-1-shard-3.pss: truncated"), std::string::npos) << skipped[1];
  EXPECT_NE(skipped[2].find("MANIFEST is missing"), std::string::npos) << skipped[2];

  // Asking for a named one starts there.
  skipped.clear();
  point = FindRestorePoint(root, 1, &skipped);
  ASSERT_TRUE(point.ok());
  EXPECT_TRUE(skipped.empty());
  fs::remove(CheckpointDirectory(root, 1) + "/" + ShardFileName(1, 0));
  skipped.clear();
  point = FindRestorePoint(root, std::nullopt, &skipped);
  EXPECT_EQ(point.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(skipped.size(), 4u);
}

TEST(CheckpointStoreTest, ManifestMissingAShardIsIncomplete) {
  const std::string root = FreshDir("partial");
  v1::CheckpointManifest manifest = WriteCheckpoint(root, 1, 1, 4);
  manifest.mutable_shards()->RemoveLast();
  const absl::Status status = VerifyCheckpoint(CheckpointDirectory(root, 1), manifest);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("no file for table 1 shard 3"), std::string::npos) << status;
}

TEST(CheckpointStoreTest, AManifestNamingAbsurdShardCountsIsRefusedAtOnce) {
  const std::string root = FreshDir("absurd");
  v1::CheckpointManifest manifest = WriteCheckpoint(root, 1, 1, 4);
  manifest.set_num_shards(0);
  EXPECT_EQ(VerifyCheckpoint(CheckpointDirectory(root, 1), manifest).code(),
            absl::StatusCode::kDataLoss);
  manifest.set_num_shards(4000000000u);
  absl::Status status = VerifyCheckpoint(CheckpointDirectory(root, 1), manifest);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("1..65536"), std::string::npos) << status;
  // Read back from disk it goes no further than ReadManifest.
  ASSERT_TRUE(WriteManifest(CheckpointDirectory(root, 1), manifest).ok());
  EXPECT_EQ(ReadManifest(CheckpointDirectory(root, 1)).status().code(),
            absl::StatusCode::kDataLoss);
  manifest.set_num_shards(65536);
  for (int i = 0; i < 100; ++i) *manifest.add_tables() = manifest.tables(0);
  status = VerifyCheckpoint(CheckpointDirectory(root, 1), manifest);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("shard files for 101 tables"), std::string::npos) << status;
}

TEST(CheckpointStoreTest, PruneKeepsTheNewestCompleteOnes) {
  const std::string root = FreshDir("prune");
  for (uint64_t id = 1; id <= 5; ++id) WriteCheckpoint(root, id, 1, 2);
  fs::remove(CheckpointDirectory(root, 2) + "/" + kManifestName);  // Old and incomplete.
  fs::create_directories(CheckpointDirectory(root, 6));             // Newest, being written.
  absl::StatusOr<std::vector<std::string>> removed = PruneCheckpoints(root, 2, std::nullopt);
  ASSERT_TRUE(removed.ok()) << removed.status();
  absl::StatusOr<std::vector<uint64_t>> left = ListCheckpoints(root);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, (std::vector<uint64_t>{6, 5, 4}));
  EXPECT_EQ(removed->size(), 3u);
}

}  // namespace
}  // namespace ps
