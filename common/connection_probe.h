// Whether something listens at an address: a plain TCP connect, used where "the process is
// gone" must be told apart from "slow or unreachable". The coordinator declares a server dead
// early (ReportUnreachable) only when its address refuses connections; a member credits its
// lease while the coordinator's address refuses them (common/coordinator_session.h).
// Thread-safe.
#ifndef PS_COMMON_CONNECTION_PROBE_H_
#define PS_COMMON_CONNECTION_PROBE_H_

#include <functional>
#include <string>

#include "absl/time/time.h"

namespace ps {

enum class ProbeResult {
  // A connection was established: a process listens there (perhaps stopped or slow).
  kConnected,
  // The host answered that nothing listens on the port (ECONNREFUSED): the process is gone.
  kRefused,
  // Neither within the timeout, or another failure (no route, unresolvable name): no conclusion,
  // since a partitioned network looks like this too.
  kUndecided,
};

using ConnectionProber = std::function<ProbeResult(const std::string& address)>;

// Connects to `address` (host:port; numeric or a name) and closes the connection at once.
ProbeResult ProbeConnection(const std::string& address, absl::Duration timeout);

}  // namespace ps

#endif  // PS_COMMON_CONNECTION_PROBE_H_
