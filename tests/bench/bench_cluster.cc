#include "tests/bench/bench_cluster.h"

#include <cstdio>
#include <cstdlib>

namespace ps::testing {
namespace {

void ExitUnlessOk(const absl::Status& status, const char* program, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s: %s\n", program, what, status.ToString().c_str());
  std::exit(1);
}

}  // namespace

std::unique_ptr<LocalCluster> StartClusterOrExit(const LocalClusterOptions& options,
                                                 const char* program) {
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  ExitUnlessOk(cluster.status(), program, "starting the cluster");
  return *std::move(cluster);
}

std::unique_ptr<PsClient> ConnectWorkerOrExit(LocalCluster& cluster, const char* program) {
  PsClientOptions options;
  options.coordinator_address = cluster.coordinator_address();
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
  ExitUnlessOk(client.status(), program, "connecting");
  return *std::move(client);
}

}  // namespace ps::testing
