#include "common/checkpoint/checkpoint_store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/checkpoint/shard_file.h"
#include "common/file_util.h"
#include "common/message_file.h"

namespace ps {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'P', 'S', 'M', 'A', 'N', 'I', 'F', '1'};
constexpr char kDirPrefix[] = "ckpt-";

std::string Name(uint64_t id) { return absl::StrFormat("%s%010d", kDirPrefix, id); }

}  // namespace

std::string CheckpointDirectory(const std::string& root, uint64_t checkpoint_id) {
  return absl::StrCat(root, "/", Name(checkpoint_id));
}

std::string ShardFileName(uint32_t table_id, uint32_t shard_id) {
  return absl::StrCat("table-", table_id, "-shard-", shard_id, ".pss");
}

absl::StatusOr<uint64_t> ParseCheckpointName(absl::string_view name) {
  // A path names its last component.
  const size_t slash = name.find_last_of('/');
  if (slash != absl::string_view::npos && slash + 1 < name.size()) name = name.substr(slash + 1);
  absl::ConsumePrefix(&name, kDirPrefix);
  uint64_t id = 0;
  if (name.empty() || !absl::SimpleAtoi(name, &id) || id == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' does not name a checkpoint: give its id (e.g. 42) or its "
                                "directory (e.g. ckpt-0000000042)"));
  }
  return id;
}

absl::Status WriteManifest(const std::string& checkpoint_dir,
                           const v1::CheckpointManifest& manifest) {
  return WriteMessageFile(absl::StrCat(checkpoint_dir, "/", kManifestName),
                          absl::string_view(kMagic, sizeof(kMagic)), manifest);
}

absl::StatusOr<v1::CheckpointManifest> ReadManifest(const std::string& checkpoint_dir) {
  const std::string path = absl::StrCat(checkpoint_dir, "/", kManifestName);
  v1::CheckpointManifest manifest;
  absl::Status read = ReadMessageFile(path, absl::string_view(kMagic, sizeof(kMagic)),
                                      "a checkpoint manifest", &manifest);
  if (absl::IsNotFound(read)) {
    return absl::NotFoundError(absl::StrCat(path, " is missing: the checkpoint is incomplete"));
  }
  if (!read.ok()) return read;
  // Readers size arrays by it: a checksum-valid manifest naming billions must go no further.
  if (manifest.num_shards() == 0 || manifest.num_shards() > 65536) {
    return absl::DataLossError(absl::StrCat(path, " names ", manifest.num_shards(),
                                            " shards per table (a cluster has 1..65536)"));
  }
  return manifest;
}

absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(const std::string& root) {
  std::vector<uint64_t> ids;
  std::error_code error;
  if (!fs::exists(root, error)) return ids;
  fs::directory_iterator it(root, error);
  if (error) {
    return ErrnoToStatus("cannot list checkpoint directory", root, error.value());
  }
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kDirPrefix, 0) != 0 || !entry.is_directory(error)) continue;
    absl::StatusOr<uint64_t> id = ParseCheckpointName(name);
    if (id.ok() && Name(*id) == name) ids.push_back(*id);
  }
  std::sort(ids.rbegin(), ids.rend());
  return ids;
}

absl::Status VerifyCheckpoint(const std::string& checkpoint_dir,
                              const v1::CheckpointManifest& manifest) {
  // Checked before anything is sized by them: a manifest naming 2^32 shards or millions of
  // tables must not make the expected set below take gigabytes.
  if (manifest.num_shards() == 0 || manifest.num_shards() > 65536) {
    return absl::DataLossError(absl::StrCat(checkpoint_dir, ": the manifest names ",
                                            manifest.num_shards(),
                                            " shards per table (a cluster has 1..65536)"));
  }
  // The set below then holds at most about a million more entries than the manifest lists.
  if (static_cast<uint64_t>(manifest.tables_size()) * manifest.num_shards() >
      static_cast<uint64_t>(manifest.shards_size()) + (uint64_t{1} << 20)) {
    return absl::DataLossError(absl::StrCat(
        checkpoint_dir, ": the manifest lists ", manifest.shards_size(), " shard files for ",
        manifest.tables_size(), " tables of ", manifest.num_shards(), " shards"));
  }
  std::set<std::pair<uint32_t, uint32_t>> expected;
  for (const v1::TableInfo& table : manifest.tables()) {
    for (uint32_t shard = 0; shard < manifest.num_shards(); ++shard) {
      expected.insert({table.table_id(), shard});
    }
  }
  for (const v1::ShardCheckpoint& shard : manifest.shards()) {
    if (shard.path() != ShardFileName(shard.table_id(), shard.shard_id()) ||
        expected.erase({shard.table_id(), shard.shard_id()}) == 0) {
      return absl::DataLossError(absl::StrCat(checkpoint_dir, ": the manifest lists ",
                                              shard.path(), " for table ", shard.table_id(),
                                              " shard ", shard.shard_id(),
                                              ", which is not one of its tables' shards or "
                                              "is listed twice"));
    }
  }
  if (!expected.empty()) {
    return absl::DataLossError(absl::StrCat(
        checkpoint_dir, ": the manifest lists no file for table ", expected.begin()->first,
        " shard ", expected.begin()->second, " (", expected.size(), " missing)"));
  }
  // Every file read and checksummed, on as many threads as there are cores (reading and CRC-32C
  // overlap); the first problem in manifest order is reported.
  const int files = manifest.shards_size();
  std::vector<absl::Status> problems(files);
  std::atomic<int> next{0};
  const auto verify = [&] {
    for (int i = next++; i < files; i = next++) {
      const v1::ShardCheckpoint& shard = manifest.shards(i);
      const std::string path = absl::StrCat(checkpoint_dir, "/", shard.path());
      v1::ShardState state;
      absl::StatusOr<ShardFileInfo> info = VerifyShardFile(path, &state);
      if (!info.ok()) {
        problems[i] = info.status();
      } else if (info->size_bytes != shard.size_bytes() || info->crc32c != shard.crc32c()) {
        problems[i] = absl::DataLossError(absl::StrCat(
            path, ": the file (", info->size_bytes, " bytes, CRC-32C ", info->crc32c,
            ") is not the one the manifest lists (", shard.size_bytes(), " bytes, CRC-32C ",
            shard.crc32c(), ")"));
      } else if (state.table_id() != shard.table_id() || state.shard_id() != shard.shard_id()) {
        problems[i] = absl::DataLossError(absl::StrCat(path, ": holds table ", state.table_id(),
                                                       " shard ", state.shard_id()));
      }
    }
  };
  const int threads =
      std::max(1, std::min<int>(files, static_cast<int>(std::thread::hardware_concurrency())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(verify);
  verify();
  for (std::thread& thread : pool) thread.join();
  for (const absl::Status& problem : problems) {
    if (!problem.ok()) return problem;
  }
  return absl::OkStatus();
}

absl::StatusOr<RestorePoint> FindRestorePoint(const std::string& root,
                                              std::optional<uint64_t> newest,
                                              std::vector<std::string>* skipped) {
  absl::StatusOr<std::vector<uint64_t>> ids = ListCheckpoints(root);
  if (!ids.ok()) return ids.status();
  if (newest.has_value() && std::find(ids->begin(), ids->end(), *newest) == ids->end()) {
    skipped->push_back(absl::StrCat(Name(*newest), ": no such checkpoint in ", root));
  }
  for (uint64_t id : *ids) {
    if (newest.has_value() && id > *newest) continue;
    RestorePoint point;
    point.checkpoint_id = id;
    point.directory = CheckpointDirectory(root, id);
    absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(point.directory);
    absl::Status problem = manifest.status();
    if (problem.ok() && manifest->checkpoint_id() != id) {
      problem = absl::DataLossError(absl::StrCat("its manifest names checkpoint ",
                                                 manifest->checkpoint_id()));
    }
    if (problem.ok()) problem = VerifyCheckpoint(point.directory, *manifest);
    if (!problem.ok()) {
      skipped->push_back(absl::StrCat(Name(id), ": ", problem.message()));
      continue;
    }
    point.manifest = *std::move(manifest);
    return point;
  }
  return absl::NotFoundError(absl::StrCat("no complete checkpoint in ", root,
                                          newest.has_value() ? absl::StrCat(" up to ", Name(*newest)) : ""));
}

absl::StatusOr<std::vector<std::string>> PruneCheckpoints(const std::string& root, int keep,
                                                         std::optional<uint64_t> in_progress) {
  absl::StatusOr<std::vector<uint64_t>> ids = ListCheckpoints(root);
  if (!ids.ok()) return ids.status();
  std::vector<std::string> removed;
  absl::Status first_error;
  int complete_seen = 0;
  for (uint64_t id : *ids) {  // Newest first.
    if (in_progress.has_value() && id == *in_progress) continue;
    const std::string directory = CheckpointDirectory(root, id);
    std::error_code error;
    const bool complete = fs::exists(absl::StrCat(directory, "/", kManifestName), error);
    // Newer than every complete checkpoint: possibly still being written by a peer; keep.
    if (complete_seen == 0 && !complete) continue;
    if (complete && complete_seen < keep) {
      ++complete_seen;
      continue;
    }
    if (complete) ++complete_seen;
    fs::remove_all(directory, error);
    if (error) {
      if (first_error.ok()) {
        first_error = ErrnoToStatus("cannot remove old checkpoint", directory, error.value());
      }
      continue;
    }
    removed.push_back(directory);
  }
  if (!first_error.ok()) return first_error;
  return removed;
}

}  // namespace ps
