// Facts derived from a coordinator's ClusterStatus that several psctl views share: a shard's
// health, a member's state as operators name it, lookups by id. Stateless functions.
#ifndef PS_TOOLS_PSCTL_CLUSTER_FACTS_H_
#define PS_TOOLS_PSCTL_CLUSTER_FACTS_H_

#include <cstdint>
#include <string>

#include "proto/coordinator.pb.h"

namespace ps::psctl {

enum class ShardHealth {
  // As many replicas as the replication factor.
  kHealthy,
  // Fewer, but a primary serves it.
  kUnderReplicated,
  // Every replica lost: the shard is unavailable for good.
  kWithoutPrimary,
};

ShardHealth HealthOf(const v1::ShardAssignment& shard, uint32_t replication_factor);

// "server" or "worker".
const char* RoleName(v1::MemberRef::Role role);

// "alive", "dead", or "draining" for a live server being drained (psctl drain).
std::string MemberStateName(const v1::ClusterMap& map, const v1::MemberHealth& member);

// The map's entry for a server or worker id; nullptr when it has none.
const v1::ServerInfo* FindServerInfo(const v1::ClusterMap& map, uint32_t server_id);
const v1::WorkerInfo* FindWorkerInfo(const v1::ClusterMap& map, uint32_t worker_id);

// Whether `member` is a live worker that reported training progress.
bool HasProgress(const v1::MemberHealth& member);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_CLUSTER_FACTS_H_
