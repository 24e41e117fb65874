// Placement of virtual shards on servers: which servers hold each shard's replica chain, and which
// servers are being filled (learners) to restore the replication factor after a loss.
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

// Per shard, indexed like ReplicaChains: the servers copying the shard from its primary to become
// backups. A learner is never promoted; once caught up it moves to the end of the chain.
using LearnerLists = std::vector<std::vector<uint32_t>>;

// One re-replication decision made by AddLearners().
struct LearnerChoice {
  uint32_t shard = 0;
  uint32_t server = 0;
  // Replicas the shard's chain had when the learner was added.
  size_t replicas_left = 0;
};

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

// Re-replication: for every shard, in shard order, whose chain is non-empty (there is a primary to
// copy from) and whose replicas plus learners number fewer than `replication_factor`, appends
// learners from `servers` (the live ones) not already holding the shard until it has R or no such
// server is left. Each learner goes to the least-loaded candidate: fewest replicas plus learners
// held across all shards, then fewest primaries, then lowest id; loads count the learners added
// so far, so a spare server is filled first and a loss spreads over the survivors. Returns the
// choices in the order made (empty when nothing was added). Deterministic for the same inputs.
// A server listed in `avoid[shard]` (if given, indexed like chains) is picked for that shard only
// when no other candidate is left: a replica that just failed to take updates should not be the
// first choice to copy the shard afresh.
// REQUIRES: learners.size() == chains.size(); no server is both a replica and a learner of a shard.
std::vector<LearnerChoice> AddLearners(uint32_t replication_factor,
                                       const std::vector<uint32_t>& servers,
                                       const ReplicaChains& chains, LearnerLists& learners,
                                       const LearnerLists* avoid = nullptr);

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_PLACEMENT_H_
