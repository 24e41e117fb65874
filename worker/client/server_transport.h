// How the client's data plane reaches a parameter server: an asynchronous unary call carrying a
// frame (common/frame.h) to a server address, or a client-streaming call carrying several.
// GrpcServerTransport (grpc_server_transport.h) is the real one; unit tests of the retry logic
// supply a fake.
//
// Thread-safety: implementations are safe for concurrent use. Call() returns without waiting for
// the answer, so calls to several servers are in flight together; `done` runs exactly once, on a
// transport thread or, in fakes, possibly inside Call() itself, and must not block on other calls
// of the same transport.
#ifndef PS_WORKER_CLIENT_SERVER_TRANSPORT_H_
#define PS_WORKER_CLIENT_SERVER_TRANSPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace ps {

// What a server answered to one call.
struct ServerReply {
  grpc::Status status;
  // The response frame; meaningful only when `status` is OK.
  grpc::ByteBuffer response;
  // The server's trailing metadata, e.g. "ps-epoch" (its map epoch) with ABORTED.
  std::multimap<std::string, std::string> trailing_metadata;
};

class ServerTransport {
 public:
  using DoneCallback = absl::AnyInvocable<void(ServerReply) &&>;

  virtual ~ServerTransport() = default;

  // Sends `request` to `method` (e.g. "/ps.v1.ParameterServer/Push") of the server at `address`
  // (host:port) over the client's `connection`-th connection to it (each its own TCP connection,
  // opened on first use), to be answered by `deadline` (DEADLINE_EXCEEDED otherwise), then runs
  // `done` with the answer. Failures to connect arrive in `done` as UNAVAILABLE. REQUIRES: the
  // transport outlives the call (until `done` has run).
  virtual void Call(const std::string& address, uint32_t connection, absl::string_view method,
                    grpc::ByteBuffer request, absl::Time deadline, DoneCallback done) = 0;
  // A client-streaming call (e.g. "/ps.v1.ParameterServer/PushStream"): writes `requests` in
  // order, one message each, closes the stream and runs `done` with the single answer.
  virtual void StreamCall(const std::string& address, uint32_t connection, absl::string_view method,
                          std::vector<grpc::ByteBuffer> requests, absl::Time deadline,
                          DoneCallback done) = 0;
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_SERVER_TRANSPORT_H_
