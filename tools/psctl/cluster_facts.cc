#include "tools/psctl/cluster_facts.h"

namespace ps::psctl {

ShardHealth HealthOf(const v1::ShardAssignment& shard, uint32_t replication_factor) {
  if (shard.replicas().empty()) return ShardHealth::kWithoutPrimary;
  if (static_cast<uint32_t>(shard.replicas_size()) < replication_factor) {
    return ShardHealth::kUnderReplicated;
  }
  return ShardHealth::kHealthy;
}

const char* RoleName(v1::MemberRef::Role role) {
  return role == v1::MemberRef::ROLE_SERVER ? "server" : "worker";
}

std::string MemberStateName(const v1::ClusterMap& map, const v1::MemberHealth& member) {
  if (member.state() != v1::MEMBER_STATE_ALIVE) return "dead";
  if (member.member().role() == v1::MemberRef::ROLE_SERVER) {
    const v1::ServerInfo* server = FindServerInfo(map, member.member().id());
    if (server != nullptr && server->draining()) return "draining";
  }
  return "alive";
}

const v1::ServerInfo* FindServerInfo(const v1::ClusterMap& map, uint32_t server_id) {
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.server_id() == server_id) return &server;
  }
  return nullptr;
}

const v1::WorkerInfo* FindWorkerInfo(const v1::ClusterMap& map, uint32_t worker_id) {
  for (const v1::WorkerInfo& worker : map.workers()) {
    if (worker.worker_id() == worker_id) return &worker;
  }
  return nullptr;
}

bool HasProgress(const v1::MemberHealth& member) {
  return member.member().role() == v1::MemberRef::ROLE_WORKER &&
         member.state() == v1::MEMBER_STATE_ALIVE && member.has_progress();
}

}  // namespace ps::psctl
