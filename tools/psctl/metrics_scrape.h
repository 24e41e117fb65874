// `psctl metrics`: the coordinator's Prometheus metrics, read from the HTTP endpoint it serves
// with --http_port (plaintext, GET /metrics), optionally cut down to the metric families whose
// names begin with a prefix. Stateless functions; safe for concurrent use.
#ifndef PS_TOOLS_PSCTL_METRICS_SCRAPE_H_
#define PS_TOOLS_PSCTL_METRICS_SCRAPE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ps::psctl {

// host:port of the endpoint, from --http=[HOST:]PORT. A bare PORT takes the host of
// `coordinator_address` (host:port), the coordinator psctl talks to: it serves /metrics itself,
// and with several coordinators only the one that leads does. (Without --http, psctl passes the
// port the coordinator announces in ClusterStatus.http_port.)
// Errors: InvalidArgument for an empty flag or a port outside 1..65535.
absl::StatusOr<std::string> MetricsAddress(const std::string& http_flag,
                                           const std::string& coordinator_address);

// Whether --http names its host (then psctl need not ask the coordinators which one leads).
bool NamesHost(const std::string& http_flag);

// The body of GET http://ADDRESS/metrics, waiting at most `timeout` to connect and to read.
// Errors: Unavailable naming the address when it cannot be reached; Internal for a status
// other than 200.
absl::StatusOr<std::string> FetchMetrics(const std::string& address, absl::Duration timeout);

// The lines of a Prometheus text exposition that belong to metric families whose names begin
// with `prefix` (their # HELP and # TYPE lines and samples); everything for an empty prefix.
std::string FilterMetrics(absl::string_view exposition, absl::string_view prefix);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_METRICS_SCRAPE_H_
