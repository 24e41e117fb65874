// Routing of an operation's parts by a cluster map: each part not yet done goes to the ALIVE
// primary (first replica) of its shard, and the parts of one server travel in one request.
//
// Stateless functions; safe for concurrent use on distinct operations.
#ifndef PS_WORKER_CLIENT_ROUTING_H_
#define PS_WORKER_CLIENT_ROUTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/types.pb.h"
#include "worker/client/operation.h"

namespace ps {

// The parts one server receives in one request.
struct ServerBatch {
  uint32_t server_id = 0;
  std::string address;
  // Borrowed from the operation, in the operation's order.
  std::vector<ShardPart*> parts;
};

struct Routing {
  // One batch per server, in the order of each server's first part.
  std::vector<ServerBatch> batches;
  // Some part's shard has no ALIVE primary in this map (not placed yet, or its primary is dead):
  // that part was left out and waits for a newer map.
  bool unroutable = false;
};

// Groups the parts of `parts` that are not done by the primary of their shard in `map`.
Routing RoutePendingParts(const v1::ClusterMap& map, std::vector<ShardPart>& parts);

}  // namespace ps

#endif  // PS_WORKER_CLIENT_ROUTING_H_
