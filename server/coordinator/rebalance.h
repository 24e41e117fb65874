// Planning replica moves: draining a server (every replica it holds goes elsewhere) and
// rebalancing (a server that joined a placed cluster takes its share). A move copies the shard to
// a learner on the target; when the learner caught up, one map change adds it to the chain and
// removes the source (ClusterState applies it). Pure functions; safe for concurrent use.
#ifndef PS_SERVER_COORDINATOR_REBALANCE_H_
#define PS_SERVER_COORDINATOR_REBALANCE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/coordinator/placement.h"

namespace ps {

struct PlannedMove {
  uint32_t shard = 0;
  uint32_t from = 0;
  uint32_t to = 0;
  // `from` leads the shard and `to` takes over as primary. Otherwise `to` becomes the last
  // backup (and the first backup is promoted if `from` led).
  bool lead = false;
  // "drain" or "rebalance".
  std::string reason;
  // Set by the coordinator, not the planner: `to` caught up and is the last backup, and `from`
  // (the primary) is handing the shard over (ShardMove.handing_over).
  bool handing_over = false;
};

struct MovePlanInput {
  uint32_t replication_factor = 0;
  // Live servers that may receive replicas (not draining).
  std::vector<uint32_t> targets;
  // Live servers being drained.
  std::set<uint32_t> draining;
  // At most this many moves in flight (`moving` included).
  size_t max_moves = 1;
  // Balance the targets as well (drains are planned either way).
  bool balance = true;
};

// The next moves to start, given the moves in flight (`moving`, by shard; at most one per shard).
// A shard is moved only when it has all R replicas and no learner other than its move's (a shard
// being re-replicated waits).
//
// Drain first: every replica on a draining server moves to the target holding the fewest
// replicas (counting moves in flight; then fewest primaries, then lowest id) that does not hold
// the shard; a draining server's primaries move only once none of its backups is left or moving,
// each handed over by promoting its first backup.
// Then, with no drain pending, balance: while the most-loaded target holds two replicas more than
// the least-loaded one, move a replica from the first to the second; a primary (with `lead`, so
// the receiver leads it) when the sender leads two more shards than the receiver, a backup
// otherwise. Replica counts end within one of each other, and primaries as even as those moves
// make them. Deterministic for the same inputs.
// REQUIRES: learners.size() == chains.size().
std::vector<PlannedMove> PlanMoves(const MovePlanInput& input, const ReplicaChains& chains,
                                   const LearnerLists& learners,
                                   const std::map<uint32_t, PlannedMove>& moving);

// The chain after `move`'s learner caught up: `to` joins (first if `move.lead` and `from` led,
// else last) and `from` leaves (if still there).
std::vector<uint32_t> ChainAfterMove(const std::vector<uint32_t>& chain, const PlannedMove& move);

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_REBALANCE_H_
