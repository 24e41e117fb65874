// How a table's key space maps onto the cluster's virtual shards. Clients route with these and
// servers validate with them, so both sides always agree. Pure functions; thread-safe.
#ifndef PS_COMMON_PARTITION_H_
#define PS_COMMON_PARTITION_H_

#include <cstdint>

namespace ps {

// Elements [begin, end) of a dense table of `table_size` elements that virtual shard `shard_id`
// holds: contiguous ranges whose sizes differ by at most one. Empty when the table has fewer
// elements than there are shards.
struct DenseRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
};
// REQUIRES: shard_id < num_shards.
DenseRange DenseShardRange(uint64_t table_size, uint32_t num_shards, uint32_t shard_id);

// The virtual shard a sparse key belongs to: a 64-bit mix of the key modulo the shard count, so
// sequential keys spread evenly. REQUIRES: num_shards > 0.
uint32_t SparseShardOf(uint64_t key, uint32_t num_shards);

// splitmix64's finaliser: a fast bijective mix of 64 bits (also the basis of the initialisers'
// per-element random streams).
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace ps

#endif  // PS_COMMON_PARTITION_H_
