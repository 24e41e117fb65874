// Placement of virtual shards on servers: which servers hold each shard's replica chain.
// Pure functions; safe for concurrent use.
#ifndef PS_SERVER_COORDINATOR_PLACEMENT_H_
#define PS_SERVER_COORDINATOR_PLACEMENT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace ps {

// A replica chain per shard: chains[shard][0] is the primary, the rest are backups in promotion
// order.
using ReplicaChains = std::vector<std::vector<uint32_t>>;

// Places `num_shards` shards with `replication_factor` replicas each on distinct `servers`.
// Balanced: every server leads either floor or ceil of num_shards / |servers| shards and holds
// either floor or ceil of num_shards * R / |servers| replicas. The backups of one server's
// primaries are spread over the other servers, so a failure spreads the promoted primaries too.
// Deterministic for the same inputs.
// Errors: InvalidArgument when R is 0, exceeds the number of servers, or servers repeat.
absl::StatusOr<ReplicaChains> PlaceShards(uint32_t num_shards, uint32_t replication_factor,
                                          const std::vector<uint32_t>& servers);

// Removes `dead_server` from every chain, which promotes the first backup wherever it led.
// Returns the number of chains it was removed from. A chain left empty means the shard lost
// every replica.
int RemoveServer(uint32_t dead_server, ReplicaChains& chains);

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_PLACEMENT_H_
