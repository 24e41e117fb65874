// What the benchmarks that drive a localhost cluster share: starting it and connecting a worker,
// or exiting with a message naming the program (a benchmark has nothing to do without them).
#ifndef PS_TESTS_BENCH_BENCH_CLUSTER_H_
#define PS_TESTS_BENCH_BENCH_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"

namespace ps::testing {

std::unique_ptr<LocalCluster> StartClusterOrExit(const LocalClusterOptions& options,
                                                 const char* program);

// A PsClient registered as a worker of `cluster`, with the cluster's own credentials
// (LocalClusterOptions::security).
std::unique_ptr<PsClient> ConnectWorkerOrExit(LocalCluster& cluster, const char* program);

// A dense ASP table of `size` floats, zeros, plain SGD (learning rate 0.001): a push costs the
// same whatever the values, so throughput figures do not depend on them.
v1::TableSpec ZeroAspDenseSpec(const std::string& name, uint64_t size);

}  // namespace ps::testing

#endif  // PS_TESTS_BENCH_BENCH_CLUSTER_H_
