// Starting a gRPC server on a configured or kernel-chosen port, and opening channels to peers,
// with the message-size limits every daemon shares.
#ifndef PS_COMMON_GRPC_ENDPOINT_H_
#define PS_COMMON_GRPC_ENDPOINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/server.h"
#include "grpcpp/support/channel_arguments.h"
#include "common/transport_security.h"

namespace ps {

// Largest message a daemon accepts or sends: big dense pushes are tens of MB.
inline constexpr int kMaxMessageBytes = 1 << 30;

struct EndpointOptions {
  // Interface to listen on, e.g. 127.0.0.1 or 0.0.0.0.
  std::string bind_host = "127.0.0.1";
  // 0 lets the kernel pick a free port.
  int port = 0;
  // Host name or address peers should use; empty means `bind_host`.
  std::string advertise_host;
  // When non-empty, the advertised host:port is written here atomically once listening.
  std::string address_file;
  // TLS or plaintext, and whether a non-loopback address may be plaintext.
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
  // Largest request the server accepts (RESOURCE_EXHAUSTED beyond) and response it sends.
  int max_message_bytes = kMaxMessageBytes;
};

struct RunningEndpoint {
  std::unique_ptr<grpc::Server> server;
  // host:port peers should dial.
  std::string advertised_address;
};

// Starts serving `services` (borrowed; they must outlive the returned server).
// Errors: InvalidArgument for a bad port or an advertise host that cannot be derived,
// FailedPrecondition for plaintext on a non-loopback address without `insecure`, Unavailable
// when the port cannot be bound, Internal when the address file cannot be written.
absl::StatusOr<RunningEndpoint> StartEndpoint(const EndpointOptions& options,
                                              const std::vector<grpc::Service*>& services);

// A channel to `address` secured as `security` says, with the shared message-size limits,
// reconnecting at most 250 ms after a failed attempt.
std::shared_ptr<grpc::Channel> OpenChannel(
    const std::string& address,
    const TransportSecurity& security = *TransportSecurity::Plaintext());

// The same, on a connection of its own (a local subchannel pool): it connects at once instead
// of inheriting the reconnect backoff of other channels to `address`, which gRPC shares; after
// many refused attempts that backoff can delay a first successful call by seconds.
std::shared_ptr<grpc::Channel> OpenFreshChannel(
    const std::string& address,
    const TransportSecurity& security = *TransportSecurity::Plaintext());

}  // namespace ps

#endif  // PS_COMMON_GRPC_ENDPOINT_H_
