#include "tests/harness/raw_call.h"

#include "absl/synchronization/notification.h"
#include "common/grpc_endpoint.h"
#include "grpcpp/generic/generic_stub.h"

namespace ps::testing {

RawAnswer RawUnaryCall(const std::string& address, const std::string& method,
                       const grpc::ByteBuffer& request, absl::Duration deadline,
                       const TransportSecurity& security) {
  grpc::GenericStub stub(OpenFreshChannel(address, security));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  grpc::ByteBuffer sent = request;
  RawAnswer answer;
  absl::Notification done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &sent, &answer.response,
                 [&](grpc::Status status) {
                   answer.status = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  const auto trailer = context.GetServerTrailingMetadata().find("ps-epoch");
  if (trailer != context.GetServerTrailingMetadata().end()) {
    answer.epoch_trailer = std::string(trailer->second.data(), trailer->second.size());
  }
  return answer;
}

}  // namespace ps::testing
