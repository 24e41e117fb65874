// Coordinator address lists: --coordinator=HOST:PORT[,HOST:PORT...] names every coordinator of
// a cluster (one leads; standbys do not listen), and clients find the one that serves.
// Stateless; safe for concurrent use.
#ifndef PS_COMMON_COORDINATOR_ADDRESSES_H_
#define PS_COMMON_COORDINATOR_ADDRESSES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/transport_security.h"

namespace ps {

// The addresses in a comma-separated list, blanks trimmed, empty entries dropped.
std::vector<std::string> SplitCoordinatorAddresses(const std::string& list);

// The first address in `list` whose coordinator answers (GetClusterStatus) within `timeout`,
// trying them in turn. For one-shot tools; long-lived members use CoordinatorSession.
// Errors: InvalidArgument for an empty list; Unavailable naming each address's last error.
absl::StatusOr<std::string> FindServingCoordinator(
    const std::string& list, absl::Duration timeout,
    const TransportSecurity& security = *TransportSecurity::Plaintext());

}  // namespace ps

#endif  // PS_COMMON_COORDINATOR_ADDRESSES_H_
