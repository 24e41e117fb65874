#include "server/checkpoint_writer.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/file_util.h"
#include "spdlog/spdlog.h"

namespace ps {
namespace {

struct Captured {
  v1::ShardState state;
  std::vector<grpc::Slice> payload;
};

// The cut of `shard`'s table, if it is a BSP table the request gives one for.
std::optional<uint64_t> CutOf(const TableShard& shard, const v1::CheckpointRequest& request) {
  const v1::TableInfo& table = shard.store().table();
  if (table.spec().consistency().model() != v1::ConsistencySpec::MODEL_BSP) return std::nullopt;
  const auto it = request.bsp_cut_clocks().find(table.table_id());
  if (it == request.bsp_cut_clocks().end()) return std::nullopt;
  return it->second;
}

// CaptureForCheckpoint, waiting in slices so that `cancelled` is seen soon.
absl::Status Capture(TableShard& shard, std::optional<uint64_t> cut, absl::Time deadline,
                     const std::function<bool()>& cancelled, Captured* part) {
  while (true) {
    const absl::Time slice = std::min(deadline, absl::Now() + absl::Milliseconds(100));
    absl::Status captured = shard.CaptureForCheckpoint(cut, slice, &part->state, &part->payload);
    if (!absl::IsDeadlineExceeded(captured) || absl::Now() >= deadline) return captured;
    if (cancelled()) return absl::CancelledError("the server is shutting down");
  }
}

absl::StatusOr<v1::ShardCheckpoint> Write(const std::string& directory, const Captured& part,
                                          std::optional<uint64_t> cut) {
  const std::string name = ShardFileName(part.state.table_id(), part.state.shard_id());
  absl::StatusOr<ShardFileInfo> info =
      WriteShardFile(absl::StrCat(directory, "/", name), part.state, part.payload);
  if (!info.ok()) return info.status();
  v1::ShardCheckpoint file;
  file.set_table_id(part.state.table_id());
  file.set_shard_id(part.state.shard_id());
  file.set_path(name);
  file.set_size_bytes(info->size_bytes);
  file.set_crc32c(info->crc32c);
  file.set_log_index(part.state.log_index());
  if (cut.has_value()) file.set_completed_clocks(part.state.completed_clocks());
  return file;
}

}  // namespace

absl::StatusOr<v1::CheckpointResponse> WriteCheckpointShards(
    const ReplicaSet& replicas, const v1::CheckpointRequest& request, absl::Time deadline,
    const std::function<bool()>& cancelled) {
  if (request.directory().empty() || request.checkpoint_id() == 0) {
    return absl::InvalidArgumentError("a checkpoint needs a directory and an id > 0");
  }
  const absl::Time start = absl::Now();
  std::error_code error;
  std::filesystem::create_directories(request.directory(), error);
  if (error) {
    return ErrnoToStatus("cannot create checkpoint directory", request.directory(),
                         error.value());
  }
  const std::vector<std::shared_ptr<TableShard>> led = replicas.LedShards();
  v1::CheckpointResponse response;
  uint64_t bytes = 0;
  // BSP parts with a cut: every copy at its cut first, then the writes.
  std::vector<std::pair<Captured, uint64_t>> at_cut;
  for (const std::shared_ptr<TableShard>& shard : led) {
    const std::optional<uint64_t> cut = CutOf(*shard, request);
    if (!cut.has_value()) continue;
    Captured part;
    absl::Status captured = Capture(*shard, cut, deadline, cancelled, &part);
    if (!captured.ok()) return captured;
    at_cut.emplace_back(std::move(part), *cut);
  }
  for (auto& [part, cut] : at_cut) {
    absl::StatusOr<v1::ShardCheckpoint> file = Write(request.directory(), part, cut);
    if (!file.ok()) return file.status();
    bytes += file->size_bytes();
    *response.add_shards() = *std::move(file);
    part.payload.clear();  // Frees the copy as soon as it is on disk.
  }
  for (const std::shared_ptr<TableShard>& shard : led) {
    if (CutOf(*shard, request).has_value()) continue;
    Captured part;
    absl::Status captured = Capture(*shard, std::nullopt, deadline, cancelled, &part);
    if (!captured.ok()) return captured;
    absl::StatusOr<v1::ShardCheckpoint> file = Write(request.directory(), part, std::nullopt);
    if (!file.ok()) return file.status();
    bytes += file->size_bytes();
    *response.add_shards() = *std::move(file);
  }
  std::sort(response.mutable_shards()->begin(), response.mutable_shards()->end(),
            [](const v1::ShardCheckpoint& a, const v1::ShardCheckpoint& b) {
              return std::make_pair(a.table_id(), a.shard_id()) <
                     std::make_pair(b.table_id(), b.shard_id());
            });
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  spdlog::info("checkpoint {}: wrote {} shard files, {:.1f} MB, to {} in {:.3f} s ({:.2f} GB/s)",
               request.checkpoint_id(), response.shards_size(), bytes / 1e6,
               request.directory(), seconds, seconds > 0 ? bytes / seconds / 1e9 : 0.0);
  return response;
}

}  // namespace ps
