// A dense table's contiguous range within one shard (see shard_store.h).
#ifndef PS_SERVER_DENSE_STORE_H_
#define PS_SERVER_DENSE_STORE_H_

#include <map>

#include "common/partition.h"
#include "server/populated_allocator.h"
#include "server/shard_store.h"

namespace ps {

// A shard-sized array of floats, populated at once when large (populated_allocator.h).
using DenseArray = std::vector<float, PopulatedAllocator<float>>;

class DenseStore : public ShardStore {
 public:
  DenseStore(const v1::TableInfo& table, uint32_t num_shards, uint32_t shard_id,
             std::unique_ptr<Optimizer> optimizer);

  absl::StatusOr<PushPayload> ValidatePush(const v1::ShardSlice& slice,
                                           FrameReader& reader) const override;
  absl::StatusOr<std::vector<uint64_t>> ValidatePull(const v1::ShardSlice& slice,
                                                     FrameReader& reader) const override;
  void Apply(PushPayload& payload) override;
  uint64_t MemoryBytes() const override {
    return range_.size() * sizeof(float) * (1 + slots_.size());
  }
  void Accumulate(uint64_t clock, PushPayload& payload) override;
  void ApplyAccumulated(uint64_t clock, uint32_t contributors) override;
  grpc::Slice Read(const std::vector<uint64_t>& keys, v1::Encoding encoding,
                   v1::TensorHeader* header) const override;
  void Serialize(v1::ShardState* state, std::vector<grpc::Slice>* payload) const override;
  absl::Status Install(const v1::ShardState& state, FrameReader& reader) override;
  absl::StatusOr<std::optional<std::vector<absl::Span<char>>>> BeginInstallInPlace(
      const v1::ShardState& state) override;
  void FinishInstallInPlace(const v1::ShardState& state) override;

 private:
  // Applies `gradient` to elements [first, first + gradient.size()) of the range.
  void ApplyBlock(uint64_t first, absl::Span<const float> gradient);

  const DenseRange range_;
  DenseArray values_;
  std::vector<DenseArray> slots_;
  // Updates applied so far (Adam's bias correction): every update covers the whole range.
  uint64_t step_ = 0;
  // BSP: per pending clock, the sum of the gradients pushed for it.
  std::map<uint64_t, DenseArray> accumulators_;
  // Accumulators being filled by an in-place installation.
  std::map<uint64_t, DenseArray> staged_accumulators_;
  // Zeroed accumulators kept from completed clocks (at most kMaxSpareAccumulators): reusing them
  // avoids allocating and page-faulting a shard-sized buffer per clock, also while several
  // clocks are pending.
  static constexpr size_t kMaxSpareAccumulators = 4;
  std::vector<DenseArray> spare_accumulators_;
};

}  // namespace ps

#endif  // PS_SERVER_DENSE_STORE_H_
