// Training jobs through a checkpoint: ps_worker daemons train, a checkpoint is taken mid-job, every
// daemon is killed at once, and a cluster restored from the checkpoint resumes the job where the
// checkpoint cut it (the workers continue from the checkpoint's step, not from zero) and ends as
// well trained as a job that was never interrupted.
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_store.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/local_cluster.h"
#include "tests/integration/metrics_file.h"

namespace ps::testing {
namespace {

// 6000 examples over 2 ranks in batches of 32: 93 steps per epoch, 2 epochs.
constexpr int kBatch = 32;
constexpr int kStepsPerEpoch = 93;
constexpr int kTotalSteps = 2 * kStepsPerEpoch;

LocalClusterOptions JobOptions(const std::string& consistency, const std::string& dir,
                               const std::string& checkpoints, bool restore) {
  LocalClusterOptions options;
  options.servers = 2;
  options.workers = 2;
  options.num_shards = 4;
  options.failure_timeout_ms = 5000;  // Training keeps both cores busy.
  options.worker_args = {"--workers=2", "--device=cpu", "--cpu_threads=1",
                         "--consistency=" + consistency, "--log_every_steps=10",
                         "--metrics_out=" + dir + "/metrics-{rank}.jsonl", "--model=mlp",
                         "--dataset=synthetic-images", "--train_limit=6000", "--hidden=64",
                         "--epochs=2", absl::StrCat("--batch_size=", kBatch)};
  if (!checkpoints.empty()) options.coordinator_args = {"--checkpoint_dir=" + checkpoints};
  if (restore) options.coordinator_args.push_back("--restore");
  return options;
}

// Waits for every worker of `cluster` to finish successfully.
void AwaitWorkers(LocalCluster& cluster) {
  for (int i = 0; i < 2; ++i) {
    const std::optional<int> status = cluster.worker(i).Wait(absl::Seconds(240));
    ASSERT_EQ(status, std::optional<int>(0)) << cluster.AllLogs();
  }
}

// Trains until rank 0 reports `step`, checkpoints, and kills every daemon. Returns the
// checkpoint's manifest.
v1::CheckpointManifest TrainCheckpointAndKill(const std::string& consistency,
                                              const std::string& checkpoints, int step) {
  const std::string dir = MakeTempDir(consistency + "-first");
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
      LocalCluster::Start(JobOptions(consistency, dir, checkpoints, false));
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  if (!cluster.ok()) return {};
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (LastValue(dir + "/metrics-0.jsonl", "progress", "step").value_or(0) < step &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  grpc::ClientContext context;
  v1::CheckpointNowResponse taken;
  const grpc::Status status = (*cluster)->coordinator().Checkpoint(&context, {}, &taken);
  EXPECT_TRUE(status.ok()) << status.error_message() << (*cluster)->AllLogs();
  absl::StatusOr<v1::CheckpointManifest> manifest = ReadManifest(taken.directory());
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  return manifest.ok() ? *manifest : v1::CheckpointManifest();
}

// Restores the newest checkpoint in `checkpoints` and runs the job to its end, metrics in `dir`;
// checks that rank r trained exactly the steps after resume[r], ending at the job's last step.
std::unique_ptr<LocalCluster> ResumeJob(const std::string& consistency, const std::string& dir,
                                        const std::string& checkpoints,
                                        const std::vector<uint64_t>& resume) {
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
      LocalCluster::Start(JobOptions(consistency, dir, checkpoints, true));
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  if (!cluster.ok()) return nullptr;
  AwaitWorkers(**cluster);
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(absl::StrCat("rank ", rank));
    const std::string metrics = absl::StrCat(dir, "/metrics-", rank, ".jsonl");
    EXPECT_EQ(LastValue(metrics, "final", "examples"),
              std::optional<double>((kTotalSteps - resume[rank]) * kBatch));
    EXPECT_EQ(LastValue(metrics, "epoch", "step"), std::optional<double>(kTotalSteps));
  }
  return *std::move(cluster);
}

TEST(CheckpointTrainingTest, BspJobResumesAtTheCutAndTrainsAsWellAsAnUninterruptedOne) {
  // The uninterrupted job, for comparison.
  const std::string whole = MakeTempDir("bsp-whole");
  {
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
        LocalCluster::Start(JobOptions("bsp", whole, "", false));
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    AwaitWorkers(**cluster);
  }
  const std::string checkpoints = MakeTempDir("bsp-checkpoints");
  const v1::CheckpointManifest manifest = TrainCheckpointAndKill("bsp", checkpoints, 60);
  ASSERT_EQ(manifest.bsp_cut_clocks_size(), 1);
  const uint64_t cut = manifest.bsp_cut_clocks().begin()->second;
  EXPECT_GE(cut, 60u);
  EXPECT_LT(cut, static_cast<uint64_t>(kTotalSteps));
  ASSERT_EQ(manifest.progress_size(), 2);
  for (const v1::RankProgress& rank : manifest.progress()) EXPECT_EQ(rank.steps_done(), cut);

  const std::string resumed = MakeTempDir("bsp-resumed");
  std::unique_ptr<LocalCluster> cluster = ResumeJob("bsp", resumed, checkpoints, {cut, cut});
  ASSERT_TRUE(cluster);
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(absl::StrCat("rank ", rank));
    const std::string metrics = absl::StrCat(resumed, "/metrics-", rank, ".jsonl");
    const std::optional<double> accuracy = LastValue(metrics, "final", "test_accuracy");
    const std::optional<double> uninterrupted =
        LastValue(absl::StrCat(whole, "/metrics-", rank, ".jsonl"), "final", "test_accuracy");
    ASSERT_TRUE(accuracy.has_value() && uninterrupted.has_value());
    EXPECT_GT(*accuracy, 0.7);
    // Run-to-run spread of this job is about a point (the order pushes arrive in differs).
    EXPECT_NEAR(*accuracy, *uninterrupted, 0.04);
  }
  const std::string log = cluster->worker(0).ReadLog();
  EXPECT_NE(log.find(absl::StrCat("resuming after step ", cut, " of ", kTotalSteps)),
            std::string::npos)
      << log;
}

TEST(CheckpointTrainingTest, AspJobResumesFromTheReportedProgress) {
  const std::string checkpoints = MakeTempDir("asp-checkpoints");
  const v1::CheckpointManifest manifest = TrainCheckpointAndKill("asp", checkpoints, 120);
  EXPECT_EQ(manifest.bsp_cut_clocks_size(), 0);
  // Progress comes with the workers' heartbeats (every 200 ms): a rank that had not reported
  // yet is absent and starts over.
  std::vector<uint64_t> resume(2);
  for (const v1::RankProgress& rank : manifest.progress()) {
    ASSERT_LT(rank.rank(), 2u);
    resume[rank.rank()] = rank.steps_done();
    EXPECT_LT(rank.steps_done(), static_cast<uint64_t>(kTotalSteps));
  }
  EXPECT_GT(resume[0] + resume[1], 0u);
  const std::string resumed = MakeTempDir("asp-resumed");
  std::unique_ptr<LocalCluster> cluster = ResumeJob("asp", resumed, checkpoints, resume);
  ASSERT_TRUE(cluster);
  for (int rank = 0; rank < 2; ++rank) {
    const std::string metrics = absl::StrCat(resumed, "/metrics-", rank, ".jsonl");
    EXPECT_GT(LastValue(metrics, "final", "test_accuracy").value_or(0), 0.7);
  }
}

}  // namespace
}  // namespace ps::testing
