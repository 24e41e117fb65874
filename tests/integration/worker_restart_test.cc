// Workers restarted into a running BSP job, against real processes: a ps_worker SIGKILLed mid-job
// and started again takes back its rank, resumes the rank's steps and rejoins the job's clock, and
// every rank takes its share; increment workers doing the same leave every acknowledged increment
// applied exactly once (the in-flight push of the killed one may or may not be, as any
// unacknowledged push).
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/local_cluster.h"
#include "tests/integration/increments.h"
#include "tests/integration/metrics_file.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

// 6000 examples over 2 ranks in batches of 32: 93 steps per epoch, 2 epochs.
constexpr int kBatch = 32;
constexpr int kTotalSteps = 2 * 93;

LocalClusterOptions JobOptions(const std::string& dir) {
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 2;
  options.num_shards = 4;
  options.failure_timeout_ms = 2000;
  options.worker_args = {"--workers=2", "--device=cpu", "--cpu_threads=1", "--consistency=bsp",
                         "--log_every_steps=10", "--metrics_out=" + dir + "/metrics-{rank}.jsonl",
                         "--model=mlp", "--dataset=synthetic-images", "--train_limit=6000",
                         "--hidden=64", "--epochs=2", absl::StrCat("--batch_size=", kBatch)};
  return options;
}

void AwaitWorkers(LocalCluster& cluster) {
  for (int i = 0; i < 2; ++i) {
    const std::optional<int> status = cluster.worker(i).Wait(absl::Seconds(240));
    ASSERT_EQ(status, std::optional<int>(0)) << cluster.AllLogs();
  }
}

// The rank a worker process logged it registered with.
std::optional<int> RankOf(const std::string& log) {
  const size_t at = log.find(" rank ");
  if (at == std::string::npos) return std::nullopt;
  int rank;
  if (!absl::SimpleAtoi(log.substr(at + 6, log.find_first_of("),", at + 6) - at - 6), &rank)) {
    return std::nullopt;
  }
  return rank;
}

// The number after `prefix` in `text`, if any.
std::optional<uint64_t> NumberAfter(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  const size_t begin = at + prefix.size();
  uint64_t value;
  if (!absl::SimpleAtoi(text.substr(begin, text.find_first_not_of("0123456789", begin) - begin),
                        &value)) {
    return std::nullopt;
  }
  return value;
}

TEST(WorkerRestartTest, ABspWorkerKilledAndRestartedRejoinsAndEveryRankTakesItsShare) {
  const std::string dir = MakeTempDir("restart");
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(JobOptions(dir));
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  std::optional<int> victim_rank;
  while (!(victim_rank = RankOf(cluster.worker(1).ReadLog())).has_value() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(victim_rank.has_value()) << cluster.worker(1).ReadLog();
  const int survivor_rank = 1 - *victim_rank;
  const std::string victim_metrics = absl::StrCat(dir, "/metrics-", *victim_rank, ".jsonl");
  while (LastValue(victim_metrics, "progress", "step").value_or(0) < 50 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Killed mid-job; the survivor waits for it only until it is declared dead, then goes on.
  cluster.worker(1).Signal(SIGKILL);
  ASSERT_TRUE(cluster.WaitForMap([](const v1::ClusterMap& map) { return AliveWorkers(map) == 1; },
                                 absl::Seconds(30))
                  .ok());
  ASSERT_TRUE(cluster.RestartWorker(1).ok());
  AwaitWorkers(cluster);

  const std::string log = cluster.worker(1).ReadLog();
  EXPECT_EQ(RankOf(log), victim_rank) << "the restarted worker takes its rank back";
  // The rank's progress comes back from the coordinator: what its heartbeats (every 200 ms) last
  // reported; 0 (no "resuming" line) when it died before its first report, and the rank starts
  // over. The steps after it are taken again.
  const uint64_t resumed = NumberAfter(log, "resuming after step ").value_or(0);
  EXPECT_LE(resumed, static_cast<uint64_t>(kTotalSteps));
  const std::optional<uint64_t> joined = NumberAfter(log, "joined the job at BSP clock ");
  ASSERT_TRUE(joined.has_value()) << log;
  EXPECT_GT(*joined, resumed) << "the survivor went on while it was down";
  // Every rank took its whole share: the survivor every step in one go; the restarted rank the
  // steps after its recorded progress (its earlier incarnation took those before it).
  EXPECT_EQ(LastValue(absl::StrCat(dir, "/metrics-", survivor_rank, ".jsonl"), "final",
                      "examples"),
            std::optional<double>(kTotalSteps * kBatch));
  EXPECT_EQ(LastValue(victim_metrics, "final", "examples"),
            std::optional<double>((kTotalSteps - resumed) * kBatch));
  for (int rank = 0; rank < 2; ++rank) {
    const std::string metrics = absl::StrCat(dir, "/metrics-", rank, ".jsonl");
    EXPECT_EQ(LastValue(metrics, "epoch", "step"), std::optional<double>(kTotalSteps));
    EXPECT_GT(LastValue(metrics, "final", "test_accuracy").value_or(0), 0.7) << "rank " << rank;
  }
}


// Clocks a ledger file lists for `table` ("dense RANK CLOCK" lines).
std::set<int> LedgerClocks(const std::string& path, const std::string& table) {
  std::ifstream file(path);
  std::set<int> clocks;
  std::string name;
  int rank, clock;
  while (file >> name >> rank >> clock) {
    if (name == table) clocks.insert(clock);
  }
  return clocks;
}

// What an element of the BSP dense table holds when clock c averaged the increments of the ranks
// in contributors[c] (SGD at learning rate 1 from zeros, so exact in float32).
std::vector<float> ExpectedDense(const std::map<int, std::set<uint32_t>>& contributors) {
  std::vector<float> values(kDenseSize, 0.0f);
  for (const auto& [clock, ranks] : contributors) {
    for (uint64_t i = 0; i < kDenseSize; ++i) {
      float sum = 0;
      for (uint32_t rank : ranks) sum += DenseIncrement(rank, clock, i);
      values[i] += sum / static_cast<float>(ranks.size());
    }
  }
  return values;
}

// The same for the sparse table: key -> row.
std::map<uint64_t, std::vector<float>> ExpectedSparse(
    const std::map<int, std::set<uint32_t>>& contributors) {
  std::map<uint64_t, std::vector<float>> rows;
  for (const auto& [clock, ranks] : contributors) {
    std::map<uint64_t, std::vector<float>> sums;
    for (uint32_t rank : ranks) {
      for (uint64_t key : SparseKeys(rank)) {
        std::vector<float>& sum = sums[key];
        sum.resize(kSparseDim, 0.0f);
        for (uint32_t j = 0; j < kSparseDim; ++j) sum[j] += SparseIncrement(rank, clock, key, j);
      }
    }
    for (const auto& [key, sum] : sums) {
      std::vector<float>& row = rows[key];
      row.resize(kSparseDim, 0.0f);
      for (uint32_t j = 0; j < kSparseDim; ++j) row[j] += sum[j] / static_cast<float>(ranks.size());
    }
  }
  return rows;
}

TEST(WorkerRestartTest, ARestartedIncrementWorkerLeavesTheLedgerExact) {
  constexpr int kClocks = 60;
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 0;
  options.num_shards = 4;
  absl::StatusOr<std::unique_ptr<LocalCluster>> started = LocalCluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  LocalCluster& cluster = **started;
  PsClientOptions observer_options;
  observer_options.coordinator_address = cluster.coordinator_address();
  observer_options.observer = true;
  absl::StatusOr<std::unique_ptr<PsClient>> observer = PsClient::Connect(observer_options);
  ASSERT_TRUE(observer.ok()) << observer.status();
  absl::StatusOr<v1::TableInfo> dense = (*observer)->CreateTable(
      IncrementTableSpec("dense", v1::TABLE_KIND_DENSE, v1::ConsistencySpec::MODEL_BSP));
  absl::StatusOr<v1::TableInfo> sparse = (*observer)->CreateTable(
      IncrementTableSpec("sparse", v1::TABLE_KIND_SPARSE, v1::ConsistencySpec::MODEL_BSP));
  ASSERT_TRUE(dense.ok() && sparse.ok());

  const std::string dir = MakeTempDir("ledger");
  const auto start = [&](const std::string& name) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> worker = DaemonProcess::Start(
        RunfilePath("tests/integration/increment_worker"),
        {"--coordinator=" + cluster.coordinator_address(), "--workers=2",
         absl::StrCat("--clocks=", kClocks), "--clock_pause_ms=20",
         "--ledger=" + dir + "/" + name + ".ledger"},
        dir + "/" + name + ".log");
    EXPECT_TRUE(worker.ok()) << worker.status();
    return worker.ok() ? *std::move(worker) : nullptr;
  };
  std::unique_ptr<DaemonProcess> survivor = start("survivor");
  std::unique_ptr<DaemonProcess> victim = start("victim");
  ASSERT_TRUE(survivor && victim);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (LedgerClocks(dir + "/victim.ledger", "dense").size() < 15 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  victim->Signal(SIGKILL);
  ASSERT_TRUE(cluster.WaitForMap([](const v1::ClusterMap& map) { return AliveWorkers(map) == 1; },
                                 absl::Seconds(30))
                  .ok());
  std::unique_ptr<DaemonProcess> restarted = start("restarted");
  ASSERT_TRUE(restarted);
  ASSERT_EQ(survivor->Wait(absl::Seconds(120)), std::optional<int>(0)) << survivor->ReadLog();
  ASSERT_EQ(restarted->Wait(absl::Seconds(120)), std::optional<int>(0)) << restarted->ReadLog();

  // Ranks: the restarted worker took the victim's back.
  const std::string victim_log = victim->ReadLog();
  const std::string restarted_log = restarted->ReadLog();
  const std::optional<uint64_t> joined = [&]() -> std::optional<uint64_t> {
    const size_t at = restarted_log.find("joined at clock ");
    uint64_t clock;
    if (at == std::string::npos ||
        !absl::SimpleAtoi(restarted_log.substr(at + 16, restarted_log.find('\n', at) - at - 16),
                          &clock)) {
      return std::nullopt;
    }
    return clock;
  }();
  ASSERT_TRUE(joined.has_value()) << restarted_log;
  uint32_t victim_rank = 0;
  {
    std::ifstream file(dir + "/victim.ledger");
    std::string name;
    int clock;
    ASSERT_TRUE(static_cast<bool>(file >> name >> victim_rank >> clock));
  }
  const uint32_t survivor_rank = 1 - victim_rank;

  for (const std::string table : {"dense", "sparse"}) {
    SCOPED_TRACE(table);
    const std::set<int> survived = LedgerClocks(dir + "/survivor.ledger", table);
    const std::set<int> before = LedgerClocks(dir + "/victim.ledger", table);
    const std::set<int> after = LedgerClocks(dir + "/restarted.ledger", table);
    EXPECT_EQ(survived.size(), static_cast<size_t>(kClocks)) << "the survivor ran every clock";
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    // Before the kill: clocks 0..k; after the restart: its join clock to the end, with the
    // clocks it was down for in between (they completed without it).
    EXPECT_EQ(*before.rbegin() + 1, static_cast<int>(before.size()));
    EXPECT_EQ(*after.begin(), static_cast<int>(*joined));
    EXPECT_EQ(*after.rbegin(), kClocks - 1);
    EXPECT_GT(*after.begin(), *before.rbegin() + 1) << "the survivor went on without it";
  }
  // The increments acknowledged, clock by clock; the victim's push in flight when it was killed
  // (the clock after its last acknowledged one) may have been applied or not.
  const auto contributors = [&](const std::string& table, bool in_flight_applied) {
    std::map<int, std::set<uint32_t>> ranks;
    for (int clock : LedgerClocks(dir + "/survivor.ledger", table)) ranks[clock].insert(survivor_rank);
    const std::set<int> before = LedgerClocks(dir + "/victim.ledger", table);
    for (int clock : before) ranks[clock].insert(victim_rank);
    for (int clock : LedgerClocks(dir + "/restarted.ledger", table)) ranks[clock].insert(victim_rank);
    if (in_flight_applied) ranks[*before.rbegin() + 1].insert(victim_rank);
    return ranks;
  };
  std::vector<float> values(kDenseSize);
  ASSERT_TRUE((*observer)->Pull(*dense, absl::MakeSpan(values)).ok());
  const std::vector<float> without = ExpectedDense(contributors("dense", false));
  const std::vector<float> with = ExpectedDense(contributors("dense", true));
  EXPECT_TRUE(values == without || values == with)
      << "dense element 5: " << values[5] << ", expected " << without[5] << " or " << with[5];

  std::vector<uint64_t> keys;
  for (uint32_t rank = 0; rank < 2; ++rank) {
    for (uint64_t key : SparseKeys(rank)) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  std::vector<float> rows(keys.size() * kSparseDim);
  ASSERT_TRUE((*observer)->PullSparse(*sparse, keys, absl::MakeSpan(rows)).ok());
  const auto matches = [&](const std::map<uint64_t, std::vector<float>>& expected) {
    for (size_t k = 0; k < keys.size(); ++k) {
      const auto it = expected.find(keys[k]);
      for (uint32_t j = 0; j < kSparseDim; ++j) {
        const float want = it == expected.end() ? 0.0f : it->second[j];
        if (rows[k * kSparseDim + j] != want) return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(matches(ExpectedSparse(contributors("sparse", false))) ||
              matches(ExpectedSparse(contributors("sparse", true))));
}

}  // namespace
}  // namespace ps::testing
