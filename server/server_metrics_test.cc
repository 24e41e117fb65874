#include "server/server_metrics.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// One registry for the process, as ServerMetrics requires.
MetricRegistry& Registry() {
  static MetricRegistry* const registry = new MetricRegistry();
  return *registry;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(ServerMetricsTest, CountsPushesAndPullsPerTableByName) {
  MetricRegistry& registry = Registry();
  ServerMetrics metrics(registry);
  v1::ClusterMap map;
  v1::TableInfo* table = map.add_tables();
  table->set_table_id(3);
  table->mutable_spec()->set_name("w");
  metrics.SetTables(map);
  EXPECT_TRUE(Has(registry.Render(), "ps_server_push_requests_total{table=\"w\"} 0"))
      << "a known table's counters start at zero";
  v1::PushRequest push;
  for (const uint32_t table_id : {3u, 3u, 9u}) {
    v1::ShardSlice* slice = push.add_slices();
    slice->set_table_id(table_id);
    slice->set_num_keys(2);  // 16 bytes of keys.
    slice->mutable_values()->set_payload_bytes(100);
  }
  metrics.CountPush(push);
  metrics.CountPull(push.slices());
  metrics.CountReplication(500, absl::Milliseconds(3), 1);

  const std::string text = registry.Render();
  EXPECT_TRUE(Has(text, "ps_server_push_requests_total{table=\"w\"} 1")) << text;
  EXPECT_TRUE(Has(text, "ps_server_push_bytes_total{table=\"w\"} 232")) << text;
  EXPECT_TRUE(Has(text, "ps_server_push_requests_total{table=\"9\"} 1")) << "unknown: its id";
  EXPECT_TRUE(Has(text, "ps_server_pull_bytes_total{table=\"w\"} 200")) << text;
  EXPECT_TRUE(Has(text, "ps_server_replication_bytes_total 500")) << text;
  EXPECT_TRUE(Has(text, "ps_server_replication_failures_total 1")) << text;
  EXPECT_TRUE(Has(text, "ps_server_replication_seconds_count 1")) << text;
}

TEST(ServerMetricsTest, CollectsRolesMemoryClocksAndStalenessOfLedShards) {
  MetricRegistry& registry = Registry();
  ServerMetrics metrics(registry);
  v1::ClusterMap map;
  v1::TableInfo* table = map.add_tables();
  table->set_table_id(1);
  table->mutable_spec()->set_name("emb");
  metrics.SetTables(map);
  std::vector<TableShard::Summary> shards(3);
  shards[0] = {1, 0, ReplicaRole::kPrimary, true, 1000, 4, 7};
  shards[1] = {1, 1, ReplicaRole::kPrimary, true, 500, 5, 9};
  shards[2] = {1, 2, ReplicaRole::kBackup, true, 700, 0, 0};  // Backups' clocks do not count.
  Exposition out;
  metrics.Collect(shards, 12, out);
  const std::string text = out.Text();
  EXPECT_TRUE(Has(text, "ps_server_shards{role=\"primary\"} 2")) << text;
  EXPECT_TRUE(Has(text, "ps_server_shards{role=\"backup\"} 1")) << text;
  EXPECT_TRUE(Has(text, "ps_server_shards{role=\"learner\"} 0")) << text;
  EXPECT_TRUE(Has(text, "ps_server_table_memory_bytes{table=\"emb\"} 2200")) << text;
  EXPECT_TRUE(Has(text, "ps_server_table_clock{table=\"emb\",bound=\"slowest\"} 4")) << text;
  EXPECT_TRUE(Has(text, "ps_server_table_clock{table=\"emb\",bound=\"fastest\"} 9")) << text;
  EXPECT_TRUE(Has(text, "ps_server_table_staleness{table=\"emb\"} 5")) << text;
  EXPECT_TRUE(Has(text, "ps_server_parked_pulls 12")) << text;
}

}  // namespace
}  // namespace ps
