#include "worker/client/grpc_server_transport.h"

#include <utility>

#include "common/grpc_endpoint.h"
#include "grpcpp/client_context.h"

namespace ps {
namespace {

// What one call keeps alive until gRPC has finished with it.
struct PendingCall {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  ServerTransport::DoneCallback done;
};

}  // namespace

void GrpcServerTransport::Call(const std::string& address, absl::string_view method,
                               grpc::ByteBuffer request, absl::Time deadline,
                               DoneCallback done) {
  auto* call = new PendingCall;
  call->context.set_deadline(absl::ToChronoTime(deadline));
  call->request.Swap(&request);
  call->done = std::move(done);
  StubFor(address).UnaryCall(
      &call->context, std::string(method), grpc::StubOptions(), &call->request, &call->response,
      [call](grpc::Status status) {
        ServerReply reply;
        reply.status = std::move(status);
        reply.response.Swap(&call->response);
        for (const auto& [key, value] : call->context.GetServerTrailingMetadata()) {
          reply.trailing_metadata.emplace(std::string(key.data(), key.size()),
                                          std::string(value.data(), value.size()));
        }
        DoneCallback done = std::move(call->done);
        delete call;
        std::move(done)(std::move(reply));
      });
}

grpc::GenericStub& GrpcServerTransport::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<grpc::GenericStub>& stub = stubs_[address];
  if (stub == nullptr) stub = std::make_unique<grpc::GenericStub>(OpenChannel(address));
  return *stub;
}

}  // namespace ps
