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
  options.security = cluster.options().security;
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
  ExitUnlessOk(client.status(), program, "connecting");
  return *std::move(client);
}

v1::TableSpec ZeroAspDenseSpec(const std::string& name, uint64_t size) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(size);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(0.001f);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_ASP);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_ZEROS);
  return spec;
}

}  // namespace ps::testing
