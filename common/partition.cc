#include "common/partition.h"

namespace ps {

DenseRange DenseShardRange(uint64_t table_size, uint32_t num_shards, uint32_t shard_id) {
  // 128-bit products: table_size * shard_id overflows 64 bits for tables beyond 2^48 elements.
  const auto boundary = [&](uint64_t shard) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(table_size) * shard / num_shards);
  };
  return DenseRange{boundary(shard_id), boundary(shard_id + 1ULL)};
}

uint32_t SparseShardOf(uint64_t key, uint32_t num_shards) {
  return static_cast<uint32_t>(Mix64(key) % num_shards);
}

}  // namespace ps
