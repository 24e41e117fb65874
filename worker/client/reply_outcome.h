// What a server's answer to one request of an operation means for the operation:
//   OK                    the batch's parts are done;
//   ABORTED, UNAVAILABLE  retry them, after a newer map when the server named its epoch (the
//                         "ps-epoch" trailer: it routes by a newer map than the request, or
//                         leads the shard no longer); UNAVAILABLE also means the coordinator
//                         should hear that the server could not be reached;
//   anything else         the operation fails with the server's error, naming the server.
//
// Stateless; safe for concurrent use.
#ifndef PS_WORKER_CLIENT_REPLY_OUTCOME_H_
#define PS_WORKER_CLIENT_REPLY_OUTCOME_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "worker/client/operation.h"
#include "worker/client/routing.h"
#include "worker/client/server_transport.h"

namespace ps {

// The trailing metadata key under which a server that refuses a request names its map epoch.
inline constexpr char kEpochTrailer[] = "ps-epoch";

struct ReplyOutcome {
  enum class Kind { kDone, kRetry, kFailed };
  Kind kind = Kind::kDone;
  // kRetry: the server's status, the reason given if the retries run out. kFailed: the error the
  // operation returns, naming it and the server. kDone: OK.
  absl::Status status;
  // kRetry: the epoch of the server's map (its "ps-epoch" trailer); 0 when it named none.
  uint64_t server_epoch = 0;
  // kRetry after UNAVAILABLE: the server could not be reached.
  bool unreachable = false;
};

// Classifies `reply`, the answer of `batch`'s server to its request for `op`. `request_timeout`
// (the operation's deadline budget) is named when the server did not answer in time.
ReplyOutcome ClassifyReply(const Operation& op, const ServerBatch& batch, const ServerReply& reply,
                           absl::Duration request_timeout);

}  // namespace ps

#endif  // PS_WORKER_CLIENT_REPLY_OUTCOME_H_
