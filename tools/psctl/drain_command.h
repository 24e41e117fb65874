// `psctl drain SERVER` and `psctl undrain SERVER`: take a server out of service with nothing
// lost (its replicas move to other servers, its primaries last) and wait until it holds
// nothing, or return it to service. Prints progress to stdout and errors to stderr.
#ifndef PS_TOOLS_PSCTL_DRAIN_COMMAND_H_
#define PS_TOOLS_PSCTL_DRAIN_COMMAND_H_

#include <string>

#include "absl/time/time.h"
#include "tools/psctl/coordinator_client.h"

namespace ps::psctl {

struct DrainOptions {
  // drain: wait until the server holds no replica (false: start the drain and return).
  bool wait = true;
  // drain: how long to wait before giving up (the drain goes on in the coordinator).
  absl::Duration timeout = absl::Seconds(1800);
  // How often the wait polls the cluster's status.
  absl::Duration poll_interval = absl::Milliseconds(200);
};

// `server` is a live server's id or the host:port it registered with; `addresses` is what
// --coordinator said (for error lines). Returns a psctl exit code (exit_codes.h).
int RunDrain(CoordinatorClient& coordinator, const std::string& addresses,
             const std::string& server, bool undrain, const DrainOptions& options);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_DRAIN_COMMAND_H_
