// Runs a PsClient operation against the servers: routes the parts not yet done by the current
// map, sends one request per server (all in flight together), and on ABORTED or UNAVAILABLE
// retries the parts whose server refused them, with the same seq and clock, until every part is
// done, one fails for good, or the request timeout passes. Between attempts it waits for the map
// epoch a server named, or else for a newer map or a backoff (5 ms doubling to 500 ms), whichever
// comes first. An unreachable server is reported to the coordinator once per (server, epoch).
//
// Thread-safety: one thread at a time (the client's training thread). Borrows the map source and
// the transport, which must outlive it; the transport's callbacks only hand answers back to the
// thread inside Execute().
#ifndef PS_WORKER_CLIENT_OPERATION_EXECUTOR_H_
#define PS_WORKER_CLIENT_OPERATION_EXECUTOR_H_

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/types.pb.h"
#include "worker/client/cluster_map_source.h"
#include "worker/client/operation.h"
#include "worker/client/request_builder.h"
#include "worker/client/routing.h"
#include "worker/client/server_transport.h"

namespace ps {

inline constexpr char kPushMethod[] = "/ps.v1.ParameterServer/Push";
inline constexpr char kPullMethod[] = "/ps.v1.ParameterServer/Pull";
inline constexpr char kPushPullMethod[] = "/ps.v1.ParameterServer/PushPull";
inline constexpr char kPushStreamMethod[] = "/ps.v1.ParameterServer/PushStream";

struct OperationExecutorOptions {
  RequestSender sender;
  // An observer reports no unreachable servers (it is not a member).
  bool observer = false;
  // Deadline of one operation including its retries.
  absl::Duration request_timeout = absl::Seconds(60);
  // What pulls ask the values in: F32 or F16.
  v1::Encoding pull_encoding = v1::ENCODING_F32;
  // A push of at least this many payload bytes to one server, over several shards, goes as a
  // PushStream with one message per shard: the server applies each shard while the next is
  // still arriving. 0: never.
  uint64_t stream_push_bytes = uint64_t{8} << 20;
  // A request of at least this many payload bytes to one server, over several shards, is split
  // over up to `connections_per_server` connections (routing.h, SpreadOverConnections).
  // 0: never.
  uint64_t spread_bytes = uint64_t{4} << 20;
  uint32_t connections_per_server = 1;
};

struct ExecutionResult {
  absl::Status status;
  // Payload of the requests that went through (a pull's as received).
  Traffic traffic;
  // A PushPull's pulled values (`traffic` holds what its push sent).
  Traffic pulled_after_push;
  // What the servers said they spent: handling the push (PushResponse.server_micros) and holding
  // the pull for its clock (PullResponse.parked_micros). Per attempt the longest over its servers
  // (they work in parallel, so the slowest is what the caller waited for), summed over attempts.
  absl::Duration server_time;
  absl::Duration parked_time;
  // Attempts after the first.
  uint64_t retries = 0;
  // A pull's largest and smallest PullResponse.shard_clocks over its servers.
  uint64_t max_shard_clock = 0;
  uint64_t min_shard_clock = std::numeric_limits<uint64_t>::max();
};

class OperationExecutor {
 public:
  OperationExecutor(const OperationExecutorOptions& options, ClusterMapSource& maps,
                    ServerTransport& transport);
  OperationExecutor(const OperationExecutor&) = delete;
  OperationExecutor& operator=(const OperationExecutor&) = delete;

  // Sends the parts of `op` that are not done, as above, marking each done as its server accepts
  // it (a pull's values are then in its destination).
  // REQUIRES: op.table is set; for a push, op.seq > 0. op.clock is the operation's clock.
  // Errors: the first server error that is not ABORTED or UNAVAILABLE, naming the server
  // (DeadlineExceeded when it did not answer in time); Internal for a pull answer that does not
  // match its request; DeadlineExceeded, naming the retries and the last reason, when the request
  // timeout passed while parts were still refused or unroutable.
  ExecutionResult Execute(Operation& op);

 private:
  // Whether `batch` of `op` goes as a PushStream (see stream_push_bytes).
  bool StreamsPush(const Operation& op, const ServerBatch& batch) const;
  // Sends one request per batch, all in flight together, and returns the replies in batch order
  // once all have arrived.
  std::vector<ServerReply> SendAll(const Operation& op, const v1::ClusterMap& map,
                                   const std::vector<ServerBatch>& batches, absl::Time deadline);

  // Constant after construction.
  const OperationExecutorOptions options_;
  ClusterMapSource& maps_;
  ServerTransport& transport_;

  // (server, epoch) pairs already reported unreachable to the coordinator: once is enough.
  absl::flat_hash_set<std::pair<uint32_t, uint64_t>> reported_unreachable_;
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_OPERATION_EXECUTOR_H_
