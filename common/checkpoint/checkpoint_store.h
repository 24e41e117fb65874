// The checkpoint directory (ps_coordinator --checkpoint_dir): naming, the manifest, verification,
// choosing what to restore, and pruning. Layout:
//
//   <root>/ckpt-<id, 10 digits>/table-<table id>-shard-<shard id>.pss   shard files (shard_file.h)
//   <root>/ckpt-<id>/MANIFEST                                          written last
//
// A checkpoint is complete once its MANIFEST exists: servers write the shard files, then the
// coordinator writes the manifest listing every one with its size and CRC-32C. A directory without
// a manifest is a checkpoint that failed or is still being written; it is never restored.
//
// MANIFEST format, version 1: a message file (common/message_file.h) with magic "PSMANIF1" holding
// a serialised v1.CheckpointManifest (proto/checkpoint.proto), written atomically like the shard
// files.
//
// Stateless functions; safe for concurrent use on different checkpoints.
#ifndef PS_COMMON_CHECKPOINT_CHECKPOINT_STORE_H_
#define PS_COMMON_CHECKPOINT_CHECKPOINT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/checkpoint.pb.h"

namespace ps {

inline constexpr char kManifestName[] = "MANIFEST";

// "<root>/ckpt-0000000042".
std::string CheckpointDirectory(const std::string& root, uint64_t checkpoint_id);
// "table-3-shard-7.pss".
std::string ShardFileName(uint32_t table_id, uint32_t shard_id);

// Parses a checkpoint's name as ps_coordinator --restore and psctl take it: its id ("42") or its
// directory's name ("ckpt-0000000042"). Errors: InvalidArgument.
absl::StatusOr<uint64_t> ParseCheckpointName(absl::string_view name);

// Writes `manifest` into `checkpoint_dir`. Errors: as AtomicFileWriter's.
absl::Status WriteManifest(const std::string& checkpoint_dir,
                           const v1::CheckpointManifest& manifest);
// Errors: NotFound (no manifest: incomplete); DataLoss naming the problem (wrong magic,
// truncated, checksum mismatch, does not parse).
absl::StatusOr<v1::CheckpointManifest> ReadManifest(const std::string& checkpoint_dir);

// The ids of the checkpoints under `root` (complete or not), newest first. A missing root has
// none. Errors: PermissionDenied and the like when `root` cannot be listed.
absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(const std::string& root);

// Checks that `manifest` is whole (one file per table and shard, no file twice) and that every
// file it lists reads back with the listed size and checksum and holds the listed table and
// shard. Reads every byte (files in parallel, one thread per core). Errors: DataLoss (or NotFound for a missing file) naming the file and
// the problem.
absl::Status VerifyCheckpoint(const std::string& checkpoint_dir,
                              const v1::CheckpointManifest& manifest);

struct RestorePoint {
  uint64_t checkpoint_id = 0;
  std::string directory;
  v1::CheckpointManifest manifest;
};

// The newest complete, verified checkpoint under `root` no newer than `newest` (all when
// nullopt). Each checkpoint passed over is described in `skipped` ("ckpt-0000000042: ...why").
// Errors: NotFound when none qualifies (`skipped` says why each failed).
absl::StatusOr<RestorePoint> FindRestorePoint(const std::string& root,
                                              std::optional<uint64_t> newest,
                                              std::vector<std::string>* skipped);

// Removes every checkpoint older than the newest `keep` complete ones (complete or not), and
// every incomplete one older than the newest complete one. Never touches `in_progress`. Returns
// the directories removed. Errors: the first removal that failed (the others are still tried).
absl::StatusOr<std::vector<std::string>> PruneCheckpoints(const std::string& root, int keep,
                                                         std::optional<uint64_t> in_progress);

}  // namespace ps

#endif  // PS_COMMON_CHECKPOINT_CHECKPOINT_STORE_H_
