#include "common/coordinator_addresses.h"

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_endpoint.h"
#include "proto/coordinator.grpc.pb.h"

namespace ps {

std::vector<std::string> SplitCoordinatorAddresses(const std::string& list) {
  std::vector<std::string> addresses;
  for (absl::string_view address : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    addresses.emplace_back(absl::StripAsciiWhitespace(address));
  }
  return addresses;
}

absl::StatusOr<std::string> FindServingCoordinator(const std::string& list,
                                                   absl::Duration timeout,
                                                   const TransportSecurity& security) {
  const std::vector<std::string> addresses = SplitCoordinatorAddresses(list);
  if (addresses.empty()) return absl::InvalidArgumentError("no coordinator address given");
  if (addresses.size() == 1) return addresses.front();  // Nothing to choose.
  std::vector<std::string> errors(addresses.size());
  const absl::Time give_up = absl::Now() + timeout;
  absl::Duration backoff = absl::Milliseconds(50);
  while (true) {
    for (size_t i = 0; i < addresses.size(); ++i) {
      // A fresh channel per attempt: a channel whose connections were refused can keep failing
      // fast calls for seconds after the address starts listening (gRPC 1.51 reconnect state).
      std::unique_ptr<v1::Coordinator::Stub> stub =
          v1::Coordinator::NewStub(OpenFreshChannel(addresses[i], security));
      grpc::ClientContext context;
      context.set_deadline(
          absl::ToChronoTime(std::min(give_up, absl::Now() + absl::Milliseconds(500))));
      v1::ClusterStatus status;
      const grpc::Status answer = stub->GetClusterStatus(&context, {}, &status);
      if (answer.ok()) return addresses[i];
      errors[i] = answer.error_message();
    }
    if (absl::Now() + backoff >= give_up) break;
    absl::SleepFor(backoff);  // Backoff between rounds (a failover may be under way).
    backoff = std::min(backoff * 2, absl::Milliseconds(250));
  }
  std::string detail;
  for (size_t i = 0; i < addresses.size(); ++i) {
    absl::StrAppend(&detail, i == 0 ? "" : "; ", addresses[i], ": ", errors[i]);
  }
  return absl::UnavailableError(
      absl::StrCat("no coordinator serves (", detail, ")"));
}

}  // namespace ps
