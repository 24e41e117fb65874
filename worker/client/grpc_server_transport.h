// ServerTransport over gRPC: one GenericStub (and channel, with its own TCP connection) per server
// address and connection number, opened on first use and kept for the client's lifetime.
//
// Thread-safety: safe for concurrent use; `done` callbacks run on gRPC's callback threads.
// REQUIRES: no call is in flight when the transport is destroyed.
#ifndef PS_WORKER_CLIENT_GRPC_SERVER_TRANSPORT_H_
#define PS_WORKER_CLIENT_GRPC_SERVER_TRANSPORT_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/transport_security.h"
#include "grpcpp/generic/generic_stub.h"
#include "worker/client/server_transport.h"

namespace ps {

class GrpcServerTransport : public ServerTransport {
 public:
  // Channels are secured as `security` says.
  explicit GrpcServerTransport(
      std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext())
      : security_(std::move(security)) {}
  GrpcServerTransport(const GrpcServerTransport&) = delete;
  GrpcServerTransport& operator=(const GrpcServerTransport&) = delete;

  void Call(const std::string& address, uint32_t connection, absl::string_view method,
            grpc::ByteBuffer request, absl::Time deadline, DoneCallback done) override;
  void StreamCall(const std::string& address, uint32_t connection, absl::string_view method,
                  std::vector<grpc::ByteBuffer> requests, absl::Time deadline,
                  DoneCallback done) override;

 private:
  grpc::GenericStub& StubFor(const std::string& address, uint32_t connection);

  const std::shared_ptr<const TransportSecurity> security_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, uint32_t>, std::unique_ptr<grpc::GenericStub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_GRPC_SERVER_TRANSPORT_H_
