// A training cluster watched by a real Prometheus, as an operator would watch it: a coordinator
// (--http_port), 2 servers and 2 SSP workers (--metrics_port each) on 127.0.0.1. promtool finds
// nothing to complain about in any daemon's /metrics; Prometheus scrapes every daemon (`up` 1)
// and sees pushes, table clocks and worker steps grow and the tables' staleness reported; a
// SIGKILLed worker shows in the coordinator's metrics as a dead worker (gauge and counter) and as
// a target that is down, within the failure timeout plus a few scrapes.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/free_port.h"
#include "tests/harness/http_get.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/small_training.h"
#include "tests/harness/test_prometheus.h"

namespace ps::testing {
namespace {

// Training: long enough (1000 epochs) to outlast the test, which ends it by tearing the cluster
// down; SSP so that the servers track clocks and staleness; a progress record (and so new worker
// metrics) every 10 steps.
const std::vector<std::string> kEndlessSspTraining =
    SmallTrainingArgs(/*epochs=*/1000, /*examples=*/6000, /*hidden=*/64,
                      {"--consistency=ssp", "--staleness=2", "--log_every_steps=10"});

// Includes the worker's start-up (about 10 s to generate its data on 2 busy cores).
constexpr absl::Duration kTrainingDeadline = absl::Seconds(60);

std::map<std::string, double> ByInstance(const std::vector<PromSample>& samples) {
  std::map<std::string, double> values;
  for (const PromSample& sample : samples) values[sample.labels.at("instance")] = sample.value;
  return values;
}

// `count` distinct free ports (fewer if the machine has none to give).
std::vector<int> DistinctFreePorts(int count) {
  std::vector<int> ports;
  for (int attempt = 0; attempt < 10 * count && static_cast<int>(ports.size()) < count; ++attempt) {
    const int port = PickFreePort();
    if (port != 0 && std::find(ports.begin(), ports.end(), port) == ports.end()) {
      ports.push_back(port);
    }
  }
  return ports;
}

class PrometheusTest : public ::testing::Test {
 protected:
  // Waits until `promql` has a series for each of `instances` and then until every one of them
  // has grown past its first value.
  void ExpectEveryInstanceGrows(const TestPrometheus& prometheus, const std::string& promql,
                                const std::vector<std::string>& instances) {
    SCOPED_TRACE(promql);
    const auto covers_all = [&](const std::vector<PromSample>& samples) {
      const std::map<std::string, double> values = ByInstance(samples);
      for (const std::string& instance : instances) {
        if (values.count(instance) == 0) return false;
      }
      return true;
    };
    absl::StatusOr<std::vector<PromSample>> first =
        prometheus.WaitFor(promql, covers_all, kTrainingDeadline);
    ASSERT_TRUE(first.ok()) << first.status();
    const std::map<std::string, double> before = ByInstance(*first);
    absl::StatusOr<std::vector<PromSample>> grown = prometheus.WaitFor(
        promql,
        [&](const std::vector<PromSample>& samples) {
          const std::map<std::string, double> now = ByInstance(samples);
          for (const std::string& instance : instances) {
            const auto value = now.find(instance);
            if (value == now.end() || value->second <= before.at(instance)) return false;
          }
          return true;
        },
        kTrainingDeadline);
    ASSERT_TRUE(grown.ok()) << grown.status() << "\nfirst answer:\n" << ToString(*first);
  }

  // promtool's lint of what `address` serves on /metrics, which must hold `family`.
  void ExpectLintClean(const std::string& address, const std::string& family) {
    SCOPED_TRACE(address);
    absl::StatusOr<std::string> exposition = HttpGet(address, "/metrics");
    ASSERT_TRUE(exposition.ok()) << exposition.status();
    EXPECT_NE(exposition->find("\n" + family), std::string::npos) << *exposition;
    absl::StatusOr<std::string> complaints = PromtoolComplaints(*exposition);
    ASSERT_TRUE(complaints.ok()) << complaints.status();
    EXPECT_EQ(*complaints, "") << "promtool check metrics on http://" << address << "/metrics:\n"
                               << *complaints << "\nof:\n"
                               << *exposition;
  }
};

TEST_F(PrometheusTest, PrometheusScrapesEveryDaemonAndSeesTrainingAndAKilledWorker) {
  PS_SKIP_WITHOUT_PROMETHEUS();
  const std::vector<int> ports = DistinctFreePorts(5);
  ASSERT_EQ(ports.size(), 5u) << "no free ports";
  const auto address = [](int port) { return absl::StrCat("127.0.0.1:", port); };
  const std::string coordinator = address(ports[0]);
  const std::vector<std::string> servers = {address(ports[1]), address(ports[2])};
  const std::vector<std::string> workers = {address(ports[3]), address(ports[4])};

  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 2;
  options.num_shards = 4;
  options.replication_factor = 2;
  // Training keeps both cores busy; a longer timeout keeps heartbeats from looking late.
  options.failure_timeout_ms = 5000;
  options.coordinator_args = {absl::StrCat("--http_port=", ports[0])};
  options.per_server_args = {{absl::StrCat("--metrics_port=", ports[1])},
                             {absl::StrCat("--metrics_port=", ports[2])}};
  options.worker_args = kEndlessSspTraining;
  options.per_worker_args = {{absl::StrCat("--metrics_port=", ports[3])},
                             {absl::StrCat("--metrics_port=", ports[4])}};
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;

  absl::StatusOr<std::unique_ptr<TestPrometheus>> started_prometheus = TestPrometheus::Start(
      {{"ps_coordinator", {coordinator}}, {"ps_server", servers}, {"ps_worker", workers}});
  ASSERT_TRUE(started_prometheus.ok()) << started_prometheus.status();
  const TestPrometheus& prometheus = **started_prometheus;
  const std::vector<std::string> everyone = {coordinator, servers[0], servers[1], workers[0],
                                             workers[1]};

  absl::StatusOr<std::vector<PromSample>> up = prometheus.WaitFor(
      "up",
      [&](const std::vector<PromSample>& samples) {
        const std::map<std::string, double> values = ByInstance(samples);
        for (const std::string& target : everyone) {
          if (values.count(target) == 0 || values.at(target) != 1) return false;
        }
        return values.size() == everyone.size();
      },
      absl::Seconds(20));
  ASSERT_TRUE(up.ok()) << up.status() << "\n" << cluster.AllLogs();

  // Training, as Prometheus sees it.
  ExpectEveryInstanceGrows(prometheus, "ps_worker_step", workers);
  ExpectEveryInstanceGrows(prometheus, "ps_server_table_clock{bound=\"fastest\"}", servers);
  absl::StatusOr<std::vector<PromSample>> pushes = prometheus.WaitFor(
      "sum by (instance) (increase(ps_server_push_requests_total[10s]))",
      [&](const std::vector<PromSample>& samples) {
        const std::map<std::string, double> values = ByInstance(samples);
        return values.size() == servers.size() && values.begin()->second > 0 &&
               values.rbegin()->second > 0;
      },
      kTrainingDeadline);
  EXPECT_TRUE(pushes.ok()) << pushes.status();
  absl::StatusOr<std::vector<PromSample>> staleness =
      prometheus.Query("ps_server_table_staleness{table=\"mlp\"}");
  ASSERT_TRUE(staleness.ok()) << staleness.status();
  EXPECT_EQ(ByInstance(*staleness).size(), servers.size()) << ToString(*staleness);
  for (const PromSample& sample : *staleness) EXPECT_GE(sample.value, 0) << ToString(*staleness);
  absl::StatusOr<std::vector<PromSample>> alive =
      prometheus.Query("ps_coordinator_members{role=\"worker\",state=\"alive\"}");
  ASSERT_TRUE(alive.ok()) << alive.status();
  ASSERT_EQ(alive->size(), 1u) << ToString(*alive);
  EXPECT_EQ((*alive)[0].value, 2);

  // Every daemon's exposition, mid-training (every family present), passes promtool.
  ExpectLintClean(coordinator, "ps_coordinator_worker_step");
  for (const std::string& server : servers) ExpectLintClean(server, "ps_server_table_clock");
  for (const std::string& worker : workers) ExpectLintClean(worker, "ps_worker_step");

  // A worker dies: the coordinator's metrics say so once it is declared dead, and Prometheus
  // finds its target down.
  const absl::Time killed_at = absl::Now();
  cluster.worker(1).Signal(SIGKILL);
  const absl::Duration deadline =
      absl::Milliseconds(cluster.options().failure_timeout_ms) + absl::Seconds(15);
  const auto one = [](const std::vector<PromSample>& samples) {
    return samples.size() == 1 && samples[0].value == 1;
  };
  absl::StatusOr<std::vector<PromSample>> dead =
      prometheus.WaitFor("ps_coordinator_members{role=\"worker\",state=\"dead\"}", one, deadline);
  ASSERT_TRUE(dead.ok()) << dead.status() << "\n" << cluster.AllLogs();
  const absl::Duration seen_dead = absl::Now() - killed_at;
  absl::StatusOr<std::vector<PromSample>> declared = prometheus.WaitFor(
      "ps_coordinator_members_declared_dead_total{role=\"worker\"}", one, absl::Seconds(10));
  EXPECT_TRUE(declared.ok()) << declared.status();
  // What an alert on deaths would evaluate (the counter was exposed at 0 before the death).
  absl::StatusOr<std::vector<PromSample>> alert = prometheus.WaitFor(
      "increase(ps_coordinator_members_declared_dead_total{role=\"worker\"}[1m]) > 0",
      [](const std::vector<PromSample>& samples) { return samples.size() == 1; },
      absl::Seconds(10));
  EXPECT_TRUE(alert.ok()) << alert.status();
  absl::StatusOr<std::vector<PromSample>> down = prometheus.WaitFor(
      absl::StrCat("up{instance=\"", workers[1], "\"}"),
      [](const std::vector<PromSample>& samples) {
        return samples.size() == 1 && samples[0].value == 0;
      },
      deadline);
  EXPECT_TRUE(down.ok()) << down.status();
  std::printf(
      "SIGKILL of worker 1 -> Prometheus shows a dead worker: %.0f ms (failure timeout "
      "%u ms, scrape interval 1 s)\n",
      absl::ToDoubleMilliseconds(seen_dead), cluster.options().failure_timeout_ms);
  absl::StatusOr<std::vector<PromSample>> others_up =
      prometheus.Query(absl::StrCat("up{instance!=\"", workers[1], "\",job!=\"ps_worker\"}"));
  ASSERT_TRUE(others_up.ok()) << others_up.status();
  EXPECT_EQ(others_up->size(), 3u) << ToString(*others_up);
  for (const PromSample& sample : *others_up) EXPECT_EQ(sample.value, 1) << ToString(*others_up);
  EXPECT_EQ(cluster.worker(1).Wait(absl::Seconds(10)), 128 + SIGKILL);
}

}  // namespace
}  // namespace ps::testing
