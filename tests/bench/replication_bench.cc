// Replication figures against real localhost processes, printed as a table (README "Fault
// tolerance"); not part of the test suite's pass/fail:
//   cost:     16 MB dense push throughput with R = 1, 2 and 3 (R servers, one worker), one run.
//   failover: write unavailability after SIGKILL of a primary: the longest gap between
//             consecutive acknowledged pushes around the kill, with default heartbeats
//             (200 ms / 1000 ms) and tuned ones (50 ms / 250 ms).
//   restore:  time to restore R for one 64 MB shard under ongoing pushes after its backup is
//             killed, and the snapshot copy rate against the pull throughput of the same run.
// Usage: replication_bench [--sections=cost,failover,restore] [--rounds=3]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "tests/bench/bench_cluster.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"

ABSL_FLAG(std::string, sections, "cost,failover,restore", "Which measurements to run.");
ABSL_FLAG(int, rounds, 3, "Repetitions of each measurement (the median is reported).");

namespace ps::bench {
namespace {

using ::ps::testing::LocalCluster;
using ::ps::testing::LocalClusterOptions;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

void Check(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "replication_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<LocalCluster> StartCluster(const LocalClusterOptions& options) {
  return ::ps::testing::StartClusterOrExit(options, "replication_bench");
}

std::unique_ptr<PsClient> Worker(LocalCluster& cluster) {
  return ::ps::testing::ConnectWorkerOrExit(cluster, "replication_bench");
}

v1::ClusterMap CurrentMap(LocalCluster& cluster) {
  absl::StatusOr<v1::ClusterMap> map =
      cluster.WaitForMap([](const v1::ClusterMap&) { return true; }, absl::Seconds(5));
  Check(map.status(), "reading the map");
  return *map;
}

// GB/s of `pushes` 16 MB dense pushes with R replicas.
double PushThroughput(uint32_t replicas) {
  LocalClusterOptions options;
  options.servers = static_cast<int>(replicas);
  options.workers = 0;
  options.num_shards = 4;
  options.replication_factor = replicas;
  std::unique_ptr<LocalCluster> cluster = StartCluster(options);
  std::unique_ptr<PsClient> client = Worker(*cluster);
  const uint64_t size = (uint64_t{16} << 20) / sizeof(float);
  absl::StatusOr<v1::TableInfo> table = client->CreateTable(testing::ZeroAspDenseSpec("bench", size));
  Check(table.status(), "creating the table");
  std::vector<float> gradient(size, 0.5f);
  for (int i = 0; i < 3; ++i) Check(client->Push(*table, gradient), "warm-up push");
  constexpr int kPushes = 20;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kPushes; ++i) Check(client->Push(*table, gradient), "push");
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return kPushes * static_cast<double>(size * sizeof(float)) / seconds / 1e9;
}

void RunCost(int rounds) {
  std::vector<double> r1, r2, r3;
  for (int round = 0; round < rounds; ++round) {
    r1.push_back(PushThroughput(1));
    r2.push_back(PushThroughput(2));
    r3.push_back(PushThroughput(3));
  }
  std::printf("\n16 MB dense push throughput (median of %d rounds, GB/s)\n", rounds);
  std::printf("| R | GB/s | vs R = 1 |\n|---|---|---|\n");
  const double base = Median(r1);
  for (const auto& [r, values] : {std::pair<int, std::vector<double>>{1, r1}, {2, r2}, {3, r3}}) {
    std::printf("| %d | %.3f | %.2f |\n", r, Median(values), Median(values) / base);
  }
}

// The longest gap between consecutive acknowledged pushes around a primary's SIGKILL, in ms.
double Unavailability(uint32_t heartbeat_ms, uint32_t timeout_ms) {
  LocalClusterOptions options;
  options.servers = 3;
  options.workers = 0;
  options.num_shards = 6;
  options.replication_factor = 2;
  options.heartbeat_interval_ms = heartbeat_ms;
  options.failure_timeout_ms = timeout_ms;
  std::unique_ptr<LocalCluster> cluster = StartCluster(options);
  std::unique_ptr<PsClient> client = Worker(*cluster);
  absl::StatusOr<v1::TableInfo> table = client->CreateTable(testing::ZeroAspDenseSpec("failover", 6000));
  Check(table.status(), "creating the table");
  std::vector<float> gradient(6000, 1.0f);
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<absl::Time> acks;
  std::thread pusher([&] {
    while (!stop) {
      Check(client->Push(*table, gradient), "push");
      absl::MutexLock lock(&mu);
      acks.push_back(absl::Now());
    }
  });
  absl::SleepFor(absl::Milliseconds(500));  // Steady pushing before the kill.
  const v1::ClusterMap map = CurrentMap(*cluster);
  const int victim = cluster->ServerIndex(map, map.shards(0).replicas(0));
  const absl::Time killed = absl::Now();
  cluster->server(victim).Signal(SIGKILL);
  absl::SleepFor(absl::Milliseconds(timeout_ms) * 2 + absl::Milliseconds(500));
  stop = true;
  pusher.join();
  absl::MutexLock lock(&mu);
  double longest = 0;
  for (size_t i = 1; i < acks.size(); ++i) {
    if (acks[i] < killed) continue;
    longest = std::max(longest, absl::ToDoubleMilliseconds(acks[i] - std::max(acks[i - 1], killed)));
  }
  return longest;
}

void RunFailover(int rounds) {
  std::printf("\nWrite unavailability after SIGKILL of a primary (ms from the kill to the first "
              "acknowledged push that needed the new primary; median of %d)\n", rounds);
  std::printf("| heartbeat / failure timeout | unavailability ms | rounds |\n|---|---|---|\n");
  for (const auto& [heartbeat, timeout] :
       {std::pair<uint32_t, uint32_t>{200, 1000}, {50, 250}}) {
    std::vector<double> gaps;
    for (int round = 0; round < rounds; ++round) gaps.push_back(Unavailability(heartbeat, timeout));
    std::string all;
    for (double gap : gaps) all += std::to_string(static_cast<int>(gap)) + " ";
    std::printf("| %u ms / %u ms | %.0f | %s|\n", heartbeat, timeout, Median(gaps), all.c_str());
  }
}

struct RestoreFigures {
  double pull_gbps = 0;
  double detect_ms = 0;      // Kill -> learner in the map.
  double restore_ms = 0;     // Learner in the map -> listed as a replica.
  double copy_gbps = 0;      // The snapshot copy itself, as the learner logged it.
};

// The learner's "installed from server S: B bytes in T s" log line: B / T.
double LoggedCopyRate(LocalCluster& cluster) {
  for (int i = 0; i < cluster.num_servers(); ++i) {
    std::ifstream log(cluster.server(i).log_path());
    std::string line;
    while (std::getline(log, line)) {
      const size_t at = line.find("installed from server");
      if (at == std::string::npos) continue;
      unsigned server = 0;
      unsigned long long bytes = 0;
      double seconds = 0;
      if (std::sscanf(line.c_str() + at, "installed from server %u: %llu bytes in %lf s", &server,
                      &bytes, &seconds) == 3 &&
          seconds > 0) {
        return bytes / seconds / 1e9;
      }
    }
  }
  return 0;
}

RestoreFigures Restore() {
  LocalClusterOptions options;
  options.servers = 3;
  options.workers = 0;
  options.num_shards = 1;
  options.replication_factor = 2;
  std::unique_ptr<LocalCluster> cluster = StartCluster(options);
  std::unique_ptr<PsClient> client = Worker(*cluster);
  const uint64_t size = (uint64_t{64} << 20) / sizeof(float);
  absl::StatusOr<v1::TableInfo> table = client->CreateTable(testing::ZeroAspDenseSpec("big", size));
  Check(table.status(), "creating the table");
  RestoreFigures figures;
  std::vector<float> values(size);
  Check(client->Pull(*table, absl::MakeSpan(values)), "warm-up pull");
  const absl::Time pull_start = absl::Now();
  constexpr int kPulls = 5;
  for (int i = 0; i < kPulls; ++i) Check(client->Pull(*table, absl::MakeSpan(values)), "pull");
  figures.pull_gbps = kPulls * (size * 4.0) / absl::ToDoubleSeconds(absl::Now() - pull_start) / 1e9;

  std::atomic<bool> stop{false};
  std::thread pusher([&] {
    std::vector<float> gradient(size, 0.25f);
    while (!stop) {
      Check(client->Push(*table, gradient), "push");
      absl::SleepFor(absl::Milliseconds(100));  // Ongoing training pushes, about 0.5 GB/s.
    }
  });
  const v1::ClusterMap map = CurrentMap(*cluster);
  const uint32_t backup = map.shards(0).replicas(1);
  const absl::Time killed = absl::Now();
  cluster->server(cluster->ServerIndex(map, backup)).Signal(SIGKILL);
  absl::StatusOr<v1::ClusterMap> learning = cluster->WaitForMap(
      [](const v1::ClusterMap& m) { return m.shards(0).learners_size() > 0; }, absl::Seconds(30));
  Check(learning.status(), "waiting for a learner");
  const absl::Time learner_at = absl::Now();
  absl::StatusOr<v1::ClusterMap> restored = cluster->WaitForMap(
      [](const v1::ClusterMap& m) {
        return m.shards(0).replicas_size() == 2 && m.shards(0).learners_size() == 0;
      },
      absl::Seconds(120));
  Check(restored.status(), "waiting for R to be restored");
  const absl::Time restored_at = absl::Now();
  stop = true;
  pusher.join();
  figures.detect_ms = absl::ToDoubleMilliseconds(learner_at - killed);
  figures.restore_ms = absl::ToDoubleMilliseconds(restored_at - learner_at);
  figures.copy_gbps = LoggedCopyRate(*cluster);
  return figures;
}

void RunRestore(int rounds) {
  std::vector<double> pulls, detects, copies, rates;
  for (int round = 0; round < rounds; ++round) {
    const RestoreFigures f = Restore();
    pulls.push_back(f.pull_gbps);
    detects.push_back(f.detect_ms);
    copies.push_back(f.restore_ms);
    rates.push_back(f.copy_gbps);
  }
  std::printf("\nRestoring R for a 64 MB shard under ongoing pushes (median of %d)\n", rounds);
  std::printf("| kill -> learner assigned ms | learner assigned -> listed as replica ms | "
              "snapshot copy GB/s | pull GB/s (same run) | copy / pull |\n|---|---|---|---|---|\n");
  std::printf("| %.0f | %.0f | %.3f | %.3f | %.2f |\n", Median(detects), Median(copies),
              Median(rates), Median(pulls), Median(rates) / Median(pulls));
}

}  // namespace
}  // namespace ps::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ps::InitLogging("bench", "warn").IgnoreError();
  const int rounds = absl::GetFlag(FLAGS_rounds);
  for (absl::string_view section : absl::StrSplit(absl::GetFlag(FLAGS_sections), ',')) {
    if (section == "cost") ps::bench::RunCost(rounds);
    if (section == "failover") ps::bench::RunFailover(rounds);
    if (section == "restore") ps::bench::RunRestore(rounds);
  }
  return 0;
}
