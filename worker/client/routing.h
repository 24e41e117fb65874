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
  // Which of the client's connections to the server carries the request (0 unless
  // SpreadOverConnections split the server's parts).
  uint32_t connection = 0;
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

// Payload bytes a part moves: its keys, and its values as sent (push) or as float32 answers (pull).
uint64_t PartBytes(const ShardPart& part, bool push);

// Splits every batch of at least `min_bytes` (PartBytes) and two or more parts into up to
// `connections` batches to the same server, of consecutive parts with about equal bytes, on
// connections 0, 1, ...: each connection is decrypted, copied and applied by its own thread at
// both ends, where one connection serialises all of that (mutual TLS halves a single
// connection's throughput). Batches keep the order of their parts. connections <= 1 or
// min_bytes == 0: unchanged.
void SpreadOverConnections(Routing& routing, bool push, uint64_t min_bytes, uint32_t connections);

}  // namespace ps

#endif  // PS_WORKER_CLIENT_ROUTING_H_
