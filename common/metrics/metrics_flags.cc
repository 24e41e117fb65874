#include "common/metrics/metrics_flags.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

ABSL_FLAG(int, metrics_port, 0,
          "Port of the HTTP endpoint serving Prometheus metrics on /metrics (0: no endpoint).");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "Interface the metrics endpoint listens on; 0.0.0.0 for a Prometheus on another host "
          "(it serves read-only figures, in plaintext).");

namespace ps {
namespace {

// Flags defined in this repository's directories, not Abseil's or gRPC's.
bool OursFile(absl::string_view file) {
  for (const char* dir : {"common/", "server/", "worker/", "tools/", "tests/"}) {
    if (absl::StartsWith(file, dir) || absl::StrContains(file, absl::StrCat("/", dir))) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status CheckMetricsFlags() {
  const int port = absl::GetFlag(FLAGS_metrics_port);
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics_port=", port, " is not a port"));
  }
  if (absl::GetFlag(FLAGS_metrics_host).empty()) {
    return absl::InvalidArgumentError("--metrics_host is empty");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpEndpoint>> StartMetricsEndpointFromFlags(
    std::map<std::string, HttpHandler> extra) {
  const int port = absl::GetFlag(FLAGS_metrics_port);
  if (port == 0) return nullptr;
  extra.emplace("/metrics", MetricsHandler(GlobalMetrics()));
  return HttpEndpoint::Start(absl::GetFlag(FLAGS_metrics_host), port, std::move(extra));
}

std::string EffectiveFlags() {
  std::vector<std::string> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!OursFile(flag->Filename())) continue;
    flags.push_back(absl::StrCat("--", name, "=", flag->CurrentValue()));
  }
  std::sort(flags.begin(), flags.end());
  return absl::StrJoin(flags, " ");
}

}  // namespace ps
