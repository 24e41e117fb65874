// Reading a model's parameters straight out of a checkpoint (common/checkpoint/), without a
// cluster: `ps_worker --mode=evaluate --checkpoint_in=DIR` scores the mlp whose dense table a
// training job's servers checkpointed.
//
// A dense table is split across the checkpoint's virtual shards in contiguous element ranges
// (common/partition.h, DenseShardRange); shard s's file holds its range's values as the first
// array of the ShardState payload, followed by optimizer slots and BSP accumulators, which a
// model does not need and are skipped. The reader joins the ranges back into one vector in
// element order, the layout the table's user (for the mlp, mlp.h) gave it.
//
// Stateless functions; thread-safe. They only read files.
#ifndef PS_WORKER_MODEL_CHECKPOINT_MODEL_H_
#define PS_WORKER_MODEL_CHECKPOINT_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/types.pb.h"

namespace ps {

// Which checkpoint `path` names. One checkpoint's directory (it holds a MANIFEST, or is named
// ckpt-<10-digit id>) names itself, complete or not (reading an incomplete one then fails with
// its reason). Any other directory is a checkpoint root: the newest complete, verified
// checkpoint under it (FindRestorePoint); each newer one passed over is appended to `skipped`
// ("ckpt-0000000042: ...why"). Errors: NotFound when `path` does not exist or a root holds no
// complete checkpoint (the message lists the skipped ones); what listing the root reports.
// REQUIRES: skipped != nullptr.
absl::StatusOr<std::string> ChooseCheckpoint(const std::string& path,
                                             std::vector<std::string>* skipped);

// A dense table as a checkpoint holds it.
struct CheckpointedDenseTable {
  // CheckpointManifest.checkpoint_id.
  uint64_t checkpoint_id = 0;
  // The table's catalog entry at the checkpoint (its id and spec).
  v1::TableInfo table;
  // All spec.dense_size values, element i at index i.
  std::vector<float> values;
};

// Reads the values of the dense table named `table_name` from the checkpoint in
// `checkpoint_dir` (one checkpoint, not a root: see ChooseCheckpoint). Reads the manifest and
// every shard file of that table (no other table's), each checked against the manifest's size
// and CRC-32C, its own checksum, the table and shard it claims, and a payload of exactly the
// arrays its header announces, the first being the shard's DenseShardRange.
// Errors: those of ReadManifest (NotFound: incomplete checkpoint); NotFound when no table has
// that name (the message lists the tables there are); FailedPrecondition for a SPARSE table;
// DataLoss naming the checkpoint or the file and the problem (a shard missing from the
// manifest or listed twice, a file that differs from its listing, holds another table or
// shard, or whose payload does not fit the range); those of ReadShardFile (NotFound, DataLoss
// naming the file).
absl::StatusOr<CheckpointedDenseTable> ReadDenseTableFromCheckpoint(
    const std::string& checkpoint_dir, const std::string& table_name);

}  // namespace ps

#endif  // PS_WORKER_MODEL_CHECKPOINT_MODEL_H_
