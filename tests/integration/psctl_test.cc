// Every psctl command, run as the real binary against a live cluster (a coordinator with
// --http_port and --checkpoint_dir, three servers, two training workers): what each prints, its
// JSON, its exit code; an unreachable coordinator; and psctl plot on hand-written metrics files.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/free_port.h"
#include "tests/harness/local_cluster.h"
#include "tests/harness/small_training.h"

namespace ps::testing {
namespace {

struct PsctlRun {
  int exit_code = -1;
  // stdout and stderr together.
  std::string output;
  absl::Duration took;
};

// Runs psctl with `args`, its output logged under `directory`.
PsctlRun Psctl(const std::vector<std::string>& args, const std::string& directory) {
  static int runs = 0;
  const std::string log = absl::StrCat(directory, "/psctl-", ++runs, ".log");
  PsctlRun run;
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<DaemonProcess>> psctl =
      DaemonProcess::Start(RunfilePath("tools/psctl/psctl"), args, log);
  if (!psctl.ok()) {
    run.output = psctl.status().ToString();
    return run;
  }
  run.exit_code = (*psctl)->Wait(absl::Seconds(60)).value_or(-1);
  run.took = absl::Now() - started;
  run.output = (*psctl)->ReadLog();
  return run;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class PsctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new std::string(MakeTempDir("psctl"));
    http_port_ = PickFreePort();
    LocalClusterOptions options;
    options.servers = 3;  // Three, so that one can be drained.
    options.workers = 2;
    options.num_shards = 6;
    options.coordinator_args = {absl::StrCat("--http_port=", http_port_),
                                absl::StrCat("--checkpoint_dir=", *directory_, "/checkpoints")};
    // Trains for longer than the test runs; one BLAS thread each, as the cores are shared.
    options.worker_args = SmallTrainingArgs(/*epochs=*/100000, /*examples=*/2000, /*hidden=*/16,
                                            {"--log_every_steps=0"});
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
    // The chief worker creates the table; both report progress once they trained a little.
    absl::StatusOr<v1::ClusterMap> map = cluster_->WaitForMap(
        [](const v1::ClusterMap& map) { return map.tables_size() > 0; }, absl::Seconds(30));
    ASSERT_TRUE(map.ok()) << map.status();
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up && WorkersWithProgress() < 2) {
      absl::SleepFor(absl::Milliseconds(100));  // Progress arrives with heartbeats.
    }
    ASSERT_EQ(WorkersWithProgress(), 2) << cluster_->AllLogs();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static int WorkersWithProgress() {
    grpc::ClientContext context;
    v1::ClusterStatus status;
    if (!cluster_->coordinator().GetClusterStatus(&context, {}, &status).ok()) return 0;
    int workers = 0;
    for (const v1::MemberHealth& member : status.members()) {
      workers += member.state() == v1::MEMBER_STATE_ALIVE && member.has_progress();
    }
    return workers;
  }

  // psctl against the cluster's coordinator.
  PsctlRun Run(std::vector<std::string> args) {
    args.insert(args.begin(), "--coordinator=" + cluster_->coordinator_address());
    return Psctl(args, *directory_);
  }

  static std::string* directory_;
  static int http_port_;
  static LocalCluster* cluster_;
};

std::string* PsctlTest::directory_ = nullptr;
int PsctlTest::http_port_ = 0;
LocalCluster* PsctlTest::cluster_ = nullptr;

TEST_F(PsctlTest, StatusSummarizesTheCluster) {
  const PsctlRun run = Run({"status"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("members: 3 servers alive, 0 dead; 2 workers alive, 0 dead\n"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("shards: 6 x 2 replicas: 6 healthy, 0 under-replicated, 0 without "
                            "primary\n"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("tables: 1 (mlp)\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("stragglers: "), std::string::npos) << run.output;
}

TEST_F(PsctlTest, MembersListEveryServerWithItsAddress) {
  const PsctlRun run = Run({"members"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 6u) << run.output;  // Headings, three servers, two workers.
  EXPECT_TRUE(absl::StartsWith(lines[0], "ROLE    ID  ADDRESS")) << run.output;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[1 + i], "server")) << run.output;
    EXPECT_NE(run.output.find(cluster_->server_address(i)), std::string::npos) << run.output;
    EXPECT_NE(lines[1 + i].find(" alive "), std::string::npos) << run.output;
  }
  for (int i = 4; i < 6; ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], "worker")) << run.output;
    EXPECT_NE(lines[i].find(" alive "), std::string::npos) << run.output;
  }
}

TEST_F(PsctlTest, ShardsShowEveryShardHealthy) {
  const PsctlRun run = Run({"shards"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 7u) << run.output;
  for (int shard = 0; shard < 6; ++shard) {
    EXPECT_TRUE(absl::StartsWith(lines[1 + shard], absl::StrCat(shard, " "))) << run.output;
    EXPECT_NE(lines[1 + shard].find(" healthy "), std::string::npos) << run.output;
  }
}

TEST_F(PsctlTest, TablesNameTheWorkersTable) {
  const PsctlRun run = Run({"tables"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 2u) << run.output;
  EXPECT_TRUE(absl::StartsWith(lines[1], "mlp   1   dense")) << run.output;
  EXPECT_NE(lines[1].find("adam"), std::string::npos) << run.output;
  EXPECT_NE(lines[1].find("bsp"), std::string::npos) << run.output;
}

TEST_F(PsctlTest, WorkersShowTheirProgressByRank) {
  const PsctlRun run = Run({"workers"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 3u) << run.output;
  EXPECT_TRUE(absl::EndsWith(lines[0], "DEVICE                     STRAGGLER") ||
              absl::StrContains(lines[0], "STRAGGLER"))
      << run.output;
  for (int rank = 0; rank < 2; ++rank) {
    const std::vector<std::string> cells = absl::StrSplit(lines[1 + rank], ' ', absl::SkipEmpty());
    ASSERT_GE(cells.size(), 10u) << run.output;
    EXPECT_EQ(cells[0], absl::StrCat(rank)) << run.output;
    EXPECT_TRUE(absl::EndsWith(cells[2], "/100000")) << run.output;  // epoch/epochs
    EXPECT_NE(cells[4], "-") << run.output;                          // loss
    EXPECT_NE(lines[1 + rank].find(" cpu"), std::string::npos) << run.output;
  }
}

TEST_F(PsctlTest, JsonOfEveryViewParses) {
  const PsctlRun status = Run({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  v1::ClusterStatus parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(status.output, &parsed).ok())
      << status.output;
  EXPECT_EQ(parsed.map().shards_size(), 6);
  EXPECT_EQ(parsed.map().tables(0).spec().name(), "mlp");
  EXPECT_NE(status.output.find("\"replication_factor\":2"), std::string::npos)
      << "proto field names";
  for (const auto& [view, rows] : std::vector<std::pair<std::string, int>>{
           {"members", 5}, {"shards", 6}, {"tables", 1}, {"workers", 2}}) {
    const PsctlRun run = Run({view, "--json"});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    google::protobuf::ListValue list;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.output, &list).ok())
        << view << ": " << run.output;
    EXPECT_EQ(list.values_size(), rows) << view << ": " << run.output;
  }
}

TEST_F(PsctlTest, MetricsComeFromTheCoordinatorsHttpPort) {
  // A bare port: the host of the coordinator psctl talks to.
  const PsctlRun run = Run({"metrics", absl::StrCat("--http=", http_port_), "ps_coordinator_"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("\nps_coordinator_map_epoch "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("ps_coordinator_shards 6\n"), std::string::npos) << run.output;
  for (const std::string& line : Lines(run.output)) {
    EXPECT_TRUE(absl::StartsWith(line, "ps_coordinator_") ||
                absl::StartsWith(line, "# HELP ps_coordinator_") ||
                absl::StartsWith(line, "# TYPE ps_coordinator_"))
        << line;
  }
  const PsctlRun all = Run({"metrics", absl::StrCat("--http=127.0.0.1:", http_port_)});
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_GT(all.output.size(), run.output.size());
  EXPECT_NE(all.output.find("ps_coordinator_map_epoch"), std::string::npos) << all.output;
  // Without --http: the port the coordinator announces (ClusterStatus.http_port).
  const PsctlRun announced = Run({"metrics", "ps_coordinator_shards"});
  ASSERT_EQ(announced.exit_code, 0) << announced.output;
  EXPECT_NE(announced.output.find("ps_coordinator_shards 6\n"), std::string::npos)
      << announced.output;
}

TEST_F(PsctlTest, WatchRefreshesCountTimes) {
  const PsctlRun run = Run({"watch", "--count=2", "--interval_s=0.2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::vector<std::string> headers;
  for (const std::string& line : Lines(run.output)) {
    if (absl::StartsWith(line, "psctl watch: ")) headers.push_back(line);
  }
  EXPECT_EQ(headers.size(), 2u) << run.output;
  EXPECT_NE(run.output.find("RANK  ID  EPOCH"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("members: 3 servers alive"), std::string::npos) << run.output;
}

TEST_F(PsctlTest, CheckpointCompletesAndStatusShowsIt) {
  const PsctlRun run = Run({"checkpoint"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(absl::StartsWith(run.output, "checkpoint 1 complete: 6 shard files")) << run.output;
  const PsctlRun status = Run({"status"});
  EXPECT_NE(status.output.find("newest complete 1 ("), std::string::npos) << status.output;
}

TEST_F(PsctlTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"frobnicate"},
                                             {},
                                             {"members", "extra"},
                                             {"drain"},
                                             {"metrics", "--json"},
                                             {"plot", "a.jsonl"}}) {
    const PsctlRun run = Run(args);
    EXPECT_EQ(run.exit_code, 2) << absl::StrJoin(args, " ") << ": " << run.output;
    EXPECT_TRUE(absl::StartsWith(run.output, "psctl: ")) << run.output;
  }
  const PsctlRun unknown = Run({"frobnicate"});
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_NE(unknown.output.find("\n  status "), std::string::npos) << "the usage follows";
}

TEST_F(PsctlTest, HelpListsEveryCommandOnALine) {
  const PsctlRun run = Run({"--help"});
  for (const char* command :
       {"status", "members", "shards", "tables", "workers", "watch", "metrics [PREFIX]",
        "checkpoint", "drain SERVER", "undrain SERVER", "plot FILE.jsonl... -o FILE.png"}) {
    EXPECT_NE(run.output.find(absl::StrCat("\n  ", command, " ")), std::string::npos)
        << command << "\n"
        << run.output;
  }
  EXPECT_NE(run.output.find("--tls_cert"), std::string::npos) << run.output;
}

// Last: moves shards (it undrains at once, but the map changes).
TEST_F(PsctlTest, ZDrainAndUndrainAServerByAddress) {
  grpc::ClientContext context;
  v1::ClusterStatus status;
  ASSERT_TRUE(cluster_->coordinator().GetClusterStatus(&context, {}, &status).ok());
  uint32_t id = 0;  // The servers registered in any order.
  for (const v1::ServerInfo& server : status.map().servers()) {
    if (server.address() == cluster_->server_address(1)) id = server.server_id();
  }
  ASSERT_NE(id, 0u);
  const PsctlRun drain = Run({"drain", "--wait=false", cluster_->server_address(1)});
  ASSERT_EQ(drain.exit_code, 0) << drain.output;
  EXPECT_TRUE(absl::StartsWith(drain.output, absl::StrCat("draining server ", id, ": ")))
      << drain.output;
  const PsctlRun members = Run({"members"});
  EXPECT_NE(members.output.find(" draining "), std::string::npos) << members.output;
  const PsctlRun undrain = Run({"undrain", absl::StrCat(id)});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.output;
  EXPECT_TRUE(absl::StartsWith(undrain.output, absl::StrCat("server ", id, " is back in service")))
      << undrain.output;
  const PsctlRun unknown = Run({"drain", "no-such-server:1"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_NE(unknown.output.find("no live server 'no-such-server:1'"), std::string::npos);
}

TEST(PsctlUnreachableTest, OneLineAndExitTwoWithinSeconds) {
  const std::string directory = MakeTempDir("psctl-unreachable");
  const int port = PickFreePort();  // Nobody listens on it.
  for (const char* command : {"status", "members", "workers", "checkpoint"}) {
    const PsctlRun run =
        Psctl({absl::StrCat("--coordinator=127.0.0.1:", port), command}, directory);
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_LT(run.took, absl::Seconds(6)) << command;
    EXPECT_EQ(Lines(run.output).size(), 1u) << run.output;
    EXPECT_TRUE(absl::StartsWith(
        run.output, absl::StrCat("psctl: cannot reach the coordinator at 127.0.0.1:", port, ": ")))
        << run.output;
  }
}

// Two epochs of a two-rank job, with progress reports between them.
constexpr char kRank0[] =
    R"({"event": "progress", "epoch": 1, "step": 50, "loss": 2.1, "train_accuracy": 0.3, )"
    R"("elapsed_seconds": 1})"
    "\n"
    R"({"event": "epoch", "epoch": 1, "step": 100, "loss": 1.6, "train_accuracy": 0.5, )"
    R"("test_accuracy": 0.6, "elapsed_seconds": 2})"
    "\n"
    R"({"event": "progress", "epoch": 2, "step": 150, "loss": 1.2, "train_accuracy": 0.6, )"
    R"("elapsed_seconds": 3})"
    "\n"
    R"({"event": "epoch", "epoch": 2, "step": 200, "loss": 1.0, "train_accuracy": 0.7, )"
    R"("test_accuracy": 0.72, "elapsed_seconds": 4})"
    "\n"
    R"({"event": "final", "test_accuracy": 0.72, "elapsed_seconds": 4.1})"
    "\n";
constexpr char kRank1[] =
    R"({"event": "epoch", "epoch": 1, "step": 100, "loss": 1.7, "train_accuracy": 0.45, )"
    R"("test_accuracy": 0.58, "elapsed_seconds": 2.2})"
    "\n"
    R"({"event": "epoch", "epoch": 2, "step": 200, "loss": 1.1, "train_accuracy": 0.68, )"
    R"("test_accuracy": 0.7, "elapsed_seconds": 4.3})"
    "\n";

TEST(PsctlPlotTest, DrawsAPngWithGnuplot) {
  const std::string directory = MakeTempDir("psctl-plot");
  ASSERT_TRUE(WriteFileAtomically(directory + "/metrics-0.jsonl", kRank0).ok());
  ASSERT_TRUE(WriteFileAtomically(directory + "/metrics-1.jsonl", kRank1).ok());
  const std::string png = directory + "/curves.png";
  const PsctlRun run = Psctl({"plot", directory + "/metrics-0.jsonl",
                              directory + "/metrics-1.jsonl", "-o", png, "--title=psctl_test"},
                             directory);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, absl::StrCat("wrote ", png, ": loss and accuracy of 2 curves by epoch\n"));
  const absl::StatusOr<std::string> image = ReadFileToString(png);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_GT(image->size(), 1000u);
  EXPECT_EQ(image->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << "the PNG signature";

  const PsctlRun seconds =
      Psctl({"plot", directory + "/metrics-0.jsonl", "--x=seconds", "--output=" + png}, directory);
  EXPECT_EQ(seconds.exit_code, 0) << seconds.output;
}

TEST(PsctlPlotTest, MissingOrEmptyFileIsAClearError) {
  const std::string directory = MakeTempDir("psctl-plot-errors");
  const PsctlRun missing =
      Psctl({"plot", directory + "/missing.jsonl", "-o", directory + "/x.png"}, directory);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_EQ(missing.output, absl::StrCat("psctl: cannot open ", directory,
                                         "/missing.jsonl: No such file or directory\n"));
  ASSERT_TRUE(WriteFileAtomically(directory + "/empty.jsonl", "").ok());
  const PsctlRun empty =
      Psctl({"plot", directory + "/empty.jsonl", "-o", directory + "/x.png"}, directory);
  EXPECT_EQ(empty.exit_code, 1) << empty.output;
  EXPECT_NE(empty.output.find("empty.jsonl holds no \"epoch\" or \"progress\" record"),
            std::string::npos)
      << empty.output;
}

}  // namespace
}  // namespace ps::testing
