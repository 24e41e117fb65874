// What the coordinator serves over HTTP (ps_coordinator --http_port): the live status page on /,
// the cluster status as JSON on /api/status (the GetClusterStatus answer, proto field names;
// ?curves=1 adds the training curves), and /metrics, with the coordinator's own metrics
// collected from the same status.
#ifndef PS_SERVER_COORDINATOR_STATUS_HTTP_H_
#define PS_SERVER_COORDINATOR_STATUS_HTTP_H_

#include <map>
#include <string>

#include "common/metrics/http_endpoint.h"
#include "common/metrics/metric_registry.h"
#include "server/coordinator/coordinator_service.h"

namespace ps {

// The handlers of the coordinator's HTTP endpoint (service borrowed; it must outlive them).
std::map<std::string, HttpHandler> StatusHandlers(const CoordinatorService& service);

// Writes the coordinator's gauges, read from `status`, into `out`: map epoch, members by role
// and state, shards short of replicas or without a primary, learners and moves in flight, and
// per worker its step, speed and straggler flag.
void CollectCoordinatorMetrics(const v1::ClusterStatus& status, uint32_t replication_factor,
                               Exposition& out);

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_STATUS_HTTP_H_
