#include "worker/client/keys_by_shard.h"

#include "common/partition.h"

namespace ps {

void KeysByShard::Reset(uint32_t num_shards) {
  if (shards_.size() < num_shards) shards_.resize(num_shards);
  for (Shard& shard : shards_) {
    shard.keys.clear();
    shard.rows.clear();
    shard.positions.clear();
  }
}

void KeysByShard::ResetIndex(size_t num_keys) {
  // At most half full: short probe sequences.
  if (index_.size() < 2 * num_keys) {
    size_t size = 16;
    while (size < 2 * num_keys) size *= 2;
    index_.assign(size, Slot());
    generation_ = 0;
  }
  ++generation_;  // Slot() is generation 0: never current.
}

KeysByShard::Slot& KeysByShard::Find(uint64_t key) {
  const size_t mask = index_.size() - 1;
  // SparseShardOf uses Mix64's low bits modulo the shard count; the high bits spread the keys of
  // one shard as well as any other.
  for (size_t i = static_cast<size_t>(Mix64(key) >> 32) & mask;; i = (i + 1) & mask) {
    Slot& slot = index_[i];
    if (slot.generation != generation_ || slot.key == key) return slot;
  }
}

void KeysByShard::GroupPush(absl::Span<const uint64_t> keys, absl::Span<const float> gradients,
                            size_t dim, uint32_t num_shards) {
  Reset(num_shards);
  ResetIndex(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const float* gradient = gradients.data() + i * dim;
    Shard& shard = shards_[SparseShardOf(keys[i], num_shards)];
    Slot& slot = Find(keys[i]);
    if (slot.generation != generation_) {
      slot = Slot{keys[i], shard.keys.size(), generation_};
      shard.keys.push_back(keys[i]);
      shard.rows.insert(shard.rows.end(), gradient, gradient + dim);
    } else {
      float* row = shard.rows.data() + slot.row * dim;
      for (size_t j = 0; j < dim; ++j) row[j] += gradient[j];
    }
  }
}

void KeysByShard::GroupPull(absl::Span<const uint64_t> keys, uint32_t num_shards) {
  Reset(num_shards);
  for (size_t i = 0; i < keys.size(); ++i) {
    Shard& shard = shards_[SparseShardOf(keys[i], num_shards)];
    shard.keys.push_back(keys[i]);
    shard.positions.push_back(i);
  }
}

}  // namespace ps
