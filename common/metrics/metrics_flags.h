// The flags every daemon shares for its metrics endpoint (--metrics_port, --metrics_host), and
// the log line of a daemon's effective configuration. For main() only.
#ifndef PS_COMMON_METRICS_METRICS_FLAGS_H_
#define PS_COMMON_METRICS_METRICS_FLAGS_H_

#include <map>
#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics/http_endpoint.h"

ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(std::string, metrics_host);

namespace ps {

// InvalidArgument for a port outside 0..65535 or an empty host.
absl::Status CheckMetricsFlags();

// With --metrics_port set, serves GlobalMetrics() on /metrics, and `extra` (the coordinator's
// status page), on --metrics_host. nullptr without it.
// Errors: HttpEndpoint::Start's.
absl::StatusOr<std::unique_ptr<HttpEndpoint>> StartMetricsEndpointFromFlags(
    std::map<std::string, HttpHandler> extra = {});

// Every flag of this project (not of the libraries) with its value, as one line: "--a=1 --b=x".
// Daemons log it at start, so a log says how the process was configured (--flagfile included).
std::string EffectiveFlags();

}  // namespace ps

#endif  // PS_COMMON_METRICS_METRICS_FLAGS_H_
