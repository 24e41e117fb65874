#include "server/server_metrics.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace ps {

struct ServerMetrics::Families {
  explicit Families(MetricRegistry& registry)
      : push_requests(registry.AddCounter("ps_server_push_requests_total",
                                          "Pushes applied by this server as primary.", {"table"})),
        push_bytes(registry.AddCounter("ps_server_push_bytes_total",
                                       "Payload bytes (keys and values) of the pushes applied.",
                                       {"table"})),
        pull_requests(registry.AddCounter("ps_server_pull_requests_total",
                                          "Pulls answered, per table read.", {"table"})),
        pull_bytes(registry.AddCounter("ps_server_pull_bytes_total",
                                       "Payload bytes of the values pulls were answered with.",
                                       {"table"})),
        replication_bytes(registry
                              .AddCounter("ps_server_replication_bytes_total",
                                          "Bytes of log entries sent to backups and learners.")
                              .With({})),
        replication_failures(
            registry
                .AddCounter("ps_server_replication_failures_total",
                            "Replication calls that failed (the replica is reported).")
                .With({})),
        replication_seconds(registry
                                .AddHistogram("ps_server_replication_seconds",
                                              "Time from sending a push to the replicas until "
                                              "the last one answered (replication lag).",
                                              {}, LatencySecondsBuckets())
                                .With({})) {}

  Family<Counter>& push_requests;
  Family<Counter>& push_bytes;
  Family<Counter>& pull_requests;
  Family<Counter>& pull_bytes;
  Counter& replication_bytes;
  Counter& replication_failures;
  Histogram& replication_seconds;
};

ServerMetrics::Families& ServerMetrics::FamiliesFor(MetricRegistry& registry) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* by_registry = new absl::flat_hash_map<MetricRegistry*, Families*>();
  absl::MutexLock lock(&mu);
  Families*& families = (*by_registry)[&registry];
  if (families == nullptr) families = new Families(registry);
  return *families;
}

ServerMetrics::ServerMetrics(MetricRegistry& registry) : families_(FamiliesFor(registry)) {}

void ServerMetrics::SetTables(const v1::ClusterMap& map) {
  std::vector<std::string> added;
  {
    absl::MutexLock lock(&mu_);
    for (const v1::TableInfo& table : map.tables()) {
      if (names_.emplace(table.table_id(), table.spec().name()).second) {
        added.push_back(table.spec().name());
      }
    }
  }
  // At zero from the start: a series that first appears at 1 is invisible to increase().
  for (const std::string& name : added) {
    families_.push_requests.With({name});
    families_.push_bytes.With({name});
    families_.pull_requests.With({name});
    families_.pull_bytes.With({name});
  }
}

std::string ServerMetrics::TableLabel(uint32_t table_id) const {
  absl::MutexLock lock(&mu_);
  const auto name = names_.find(table_id);
  return name != names_.end() ? name->second : absl::StrCat(table_id);
}

void ServerMetrics::CountPush(const v1::PushRequest& header) {
  // Per table in the request (usually one): one push, and its slices' bytes.
  std::map<uint32_t, uint64_t> bytes;
  for (const v1::ShardSlice& slice : header.slices()) {
    bytes[slice.table_id()] += slice.num_keys() * sizeof(uint64_t) + slice.values().payload_bytes();
  }
  for (const auto& [table, table_bytes] : bytes) {
    const std::string label = TableLabel(table);
    families_.push_requests.With({label}).Add();
    families_.push_bytes.With({label}).Add(static_cast<double>(table_bytes));
  }
}

void ServerMetrics::CountPull(const google::protobuf::RepeatedPtrField<v1::ShardSlice>& slices) {
  std::map<uint32_t, uint64_t> bytes;
  for (const v1::ShardSlice& slice : slices)
    bytes[slice.table_id()] += slice.values().payload_bytes();
  for (const auto& [table, table_bytes] : bytes) {
    const std::string label = TableLabel(table);
    families_.pull_requests.With({label}).Add();
    families_.pull_bytes.With({label}).Add(static_cast<double>(table_bytes));
  }
}

void ServerMetrics::CountReplication(uint64_t bytes, absl::Duration took, int failures) {
  families_.replication_bytes.Add(static_cast<double>(bytes));
  families_.replication_failures.Add(failures);
  families_.replication_seconds.Observe(absl::ToDoubleSeconds(took));
}

void ServerMetrics::Collect(const std::vector<TableShard::Summary>& shards, size_t parked_pulls,
                            Exposition& out) const {
  std::map<std::string, int> roles = {{"primary", 0}, {"backup", 0}, {"learner", 0}};
  struct Table {
    uint64_t memory = 0;
    bool led = false;
    uint64_t slowest = UINT64_MAX;
    uint64_t fastest = 0;
  };
  std::map<std::string, Table> tables;
  for (const TableShard::Summary& shard : shards) {
    const bool primary = shard.role == ReplicaRole::kPrimary;
    ++roles[primary ? "primary" : shard.role == ReplicaRole::kBackup ? "backup" : "learner"];
    Table& table = tables[TableLabel(shard.table_id)];
    table.memory += shard.memory_bytes;
    if (!primary) continue;  // Backups' clocks trail their primary's.
    table.led = true;
    table.slowest = std::min(table.slowest, shard.slowest_clock);
    table.fastest = std::max(table.fastest, shard.fastest_clock);
  }
  for (const auto& [role, count] : roles) {
    out.Add("ps_server_shards", "Shard replicas held, by role.", MetricType::kGauge,
            {{"role", role}}, count);
  }
  for (const auto& [name, table] : tables) {
    out.Add("ps_server_table_memory_bytes",
            "Memory of a table's shards here: values, optimizer slots and bookkeeping.",
            MetricType::kGauge, {{"table", name}}, static_cast<double>(table.memory));
    if (!table.led) continue;
    out.Add("ps_server_table_clock",
            "Slowest and fastest clock live workers have reached on the shards led here "
            "(BSP: completed clocks and the newest pushed).",
            MetricType::kGauge, {{"table", name}, {"bound", "slowest"}},
            static_cast<double>(table.slowest));
    out.Add("ps_server_table_clock",
            "Slowest and fastest clock live workers have reached on the shards led here "
            "(BSP: completed clocks and the newest pushed).",
            MetricType::kGauge, {{"table", name}, {"bound", "fastest"}},
            static_cast<double>(table.fastest));
    out.Add("ps_server_table_staleness",
            "Clocks between the fastest and the slowest live worker on the shards led here.",
            MetricType::kGauge, {{"table", name}},
            static_cast<double>(table.fastest - std::min(table.fastest, table.slowest)));
  }
  out.Add("ps_server_parked_pulls", "Pulls waiting here for slower workers (BSP, SSP).",
          MetricType::kGauge, {}, static_cast<double>(parked_pulls));
}

}  // namespace ps
