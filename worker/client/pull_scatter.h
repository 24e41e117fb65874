// Reading a server's Pull answer (proto/parameter_server.proto, PullResponse) into the
// destinations of the parts that asked for it, after checking that it answers exactly what was
// asked: one slice per part, in order, of the same shard, encoding and length.
//
// Stateless; safe for concurrent use on distinct parts.
#ifndef PS_WORKER_CLIENT_PULL_SCATTER_H_
#define PS_WORKER_CLIENT_PULL_SCATTER_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "proto/types.pb.h"
#include "worker/client/operation.h"

namespace ps {

// Decodes `response`, the answer to a pull of `parts` in `encoding`, into each part's `out`
// (sparse rows of `dim` values to their positions) and adds the payload it read to `traffic`.
// Errors: InvalidArgument when the frame does not parse; Internal when the answer does not match
// the request (the parts before the mismatch are written and counted).
// `server_time` and `parked_time` receive what the answer's header says the server spent
// (PushResponse.server_micros of a PushPull's push; PullResponse.parked_micros);
// `max_shard_clock` and `min_shard_clock` the largest and smallest of its
// PullResponse.shard_clocks (0 and UINT64_MAX for none).
absl::Status ScatterPullResponse(const grpc::ByteBuffer& response,
                                 const std::vector<ShardPart*>& parts, size_t dim,
                                 v1::Encoding encoding, Traffic* traffic,
                                 absl::Duration* parked_time, uint64_t* max_shard_clock,
                                 uint64_t* min_shard_clock);

// The same for a PushPull's answer (header PushPullResponse; its pull part is read as above).
absl::Status ScatterPushPullResponse(const grpc::ByteBuffer& response,
                                     const std::vector<ShardPart*>& parts, size_t dim,
                                     v1::Encoding encoding, Traffic* traffic,
                                     absl::Duration* server_time, absl::Duration* parked_time);

}  // namespace ps

#endif  // PS_WORKER_CLIENT_PULL_SCATTER_H_
