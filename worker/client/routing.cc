#include "worker/client/routing.h"

#include "absl/container/flat_hash_map.h"

namespace ps {

Routing RoutePendingParts(const v1::ClusterMap& map, std::vector<ShardPart>& parts) {
  absl::flat_hash_map<uint32_t, const std::string*> addresses;
  for (const v1::ServerInfo& server : map.servers()) {
    if (server.state() == v1::MEMBER_STATE_ALIVE) addresses[server.server_id()] = &server.address();
  }
  Routing routing;
  absl::flat_hash_map<uint32_t, size_t> batch_of;  // server id -> index in routing.batches
  for (ShardPart& part : parts) {
    if (part.done) continue;
    const uint32_t primary = part.shard_id < static_cast<uint32_t>(map.shards_size()) &&
                                     map.shards(part.shard_id).replicas_size() > 0
                                 ? map.shards(part.shard_id).replicas(0)
                                 : 0;
    const auto address = addresses.find(primary);
    if (address == addresses.end()) {
      routing.unroutable = true;
      continue;
    }
    const auto [batch, added] = batch_of.try_emplace(primary, routing.batches.size());
    if (added) {
      ServerBatch& created = routing.batches.emplace_back();
      created.server_id = primary;
      created.address = *address->second;
    }
    routing.batches[batch->second].parts.push_back(&part);
  }
  return routing;
}

}  // namespace ps
