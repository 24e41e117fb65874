// Training throughput while a cluster scales out from 2 to 3 servers, against real localhost
// processes (README "Drain and scale-out"); not part of the test suite's pass/fail.
//
// Workers (PsClients in this process, one thread each) run steps of a dense ASP table: push a
// gradient of the whole table, pull it back. After a steady phase on 2 servers a third server is
// started; rebalancing moves 8 of the 24 replicas (4 of them primaries, each handed over under a
// seal) to it while the workers go on. Throughput is steps/s, each step counted by the fraction
// of it that falls in a window: before (2 servers, after a warm-up), during (from the third
// server's start until the map shows the moves done) and after (3 servers). The warm-up (3 steps
// per worker) is left out: first steps touch the servers' memory. The figure of merit
// is during / before, in one run (target >= 0.7).
// Usage: scale_out_bench [--table_mb=128] [--workers=2] [--rounds=3] [--max_concurrent_moves=2]
//                        [--move_pause_ms=500]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "tests/bench/bench_cluster.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"

ABSL_FLAG(int, table_mb, 128, "Size of the dense table, in MB.");
ABSL_FLAG(int, workers, 2, "Worker clients pushing and pulling at once.");
ABSL_FLAG(int, rounds, 3, "Runs (each a fresh cluster); every run's figures are printed.");
ABSL_FLAG(int, max_concurrent_moves, 2, "ps_coordinator --max_concurrent_moves.");
ABSL_FLAG(int, move_pause_ms, 500, "ps_coordinator --move_pause_ms (its default: 500).");
ABSL_FLAG(double, before_s, 5, "Steady phase on 2 servers, after a warm-up of 3 steps per worker.");
ABSL_FLAG(double, after_s, 5, "Steady phase on 3 servers.");
ABSL_FLAG(std::string, log_level, "warn", "This process's log level (its clients' retries log at info).");
ABSL_FLAG(bool, rebalance, true,
          "ps_coordinator --rebalance; false measures the cost of a third server joining alone "
          "(the 'during' window then ends when it registered).");
ABSL_FLAG(bool, join, true, "false: no third server at all (a control run of the same length).");
ABSL_FLAG(bool, join_worker, false, "Control: an idle worker client registers instead of a server "
          "(a membership change without a new process).");
ABSL_FLAG(bool, trace, false, "Print every step (start and length, relative to the third "
          "server's start) and the cluster's run directory.");

namespace ps::bench {
namespace {

using ::ps::testing::LocalCluster;
using ::ps::testing::LocalClusterOptions;

void Check(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "scale_out_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

struct Step {
  absl::Time start;
  absl::Time end;
  // When the push returned (the pull follows).
  absl::Time pushed;
};

// Steps per second in [from, to): each step counts by the fraction of it inside the window.
double Rate(const std::vector<Step>& steps, absl::Time from, absl::Time to) {
  double count = 0;
  for (const Step& step : steps) {
    const absl::Time a = std::max(step.start, from);
    const absl::Time b = std::min(step.end, to);
    if (b <= a) continue;
    count += absl::ToDoubleSeconds(b - a) / absl::ToDoubleSeconds(step.end - step.start);
  }
  return count / absl::ToDoubleSeconds(to - from);
}

struct Figures {
  double before = 0, during = 0, after = 0;
  double move_s = 0;
};

Figures RunOnce() {
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 0;
  options.num_shards = 12;
  options.replication_factor = 2;
  if (absl::GetFlag(FLAGS_trace)) options.server_args = {"--log_level=debug"};
  options.coordinator_args = {
      absl::StrCat("--max_concurrent_moves=", absl::GetFlag(FLAGS_max_concurrent_moves)),
      absl::StrCat("--move_pause_ms=", absl::GetFlag(FLAGS_move_pause_ms)),
      absl::StrCat("--rebalance=", absl::GetFlag(FLAGS_rebalance) ? "true" : "false")};
  std::unique_ptr<LocalCluster> cluster = testing::StartClusterOrExit(options, "scale_out_bench");
  const uint64_t size = (uint64_t{1} << 20) * absl::GetFlag(FLAGS_table_mb) / sizeof(float);
  std::vector<std::unique_ptr<PsClient>> clients;
  for (int i = 0; i < absl::GetFlag(FLAGS_workers); ++i) {
    clients.push_back(testing::ConnectWorkerOrExit(*cluster, "scale_out_bench"));
  }
  absl::StatusOr<v1::TableInfo> table =
      clients[0]->CreateTable(testing::ZeroAspDenseSpec("model", size));
  Check(table.status(), "creating the table");

  absl::Mutex mu;
  std::vector<Step> steps;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& client : clients) {
    threads.emplace_back([&, client = client.get()] {
      std::vector<float> gradient(size, 0.001f);
      std::vector<float> values(size);
      while (!stop) {
        const absl::Time start = absl::Now();
        Check(client->Push(*table, gradient), "push");
        const absl::Time pushed = absl::Now();
        Check(client->Pull(*table, absl::MakeSpan(values)), "pull");
        absl::MutexLock lock(&mu);
        steps.push_back({start, absl::Now(), pushed});
      }
    });
  }
  // Warm-up: every worker has done 3 steps (the servers' memory is touched, connections open).
  const size_t warm_steps = 3 * clients.size();
  while (true) {
    absl::SleepFor(absl::Milliseconds(50));  // Polls the step count.
    absl::MutexLock lock(&mu);
    if (steps.size() >= warm_steps) break;
  }
  const absl::Time warm = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_before_s)));
  const absl::Time added = absl::Now();
  std::string address;
  std::unique_ptr<PsClient> idle;
  if (absl::GetFlag(FLAGS_join_worker)) {
    idle = testing::ConnectWorkerOrExit(*cluster, "scale_out_bench");
  } else if (absl::GetFlag(FLAGS_join)) {
    absl::StatusOr<int> index = cluster->AddServer();
    Check(index.status(), "starting the third server");
    address = cluster->server_address(*index);
  }
  absl::StatusOr<v1::ClusterMap> done = cluster->WaitForMap(
      [&](const v1::ClusterMap& map) {
        uint32_t id = 0;
        for (const v1::ServerInfo& server : map.servers()) {
          if (server.address() == address) id = server.server_id();
        }
        if (!absl::GetFlag(FLAGS_join) || absl::GetFlag(FLAGS_join_worker)) return true;
        if (!absl::GetFlag(FLAGS_rebalance)) return id != 0;
        int held = 0;
        for (const v1::ShardAssignment& shard : map.shards()) {
          if (shard.learners_size() > 0 || shard.sealed()) return false;
          for (uint32_t replica : shard.replicas()) held += replica == id;
        }
        return held == 8;  // 24 replicas over 3 servers.
      },
      absl::Seconds(300));
  Check(done.status(), "waiting for the rebalancing");
  const absl::Time moved = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_after_s)));
  const absl::Time end = absl::Now();
  stop = true;
  for (std::thread& thread : threads) thread.join();
  absl::MutexLock lock(&mu);
  Figures figures;
  figures.before = Rate(steps, warm, added);
  figures.during = Rate(steps, added, moved);
  figures.after = Rate(steps, moved, end);
  figures.move_s = absl::ToDoubleSeconds(moved - added);
  if (absl::GetFlag(FLAGS_trace)) {
    std::printf("run directory %s; moves done at %.3f s\n", cluster->directory().c_str(),
                absl::ToDoubleSeconds(moved - added));
    for (const Step& step : steps) {
      std::printf("step at %+.3f s took %.3f s (push %.3f s)\n",
                  absl::ToDoubleSeconds(step.start - added),
                  absl::ToDoubleSeconds(step.end - step.start),
                  absl::ToDoubleSeconds(step.pushed - step.start));
    }
  }
  return figures;
}

}  // namespace
}  // namespace ps::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ps::InitLogging("bench", absl::GetFlag(FLAGS_log_level)).IgnoreError();
  std::printf("Scale-out 2 -> 3 servers under training load: %d MB dense ASP table, 12 shards, "
              "R = 2, %d workers (push + pull of the whole table per step), "
              "--max_concurrent_moves=%d --move_pause_ms=%d\n",
              absl::GetFlag(FLAGS_table_mb), absl::GetFlag(FLAGS_workers),
              absl::GetFlag(FLAGS_max_concurrent_moves), absl::GetFlag(FLAGS_move_pause_ms));
  std::printf("| run | before steps/s (2 servers) | during steps/s | after steps/s (3 servers) | "
              "move s | during / before | after / before |\n|---|---|---|---|---|---|---|\n");
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    const ps::bench::Figures f = ps::bench::RunOnce();
    std::printf("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", round, f.before, f.during,
                f.after, f.move_s, f.during / f.before, f.after / f.before);
    std::fflush(stdout);
  }
  return 0;
}
