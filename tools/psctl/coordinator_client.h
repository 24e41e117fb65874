// psctl's calls to the coordinator that serves a cluster: the one seam between psctl's commands
// and gRPC. Every call has a deadline, so an unreachable coordinator is an error within
// seconds, never a hang. One thread only.
#ifndef PS_TOOLS_PSCTL_COORDINATOR_CLIENT_H_
#define PS_TOOLS_PSCTL_COORDINATOR_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/transport_security.h"
#include "proto/coordinator.grpc.pb.h"

namespace ps::psctl {

class CoordinatorClient {
 public:
  // Finds the coordinator that serves among `addresses` (host:port, comma-separated; one leads
  // when there are several) within `timeout`, which also bounds every later call but
  // Checkpoint. Errors: InvalidArgument for an empty list, Unavailable when none answers.
  static absl::StatusOr<CoordinatorClient> Connect(
      const std::string& addresses, absl::Duration timeout,
      std::shared_ptr<const TransportSecurity> security);

  // host:port of the coordinator the calls go to.
  const std::string& address() const { return address_; }

  // The cluster's status; with `with_curves`, every worker's training curve too.
  // Errors: the rpc's (Unavailable, DeadlineExceeded when the coordinator does not answer).
  absl::StatusOr<v1::ClusterStatus> GetStatus(bool with_curves = false);

  // Takes a checkpoint and waits up to `timeout` for its manifest. Errors: the rpc's
  // (FailedPrecondition without ps_coordinator --checkpoint_dir, ...).
  absl::StatusOr<v1::CheckpointNowResponse> Checkpoint(absl::Duration timeout);

  // Starts draining server `server_id`, or returns it to service. Errors: the rpc's.
  absl::StatusOr<v1::DrainResponse> Drain(uint32_t server_id);
  absl::StatusOr<v1::DrainResponse> Undrain(uint32_t server_id);

 private:
  CoordinatorClient(std::string address, absl::Duration timeout,
                    std::unique_ptr<v1::Coordinator::Stub> stub);

  std::string address_;
  absl::Duration timeout_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

// Whether `status`, from a call above, means the coordinator was not reached (Unavailable,
// DeadlineExceeded) rather than that it refused the call.
bool IsUnreachable(const absl::Status& status);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_COORDINATOR_CLIENT_H_
