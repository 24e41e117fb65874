// A sparse table's rows within one shard (see shard_store.h). Rows are created on first touch,
// by a push or a pull, with the table's initialiser.
#ifndef PS_SERVER_SPARSE_STORE_H_
#define PS_SERVER_SPARSE_STORE_H_

#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/chunked_rows.h"
#include "server/shard_store.h"

namespace ps {

class SparseStore : public ShardStore {
 public:
  SparseStore(const v1::TableInfo& table, uint32_t num_shards, uint32_t shard_id,
              std::unique_ptr<Optimizer> optimizer);

  absl::StatusOr<PushPayload> ValidatePush(const v1::ShardSlice& slice,
                                           FrameReader& reader) const override;
  absl::StatusOr<std::vector<uint64_t>> ValidatePull(const v1::ShardSlice& slice,
                                                     FrameReader& reader) const override;
  void Apply(PushPayload& payload) override;
  void Accumulate(uint64_t clock, PushPayload& payload) override;
  void ApplyAccumulated(uint64_t clock, uint32_t contributors) override;
  grpc::Slice Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                   v1::TensorHeader* header) const override;
  void Serialize(v1::ShardState* state, std::vector<grpc::Slice>* payload) const override;
  absl::Status Install(const v1::ShardState& state, FrameReader& reader) override;

  size_t num_rows() const { return index_.size(); }
  uint64_t MemoryBytes() const override;
  uint64_t GrowthBytes(const PushPayload& payload) const override;

 private:
  uint64_t RowBytes() const;
  // The row index of `key`, created with the initialiser if new.
  size_t Row(uint64_t key);
  void ApplyRow(uint64_t key, absl::Span<const float> gradient);

  // Per pending BSP clock: the summed gradient of each key pushed for it.
  struct Accumulator {
    absl::flat_hash_map<uint64_t, size_t> offsets;
    std::vector<float> sums;
  };

  const uint32_t num_shards_;
  const size_t dim_;
  absl::flat_hash_map<uint64_t, size_t> index_;
  // Row r of the table is row r of values_, of each slot, and of steps_.
  ChunkedRows<float> values_;
  std::vector<ChunkedRows<float>> slots_;
  // Updates applied to each row (Adam's bias correction).
  ChunkedRows<uint64_t> steps_{1};
  std::map<uint64_t, Accumulator> accumulators_;
};

}  // namespace ps

#endif  // PS_SERVER_SPARSE_STORE_H_
