#include "worker/client/routing.h"

#include <algorithm>
#include <utility>

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

uint64_t PartBytes(const ShardPart& part, bool push) {
  return part.keys.size() + (push ? part.values.size() : part.num_values * sizeof(float));
}

void SpreadOverConnections(Routing& routing, bool push, uint64_t min_bytes, uint32_t connections) {
  if (connections <= 1 || min_bytes == 0) return;
  std::vector<ServerBatch> spread;
  spread.reserve(routing.batches.size());
  for (ServerBatch& batch : routing.batches) {
    uint64_t total = 0;
    for (const ShardPart* part : batch.parts) total += PartBytes(*part, push);
    const uint64_t ways = std::min<uint64_t>(connections, batch.parts.size());
    if (total < min_bytes || ways < 2) {
      spread.push_back(std::move(batch));
      continue;
    }
    // Part i goes to the batch its first byte falls in when the bytes are cut in `ways` equal runs.
    uint64_t before = 0;
    for (ShardPart* part : batch.parts) {
      const uint32_t connection = static_cast<uint32_t>(before * ways / total);
      before += PartBytes(*part, push);
      if (spread.empty() || spread.back().server_id != batch.server_id ||
          spread.back().connection != connection) {
        ServerBatch& next = spread.emplace_back();
        next.server_id = batch.server_id;
        next.address = batch.address;
        next.connection = connection;
      }
      spread.back().parts.push_back(part);
    }
  }
  routing.batches = std::move(spread);
}

}  // namespace ps
