// The Push and Pull request frames (common/frame.h, proto/parameter_server.proto) for one server's
// batch of an operation: a header naming the map the request was routed with, the sender and
// one slice per part, then the payload (per part: its keys, then for a push its values). The
// payload slices are referenced, not copied.
//
// Stateless functions; safe for concurrent use.
#ifndef PS_WORKER_CLIENT_REQUEST_BUILDER_H_
#define PS_WORKER_CLIENT_REQUEST_BUILDER_H_

#include <cstdint>
#include <vector>

#include "grpcpp/support/byte_buffer.h"
#include "proto/types.pb.h"
#include "worker/client/operation.h"

namespace ps {

// Who sends the requests: the worker's RegisterWorker ids (0 and 0 for an observer).
struct RequestSender {
  uint32_t worker_id = 0;
  uint64_t incarnation = 0;
};

// REQUIRES: op.push; op.table is set.
grpc::ByteBuffer BuildPushRequest(const Operation& op, const std::vector<ShardPart*>& parts,
                                  const v1::ClusterMap& map, const RequestSender& sender);
// Asks for the values in `encoding` (F32 or F16). REQUIRES: !op.push; op.table is set.
grpc::ByteBuffer BuildPullRequest(const Operation& op, const std::vector<ShardPart*>& parts,
                                  const v1::ClusterMap& map, const RequestSender& sender,
                                  v1::Encoding encoding);

// A push of `parts` and, in the same frame, a pull of the same shards at op.pull_clock in
// `encoding`. REQUIRES: op.push && op.pull_after_push; dense parts (no keys); op.table is set.
grpc::ByteBuffer BuildPushPullRequest(const Operation& op, const std::vector<ShardPart*>& parts,
                                      const v1::ClusterMap& map, const RequestSender& sender,
                                      v1::Encoding encoding);

}  // namespace ps

#endif  // PS_WORKER_CLIENT_REQUEST_BUILDER_H_
