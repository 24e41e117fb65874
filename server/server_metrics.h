// The parameter server's Prometheus metrics (README "Operating"). Counted as requests are served:
//   ps_server_push_requests_total{table}, ps_server_push_bytes_total{table}    pushes applied
//   ps_server_pull_requests_total{table}, ps_server_pull_bytes_total{table}    pulls answered
//   ps_server_replication_bytes_total, ps_server_replication_seconds           primary -> replicas
//   ps_server_replication_failures_total                                        replicas reported
// and read at scrape time (Collect):
//   ps_server_shards{role}                     shards held, by role (primary, backup, learner)
//   ps_server_table_memory_bytes{table}        values, optimizer slots and bookkeeping
//   ps_server_table_clock{table,bound}         slowest and fastest live worker clock
//   ps_server_table_staleness{table}           fastest - slowest: how far apart workers are
//   ps_server_parked_pulls                     pulls waiting for slower workers
// Per-method counts, latencies and errors by gRPC code come from
// common/metrics/grpc_server_metrics.
//
// Thread-safety: safe for concurrent use.
#ifndef PS_SERVER_SERVER_METRICS_H_
#define PS_SERVER_SERVER_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/metric_registry.h"
#include "proto/parameter_server.pb.h"
#include "proto/types.pb.h"
#include "server/table_shard.h"

namespace ps {

class ServerMetrics {
 public:
  // The families live in `registry` (added on first use; several services of one process, as in
  // tests, share them). REQUIRES: `registry` lives as long as the process (GlobalMetrics()).
  explicit ServerMetrics(MetricRegistry& registry);

  // Table names for the labels, from the newest map (an unknown id is labelled by its number).
  void SetTables(const v1::ClusterMap& map);
  // A push (or a PushStream message) applied here as primary.
  void CountPush(const v1::PushRequest& header);
  // A pull answered: `slices` as sent.
  void CountPull(const google::protobuf::RepeatedPtrField<v1::ShardSlice>& slices);
  // A replication round to the backups: bytes sent, time until the last answered, failures.
  void CountReplication(uint64_t bytes, absl::Duration took, int failures);

  // The scrape-time metrics of `shards` and `parked_pulls`.
  void Collect(const std::vector<TableShard::Summary>& shards, size_t parked_pulls,
               Exposition& out) const;

 private:
  struct Families;
  // One set per registry, made on first use.
  static Families& FamiliesFor(MetricRegistry& registry);
  std::string TableLabel(uint32_t table_id) const;

  Families& families_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, std::string> names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_SERVER_METRICS_H_
