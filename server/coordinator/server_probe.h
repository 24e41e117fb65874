// Whether the coordinator itself can connect to a server: the check behind ReportUnreachable,
// which declares a server dead early only when its address refuses connections.
// Thread-safe.
#ifndef PS_SERVER_COORDINATOR_SERVER_PROBE_H_
#define PS_SERVER_COORDINATOR_SERVER_PROBE_H_

#include <functional>
#include <string>

#include "absl/time/time.h"

namespace ps {

enum class ProbeResult {
  // A connection was established: the process is there (perhaps stopped or slow).
  kConnected,
  // The connection failed (refused or reset): nothing listens there any more.
  kRefused,
  // Neither within the timeout (a stopped process, or a slow network): no conclusion.
  kUndecided,
};

using ServerProber = std::function<ProbeResult(const std::string& address)>;

// Opens a fresh gRPC channel to `address` (never shared with other channels) and watches it
// for `timeout`.
ProbeResult ProbeServer(const std::string& address, absl::Duration timeout);

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_SERVER_PROBE_H_
