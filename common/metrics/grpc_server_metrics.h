// Per-method metrics of a gRPC server, as a server interceptor: every call's outcome and latency,
// named like go-grpc-prometheus (the de facto convention dashboards expect):
//   grpc_server_handled_total{grpc_service, grpc_method, grpc_code}  calls finished, by status
//   grpc_server_handling_seconds{grpc_service, grpc_method}          time from start to status
// StartEndpoint (common/grpc_endpoint.h) installs it on every daemon's server.
#ifndef PS_COMMON_METRICS_GRPC_SERVER_METRICS_H_
#define PS_COMMON_METRICS_GRPC_SERVER_METRICS_H_

#include <memory>

#include "common/metrics/metric_registry.h"
#include "grpcpp/support/server_interceptor.h"

namespace ps {

// An interceptor factory recording into `registry` (which must live as long as the process:
// GlobalMetrics()). The families are added on the first call for a registry.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> GrpcServerMetrics(
    MetricRegistry& registry);

}  // namespace ps

#endif  // PS_COMMON_METRICS_GRPC_SERVER_METRICS_H_
