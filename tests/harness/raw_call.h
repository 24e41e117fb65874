// One unary call whose request and response are raw bytes (frames: Push, Pull, Replicate), as a
// test or a client in another language sends it, bypassing the client library. One thread only.
#ifndef PS_TESTS_HARNESS_RAW_CALL_H_
#define PS_TESTS_HARNESS_RAW_CALL_H_

#include <string>

#include "absl/time/time.h"
#include "common/transport_security.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace ps::testing {

struct RawAnswer {
  grpc::Status status;
  grpc::ByteBuffer response;
  // The `ps-epoch` trailing metadata, empty if absent.
  std::string epoch_trailer;
};

// Calls `method` ("/ps.v1.ParameterServer/Push") at `address` with `request` and waits for it,
// on a connection of its own secured as `security` says.
RawAnswer RawUnaryCall(const std::string& address, const std::string& method,
                       const grpc::ByteBuffer& request, absl::Duration deadline,
                       const TransportSecurity& security = *TransportSecurity::Plaintext());

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_RAW_CALL_H_
