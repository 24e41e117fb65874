#include "tools/psctl/coordinator_client.h"

#include <utility>

#include "common/coordinator_addresses.h"
#include "common/grpc_endpoint.h"
#include "common/grpc_status.h"

namespace ps::psctl {
namespace {

// One unary call with a deadline: `rpc(context, response)` makes it.
template <typename Response, typename Rpc>
absl::StatusOr<Response> CallWithDeadline(absl::Duration timeout, Rpc rpc) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  const grpc::Status status = rpc(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

absl::StatusOr<CoordinatorClient> CoordinatorClient::Connect(
    const std::string& addresses, absl::Duration timeout,
    std::shared_ptr<const TransportSecurity> security) {
  absl::StatusOr<std::string> address = FindServingCoordinator(addresses, timeout, *security);
  if (!address.ok()) return address.status();
  return CoordinatorClient(*address, timeout,
                           v1::Coordinator::NewStub(OpenChannel(*address, *security)));
}

CoordinatorClient::CoordinatorClient(std::string address, absl::Duration timeout,
                                     std::unique_ptr<v1::Coordinator::Stub> stub)
    : address_(std::move(address)), timeout_(timeout), stub_(std::move(stub)) {}

absl::StatusOr<v1::ClusterStatus> CoordinatorClient::GetStatus(bool with_curves) {
  v1::GetClusterStatusRequest request;
  request.set_with_curves(with_curves);
  return CallWithDeadline<v1::ClusterStatus>(
      timeout_, [&](grpc::ClientContext* context, v1::ClusterStatus* status) {
        return stub_->GetClusterStatus(context, request, status);
      });
}

absl::StatusOr<v1::CheckpointNowResponse> CoordinatorClient::Checkpoint(absl::Duration timeout) {
  return CallWithDeadline<v1::CheckpointNowResponse>(
      timeout, [&](grpc::ClientContext* context, v1::CheckpointNowResponse* response) {
        return stub_->Checkpoint(context, {}, response);
      });
}

absl::StatusOr<v1::DrainResponse> CoordinatorClient::Drain(uint32_t server_id) {
  v1::DrainRequest request;
  request.set_server_id(server_id);
  return CallWithDeadline<v1::DrainResponse>(
      timeout_, [&](grpc::ClientContext* context, v1::DrainResponse* response) {
        return stub_->Drain(context, request, response);
      });
}

absl::StatusOr<v1::DrainResponse> CoordinatorClient::Undrain(uint32_t server_id) {
  v1::DrainRequest request;
  request.set_server_id(server_id);
  return CallWithDeadline<v1::DrainResponse>(
      timeout_, [&](grpc::ClientContext* context, v1::DrainResponse* response) {
        return stub_->Undrain(context, request, response);
      });
}

bool IsUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace ps::psctl
