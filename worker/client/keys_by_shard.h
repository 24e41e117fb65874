// A sparse push's or pull's keys (and a push's gradient rows) grouped by virtual shard, in
// buffers kept from one call to the next: after the first few calls a PsClient builds its sparse
// requests without allocating, and its request slices borrow these buffers instead of copying
// them (the executor returns only when every request has completed).
//
// One thread only (PsClient's training thread). The spans returned stay valid until the next
// Group* call or the destruction.
#ifndef PS_WORKER_CLIENT_KEYS_BY_SHARD_H_
#define PS_WORKER_CLIENT_KEYS_BY_SHARD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace ps {

class KeysByShard {
 public:
  KeysByShard() = default;
  KeysByShard(const KeysByShard&) = delete;
  KeysByShard& operator=(const KeysByShard&) = delete;

  // Groups `keys` by shard (SparseShardOf over `num_shards`), each with its row of `dim` values
  // from `gradients`; the rows of a repeated key are summed in the order the key appears, into
  // the row of its first appearance. A shard's keys keep the order of their first appearance.
  // REQUIRES: num_shards > 0, gradients.size() == keys.size() * dim.
  void GroupPush(absl::Span<const uint64_t> keys, absl::Span<const float> gradients, size_t dim,
                 uint32_t num_shards);
  // Groups `keys` by shard, each with its index in `keys`; repeated keys stay repeated.
  // REQUIRES: num_shards > 0.
  void GroupPull(absl::Span<const uint64_t> keys, uint32_t num_shards);

  // REQUIRES: shard < the num_shards of the last Group* call.
  absl::Span<const uint64_t> keys(uint32_t shard) const { return shards_[shard].keys; }
  // GroupPush: the summed rows of keys(shard), `dim` values each.
  absl::Span<const float> rows(uint32_t shard) const { return shards_[shard].rows; }
  // GroupPull: the index in `keys` of each of keys(shard).
  absl::Span<const size_t> positions(uint32_t shard) const { return shards_[shard].positions; }

 private:
  struct Shard {
    std::vector<uint64_t> keys;
    std::vector<float> rows;
    std::vector<size_t> positions;
  };
  // One entry of the repeated-key index: an open-addressing table whose entries count only when
  // their `generation` is the current one, so starting a push clears it without touching it.
  struct Slot {
    uint64_t key = 0;
    size_t row = 0;  // In the key's shard.
    uint64_t generation = 0;
  };

  // Empties every shard's lists (keeping their memory) for a call over `num_shards` shards.
  void Reset(uint32_t num_shards);
  // Readies the index for `num_keys` keys: a new generation, grown if too small.
  void ResetIndex(size_t num_keys);
  // The slot holding `key` in the current generation, or the free slot where it belongs.
  Slot& Find(uint64_t key);

  std::vector<Shard> shards_;
  std::vector<Slot> index_;  // Size 0 or a power of two.
  uint64_t generation_ = 0;
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_KEYS_BY_SHARD_H_
