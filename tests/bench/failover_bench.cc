// Coordinator failover time on etcd: three coordinators on one etcd, two servers; per round the
// leader is SIGKILLed and we time, from the kill:
//   - registered: until a worker that starts registering at the kill, through the address
//                 list, is registered (a map change made after the kill, served);
//   - watched:    until an observer following the map through the address list sees the map
//                 with that worker (the first map change from the new leader reaching members).
// The killed coordinator is restarted as a standby before the next round. Runs once with etcd
// at --election-timeout=500 --heartbeat-interval=50 (lease TTL 1 s) and once with etcd's
// default timings (etcd raises the TTL to 2 s), and prints min / median / max of each.
// Usage: failover_bench [--rounds=8] [--default_etcd=true]
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/coordinator_session.h"
#include "spdlog/spdlog.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/test_etcd.h"

ABSL_FLAG(int, rounds, 8, "Leader kills per etcd configuration.");
ABSL_FLAG(bool, default_etcd, true,
          "Also measure with etcd's default election timeout (lease TTL raised to 2 s).");

namespace ps::testing {
namespace {

struct Round {
  absl::Duration registered;
  absl::Duration watched;
};

std::string Summary(std::vector<absl::Duration> values) {
  if (values.empty()) return "-";
  std::sort(values.begin(), values.end());
  const absl::Duration median = values.size() % 2 == 1
                                    ? values[values.size() / 2]
                                    : (values[values.size() / 2 - 1] + values[values.size() / 2]) / 2;
  const auto ms = [](absl::Duration d) { return absl::ToDoubleMilliseconds(d); };
  return absl::StrFormat("%7.0f / %7.0f / %7.0f ms", ms(values.front()), ms(median),
                         ms(values.back()));
}

absl::Status Measure(const std::string& label, const std::vector<std::string>& etcd_flags,
                     int rounds) {
  absl::StatusOr<std::unique_ptr<TestEtcd>> etcd = TestEtcd::Start(etcd_flags);
  if (!etcd.ok()) return etcd.status();
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 0;
  options.num_shards = 8;
  options.replication_factor = 2;
  options.etcd_url = (*etcd)->url();
  options.coordinators = 3;
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
  if (!started.ok()) return started.status();
  LocalCluster& cluster = **started;

  // Arrival time of each membership version the observer saw.
  absl::Mutex mu;
  std::map<uint64_t, absl::Time> seen;
  CoordinatorSessionOptions observer_options;
  observer_options.coordinator_address = cluster.coordinator_address();
  observer_options.observer = true;
  absl::StatusOr<std::unique_ptr<CoordinatorSession>> observer = CoordinatorSession::Start(
      observer_options,
      [&](const v1::ClusterMap& map) {
        absl::MutexLock lock(&mu);
        seen.emplace(map.membership_version(), absl::Now());
      },
      nullptr);
  if (!observer.ok()) return observer.status();

  std::vector<Round> results;
  std::vector<std::unique_ptr<CoordinatorSession>> workers;
  for (int round = 0; round < rounds; ++round) {
    absl::StatusOr<int> leader = cluster.WaitForLeader(absl::Seconds(20));
    if (!leader.ok()) return leader.status();
    const uint64_t version_before = (*observer)->Map()->membership_version();
    const absl::Time killed = absl::Now();
    cluster.coordinator_process(*leader).Signal(SIGKILL);
    CoordinatorSessionOptions worker_options;
    worker_options.coordinator_address = cluster.coordinator_address();
    worker_options.role = v1::MemberRef::ROLE_WORKER;
    worker_options.register_timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<CoordinatorSession>> worker =
        CoordinatorSession::Start(worker_options, nullptr, nullptr);
    if (!worker.ok()) return worker.status();
    Round result;
    result.registered = absl::Now() - killed;
    absl::StatusOr<int> next = cluster.WaitForLeader(absl::Seconds(20), *leader);
    if (!next.ok()) return next.status();
    const uint64_t version_after = (*worker)->Map()->membership_version();
    if (!(*observer)->AwaitMap(
            [&](const v1::ClusterMap& map) { return map.membership_version() >= version_after; },
            absl::Seconds(20))) {
      return absl::DeadlineExceededError("the observer did not see the new worker");
    }
    {
      absl::MutexLock lock(&mu);
      // The callback runs just after the session publishes the map AwaitMap saw.
      const auto recorded = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return !seen.empty() && seen.rbegin()->first >= version_after;
      };
      mu.AwaitWithTimeout(absl::Condition(&recorded), absl::Seconds(5));
      for (const auto& [version, at] : seen) {
        if (version > version_before) {
          result.watched = at - killed;
          break;
        }
      }
    }
    std::printf("%s round %d: coordinator %d killed, %d leads; registered %.0f ms, watched %.0f ms\n",
                label.c_str(), round, *leader, *next,
                absl::ToDoubleMilliseconds(result.registered),
                absl::ToDoubleMilliseconds(result.watched));
    std::fflush(stdout);
    results.push_back(result);
    workers.push_back(*std::move(worker));
    if (absl::Status restarted = cluster.RestartCoordinatorAt(*leader); !restarted.ok()) {
      return restarted;
    }
  }
  for (auto& worker : workers) worker->Leave(true);
  std::vector<absl::Duration> registered, watched;
  for (const Round& r : results) {
    registered.push_back(r.registered);
    watched.push_back(r.watched);
  }
  std::printf("%-40s %d kills  min / median / max\n", label.c_str(), rounds);
  std::printf("  kill -> new worker registered (served)  %s\n", Summary(registered).c_str());
  std::printf("  kill -> observer sees that map          %s\n", Summary(watched).c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace
}  // namespace ps::testing

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::err);  // The sessions' own logs would drown the figures.
  if (const std::optional<std::string> missing = ps::testing::EtcdMissing()) {
    std::fprintf(stderr, "failover_bench: %s\n", missing->c_str());
    return 1;
  }
  const int rounds = absl::GetFlag(FLAGS_rounds);
  absl::Status measured = ps::testing::Measure(
      "etcd --election-timeout=500 (TTL 1 s)", {}, rounds);
  if (measured.ok() && absl::GetFlag(FLAGS_default_etcd)) {
    measured = ps::testing::Measure("etcd defaults (TTL 2 s)",
                                    {"--election-timeout=1000", "--heartbeat-interval=100"},
                                    rounds);
  }
  if (!measured.ok()) {
    std::fprintf(stderr, "failover_bench: %s\n", measured.ToString().c_str());
    return 1;
  }
  return 0;
}
