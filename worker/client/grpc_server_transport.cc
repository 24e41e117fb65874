#include "worker/client/grpc_server_transport.h"

#include <utility>
#include <vector>

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

// Moves the trailing metadata a server sent into `reply`.
void CopyTrailers(const grpc::ClientContext& context, ServerReply* reply) {
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    reply->trailing_metadata.emplace(std::string(key.data(), key.size()),
                                     std::string(value.data(), value.size()));
  }
}

// A client-streaming call over gRPC's generic bidirectional reactor (the wire is the same): one
// write in flight at a time, then the close, one read, and the status. Deletes itself when done.
class StreamingCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamingCall(std::vector<grpc::ByteBuffer> requests, absl::Time deadline,
                ServerTransport::DoneCallback done)
      : requests_(std::move(requests)), done_(std::move(done)) {
    context_.set_deadline(absl::ToChronoTime(deadline));
  }
  grpc::ClientContext* context() { return &context_; }

  void Start() {
    StartRead(&response_);
    WriteNext();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return;  // The call failed; OnDone brings its status.
    WriteNext();
  }
  void OnReadDone(bool) override {}
  void OnDone(const grpc::Status& status) override {
    ServerReply reply;
    reply.status = status;
    reply.response.Swap(&response_);
    CopyTrailers(context_, &reply);
    ServerTransport::DoneCallback done = std::move(done_);
    delete this;
    std::move(done)(std::move(reply));
  }

 private:
  void WriteNext() {
    if (next_ == requests_.size()) {
      StartWritesDone();
      return;
    }
    StartWrite(&requests_[next_++]);
  }

  std::vector<grpc::ByteBuffer> requests_;
  size_t next_ = 0;
  ServerTransport::DoneCallback done_;
  grpc::ClientContext context_;
  grpc::ByteBuffer response_;
};

}  // namespace

void GrpcServerTransport::StreamCall(const std::string& address, uint32_t connection,
                                     absl::string_view method,
                                     std::vector<grpc::ByteBuffer> requests, absl::Time deadline,
                                     DoneCallback done) {
  auto* call = new StreamingCall(std::move(requests), deadline, std::move(done));
  StubFor(address, connection)
      .PrepareBidiStreamingCall(call->context(), std::string(method), grpc::StubOptions(), call);
  call->Start();
}

void GrpcServerTransport::Call(const std::string& address, uint32_t connection,
                               absl::string_view method, grpc::ByteBuffer request,
                               absl::Time deadline, DoneCallback done) {
  auto* call = new PendingCall;
  call->context.set_deadline(absl::ToChronoTime(deadline));
  call->request.Swap(&request);
  call->done = std::move(done);
  StubFor(address, connection)
      .UnaryCall(&call->context, std::string(method), grpc::StubOptions(), &call->request,
                 &call->response, [call](grpc::Status status) {
                   ServerReply reply;
                   reply.status = std::move(status);
                   reply.response.Swap(&call->response);
                   CopyTrailers(call->context, &reply);
                   DoneCallback done = std::move(call->done);
                   delete call;
                   std::move(done)(std::move(reply));
                 });
}

grpc::GenericStub& GrpcServerTransport::StubFor(const std::string& address, uint32_t connection) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<grpc::GenericStub>& stub = stubs_[{address, connection}];
  if (stub == nullptr) {
    // Channels to one address share their TCP connection unless they have a subchannel pool
    // of their own.
    stub = std::make_unique<grpc::GenericStub>(
        connection == 0 ? OpenChannel(address, *security_) : OpenFreshChannel(address, *security_));
  }
  return *stub;
}

}  // namespace ps
