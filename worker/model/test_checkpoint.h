// Test support: writes a complete synthetic checkpoint (common/checkpoint/) of chosen tables, as
// a cluster's servers and coordinator would, so code that reads checkpoints is tested without a
// cluster. Dense shards carry, after their range of values, optimizer slots and a BSP
// accumulator filled with values no table holds, so a reader that took more than the first
// array would be caught; sparse shards hold a few made-up rows.
//
// Stateless functions; thread-safe on different roots.
#ifndef PS_WORKER_MODEL_TEST_CHECKPOINT_H_
#define PS_WORKER_MODEL_TEST_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/checkpoint.pb.h"
#include "proto/types.pb.h"

namespace ps {

// Optimizer slots each dense shard file carries after its values (as Adam's m and v).
inline constexpr int kTestCheckpointSlots = 2;

struct TestTable {
  std::string name;
  // > 0: a DENSE table of these values. Empty: a SPARSE table of rows of sparse_dim floats.
  std::vector<float> dense_values;
  uint32_t sparse_dim = 4;
};

// A dense table named `name` holding `values`.
TestTable DenseTestTable(std::string name, std::vector<float> values);
// A sparse table named `name` with rows of `dim` floats.
TestTable SparseTestTable(std::string name, uint32_t dim);

// Writes checkpoint `checkpoint_id` of `tables` (table ids 1, 2, ... in order) over
// `num_shards` shards into CheckpointDirectory(root, checkpoint_id), creating directories as
// needed, manifest last. Returns the manifest. Errors: what writing reports.
// REQUIRES: num_shards > 0.
absl::StatusOr<v1::CheckpointManifest> WriteTestCheckpoint(const std::string& root,
                                                           uint64_t checkpoint_id,
                                                           uint32_t num_shards,
                                                           const std::vector<TestTable>& tables);

}  // namespace ps

#endif  // PS_WORKER_MODEL_TEST_CHECKPOINT_H_
