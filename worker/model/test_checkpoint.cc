#include "worker/model/test_checkpoint.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "common/checkpoint/shard_file.h"
#include "common/file_util.h"
#include "common/partition.h"
#include "common/status_macros.h"
#include "grpcpp/support/slice.h"

namespace ps {
namespace {

// Keys 0 .. kSparseKeys - 1 are spread over the shards as a cluster would (SparseShardOf).
constexpr uint64_t kSparseKeys = 24;

template <typename T>
grpc::Slice SliceOf(const std::vector<T>& values) {
  return grpc::Slice(values.data(), values.size() * sizeof(T));
}

// A range's values, then the slots and one accumulator, each range.size() floats of values far
// outside any table's.
std::vector<grpc::Slice> DensePayload(const std::vector<float>& values, const DenseRange& range,
                                      v1::ShardState& state) {
  std::vector<grpc::Slice> payload;
  payload.push_back(
      SliceOf(std::vector<float>(values.begin() + range.begin, values.begin() + range.end)));
  state.set_num_slots(kTestCheckpointSlots);
  for (int array = 0; array < kTestCheckpointSlots + 1; ++array) {
    std::vector<float> filler(range.size());
    for (size_t i = 0; i < filler.size(); ++i) filler[i] = 1.0e6f * (array + 1) + i;
    payload.push_back(SliceOf(filler));
  }
  state.add_accumulators()->set_clock(state.completed_clocks() + 1);
  return payload;
}

// The rows of `shard`'s keys, laid out as proto/parameter_server.proto's ShardState says.
std::vector<grpc::Slice> SparsePayload(uint32_t dim, uint32_t num_shards, uint32_t shard,
                                       v1::ShardState& state) {
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; key < kSparseKeys; ++key) {
    if (SparseShardOf(key, num_shards) == shard) keys.push_back(key);
  }
  std::vector<uint64_t> counts(keys.size(), 1);
  std::vector<float> rows;
  for (uint64_t key : keys) {
    for (uint32_t i = 0; i < dim; ++i) rows.push_back(0.5f * key + i);
  }
  state.set_num_rows(keys.size());
  state.set_num_slots(0);
  return {SliceOf(keys), SliceOf(counts), SliceOf(rows)};
}

}  // namespace

TestTable DenseTestTable(std::string name, std::vector<float> values) {
  TestTable table;
  table.name = std::move(name);
  table.dense_values = std::move(values);
  return table;
}

TestTable SparseTestTable(std::string name, uint32_t dim) {
  TestTable table;
  table.name = std::move(name);
  table.sparse_dim = dim;
  return table;
}

absl::StatusOr<v1::CheckpointManifest> WriteTestCheckpoint(const std::string& root,
                                                           uint64_t checkpoint_id,
                                                           uint32_t num_shards,
                                                           const std::vector<TestTable>& tables) {
  const std::string directory = CheckpointDirectory(root, checkpoint_id);
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return ErrnoToStatus("cannot create", directory, error.value());
  v1::CheckpointManifest manifest;
  manifest.set_checkpoint_id(checkpoint_id);
  manifest.set_num_shards(num_shards);
  for (size_t t = 0; t < tables.size(); ++t) {
    const TestTable& table = tables[t];
    const bool dense = !table.dense_values.empty();
    v1::TableInfo* info = manifest.add_tables();
    info->set_table_id(static_cast<uint32_t>(t + 1));
    v1::TableSpec* spec = info->mutable_spec();
    spec->set_name(table.name);
    spec->set_kind(dense ? v1::TABLE_KIND_DENSE : v1::TABLE_KIND_SPARSE);
    if (dense) {
      spec->set_dense_size(table.dense_values.size());
    } else {
      spec->set_sparse_dim(table.sparse_dim);
    }
  }
  for (const v1::TableInfo& info : manifest.tables()) {
    const TestTable& table = tables[info.table_id() - 1];
    for (uint32_t shard = 0; shard < num_shards; ++shard) {
      v1::ShardState state;
      state.set_table_id(info.table_id());
      state.set_shard_id(shard);
      state.set_log_index(100 + shard);
      state.set_completed_clocks(9);
      const std::vector<grpc::Slice> payload =
          table.dense_values.empty()
              ? SparsePayload(table.sparse_dim, num_shards, shard, state)
              : DensePayload(table.dense_values,
                             DenseShardRange(table.dense_values.size(), num_shards, shard), state);
      const std::string name = ShardFileName(info.table_id(), shard);
      PS_ASSIGN_OR_RETURN(const ShardFileInfo written,
                          WriteShardFile(absl::StrCat(directory, "/", name), state, payload));
      v1::ShardCheckpoint* entry = manifest.add_shards();
      entry->set_table_id(info.table_id());
      entry->set_shard_id(shard);
      entry->set_path(name);
      entry->set_size_bytes(written.size_bytes);
      entry->set_crc32c(written.crc32c);
      entry->set_log_index(state.log_index());
      entry->set_completed_clocks(state.completed_clocks());
    }
  }
  PS_RETURN_IF_ERROR(WriteManifest(directory, manifest));
  return manifest;
}

}  // namespace ps
