#include "worker/model/checkpoint_model.h"

#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/file_util.h"
#include "common/frame.h"
#include "common/partition.h"
#include "common/status_macros.h"

namespace ps {
namespace {

namespace fs = std::filesystem;

// TableSpec.dense_size's documented maximum: a larger one is not a table a cluster could hold.
constexpr uint64_t kMaxDenseSize = uint64_t{1} << 32;

// True when `name` is exactly what CheckpointDirectory makes ("ckpt-" and ten digits).
bool IsCheckpointName(const std::string& name) {
  const absl::StatusOr<uint64_t> id = ParseCheckpointName(name);
  return id.ok() && CheckpointDirectory("", *id) == absl::StrCat("/", name);
}

// "mlp (1, DENSE), emb (2, SPARSE)", for an error that says which tables there are.
std::string ListTables(const v1::CheckpointManifest& manifest) {
  if (manifest.tables().empty()) return "none";
  return absl::StrJoin(manifest.tables(), ", ", [](std::string* out, const v1::TableInfo& table) {
    absl::StrAppend(out, "'", table.spec().name(), "' (id ", table.table_id(), ", ",
                    v1::TableKind_Name(table.spec().kind()), ")");
  });
}

// The manifest's entry for each shard of `table_id`, indexed by shard id.
absl::StatusOr<std::vector<const v1::ShardCheckpoint*>> ShardsOf(
    const std::string& checkpoint_dir, const v1::CheckpointManifest& manifest, uint32_t table_id) {
  // Sized only once the manifest lists a file for each (a manifest is any caller's input).
  if (manifest.num_shards() > static_cast<uint64_t>(manifest.shards_size())) {
    return absl::DataLossError(absl::StrCat(checkpoint_dir, ": the manifest names ",
                                            manifest.num_shards(), " shards and lists ",
                                            manifest.shards_size(), " shard files"));
  }
  std::vector<const v1::ShardCheckpoint*> shards(manifest.num_shards(), nullptr);
  for (const v1::ShardCheckpoint& shard : manifest.shards()) {
    if (shard.table_id() != table_id) continue;
    if (shard.shard_id() >= shards.size() || shards[shard.shard_id()] != nullptr) {
      return absl::DataLossError(absl::StrCat(
          checkpoint_dir, ": the manifest lists table ", table_id, " shard ", shard.shard_id(),
          " twice or beyond its ", manifest.num_shards(), " shards"));
    }
    shards[shard.shard_id()] = &shard;
  }
  for (uint32_t shard = 0; shard < shards.size(); ++shard) {
    if (shards[shard] == nullptr) {
      return absl::DataLossError(absl::StrCat(checkpoint_dir, ": the manifest lists no file for ",
                                              "table ", table_id, " shard ", shard));
    }
  }
  return shards;
}

// Reads one shard file of a dense table of `dense_size` values and copies its range of values
// into `values` (dense_size long).
absl::Status ReadDenseShard(const std::string& checkpoint_dir, const v1::ShardCheckpoint& entry,
                            uint64_t dense_size, uint32_t num_shards, std::vector<float>& values) {
  // The manifest names files inside the directory; a path of its own choosing is not one.
  if (entry.path() != ShardFileName(entry.table_id(), entry.shard_id())) {
    return absl::DataLossError(absl::StrCat(checkpoint_dir, ": the manifest names '", entry.path(),
                                            "' for table ", entry.table_id(), " shard ",
                                            entry.shard_id()));
  }
  const std::string path = absl::StrCat(checkpoint_dir, "/", entry.path());
  PS_ASSIGN_OR_RETURN(const ShardFile file, ReadShardFile(path));
  if (file.info.size_bytes != entry.size_bytes() || file.info.crc32c != entry.crc32c()) {
    return absl::DataLossError(
        absl::StrCat(path, ": the file (", file.info.size_bytes, " bytes, CRC-32C ",
                     file.info.crc32c, ") is not the one the manifest lists (", entry.size_bytes(),
                     " bytes, CRC-32C ", entry.crc32c(), ")"));
  }
  if (file.state.table_id() != entry.table_id() || file.state.shard_id() != entry.shard_id()) {
    return absl::DataLossError(absl::StrCat(path, ": holds table ", file.state.table_id(),
                                            " shard ", file.state.shard_id(), ", not table ",
                                            entry.table_id(), " shard ", entry.shard_id()));
  }
  v1::ShardState state;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(file.frame, &state);
  if (!reader.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", reader.status().message()));
  }
  // The payload has no array lengths of its own: the header's counts and the range size say
  // where the values end. Requiring the whole payload to match catches a file written for
  // another table size or shard count, which would otherwise be read as shifted values.
  const DenseRange range = DenseShardRange(dense_size, num_shards, entry.shard_id());
  const uint64_t range_bytes = range.size() * sizeof(float);
  const uint64_t arrays =
      1 + uint64_t{state.num_slots()} + static_cast<uint64_t>(state.accumulators_size());
  const uint64_t payload_bytes = reader->remaining();
  const bool fits = range_bytes == 0
                        ? payload_bytes == 0
                        : payload_bytes % range_bytes == 0 && payload_bytes / range_bytes == arrays;
  if (!fits) {
    return absl::DataLossError(absl::StrCat(
        path, ": the payload has ", payload_bytes, " bytes; shard ", entry.shard_id(), " of a ",
        dense_size, "-value table over ", num_shards, " shards holds ", range.size(),
        " values, which with ", state.num_slots(), " optimizer slots and ",
        state.accumulators_size(), " accumulators make ", arrays * range_bytes));
  }
  return reader->Read(values.data() + range.begin, range_bytes);
}

}  // namespace

absl::StatusOr<std::string> ChooseCheckpoint(const std::string& path,
                                             std::vector<std::string>* skipped) {
  std::string directory = path;
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    if (fs::exists(directory, error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          directory, " is not a directory: give a checkpoint's directory or a checkpoint root"));
    }
    return absl::NotFoundError(absl::StrCat("no checkpoint directory ", directory));
  }
  const std::string name = fs::path(directory).filename().string();
  if (IsCheckpointName(name) || fs::exists(absl::StrCat(directory, "/", kManifestName), error)) {
    return directory;
  }
  const size_t skipped_before = skipped->size();
  absl::StatusOr<RestorePoint> point = FindRestorePoint(directory, std::nullopt, skipped);
  if (!point.ok()) {
    if (!absl::IsNotFound(point.status()) || skipped->size() == skipped_before) {
      return point.status();
    }
    return absl::NotFoundError(absl::StrCat(
        point.status().message(),
        "; passed over: ", absl::StrJoin(skipped->begin() + skipped_before, skipped->end(), "; ")));
  }
  return point->directory;
}

absl::StatusOr<CheckpointedDenseTable> ReadDenseTableFromCheckpoint(
    const std::string& checkpoint_dir, const std::string& table_name) {
  PS_ASSIGN_OR_RETURN(const v1::CheckpointManifest manifest, ReadManifest(checkpoint_dir));
  const v1::TableInfo* table = nullptr;
  for (const v1::TableInfo& candidate : manifest.tables()) {
    if (candidate.spec().name() == table_name) table = &candidate;
  }
  if (table == nullptr) {
    return absl::NotFoundError(absl::StrCat(checkpoint_dir, " has no table '", table_name,
                                            "'; its tables: ", ListTables(manifest)));
  }
  const v1::TableSpec& spec = table->spec();
  if (spec.kind() != v1::TABLE_KIND_DENSE) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table '", table_name, "' in ", checkpoint_dir, " is ", v1::TableKind_Name(spec.kind()),
        ": only a dense table holds a model's parameter vector"));
  }
  if (manifest.num_shards() == 0 || spec.dense_size() == 0 || spec.dense_size() > kMaxDenseSize) {
    return absl::DataLossError(absl::StrCat(checkpoint_dir, ": the manifest gives table '",
                                            table_name, "' ", spec.dense_size(), " values over ",
                                            manifest.num_shards(), " shards"));
  }
  PS_ASSIGN_OR_RETURN(const std::vector<const v1::ShardCheckpoint*> shards,
                      ShardsOf(checkpoint_dir, manifest, table->table_id()));
  // The values are allocated only once the table's files on disk can hold them: a manifest that
  // names billions of values over small files must not take gigabytes first.
  uint64_t file_bytes = 0;
  for (const v1::ShardCheckpoint* shard : shards) {
    const std::string path = absl::StrCat(checkpoint_dir, "/", shard->path());
    std::error_code error;
    const uintmax_t size = fs::file_size(path, error);
    if (error) return ErrnoToStatus("cannot read the shard file", path, error.value());
    file_bytes += size;
  }
  if (spec.dense_size() > file_bytes / sizeof(float)) {
    return absl::DataLossError(absl::StrCat(
        checkpoint_dir, ": the manifest gives table '", table_name, "' ", spec.dense_size(),
        " values; its shard files hold ", file_bytes, " bytes"));
  }
  CheckpointedDenseTable result;
  result.checkpoint_id = manifest.checkpoint_id();
  result.table = *table;
  result.values.resize(spec.dense_size());
  for (const v1::ShardCheckpoint* shard : shards) {
    PS_RETURN_IF_ERROR(ReadDenseShard(checkpoint_dir, *shard, spec.dense_size(),
                                      manifest.num_shards(), result.values));
  }
  return result;
}

}  // namespace ps
