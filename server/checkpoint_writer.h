// A server's part of a checkpoint: every table's part of every shard it leads, each written to
// its own shard file (common/checkpoint/shard_file.h) in the checkpoint's directory. Plain logic
// over a ReplicaSet, driven by unit tests; the gRPC service calls it on a thread of its own.
//
// Consistency: each part is copied under its shard's lock (TableShard::CaptureForCheckpoint) and
// written after the lock is released, so pushes are held up only for the copy. Parts of BSP
// tables with a cut clock are all copied first (each at the moment its shard completes the cut
// clock), then written; the others are copied and written one at a time, so the extra memory is
// one shard's state beyond the BSP parts.
//
// Thread-safety: thread-compatible: one checkpoint at a time per ReplicaSet (the service
// enforces it); safe to run concurrently with the data plane.
#ifndef PS_SERVER_CHECKPOINT_WRITER_H_
#define PS_SERVER_CHECKPOINT_WRITER_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/parameter_server.pb.h"
#include "server/replica_set.h"

namespace ps {

// Writes the checkpoint `request` asks for and returns the files written, ordered by (table,
// shard). `deadline` bounds the wait for BSP cuts; `cancelled` is polled meanwhile (a server
// shutting down). Errors (proto/parameter_server.proto, Checkpoint): InvalidArgument for an
// empty directory or checkpoint id 0; Aborted or DeadlineExceeded from a BSP cut; Cancelled;
// what the filesystem reports, naming the file. Files written before an error stay (no manifest
// will name them).
absl::StatusOr<v1::CheckpointResponse> WriteCheckpointShards(
    const ReplicaSet& replicas, const v1::CheckpointRequest& request, absl::Time deadline,
    const std::function<bool()>& cancelled = [] { return false; });

}  // namespace ps

#endif  // PS_SERVER_CHECKPOINT_WRITER_H_
