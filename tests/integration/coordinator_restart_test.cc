// A coordinator restarted on its state directory, against real processes: SIGKILLed twice
// mid-run and down past the failure timeout each time, it carries on the same cluster. No server
// or worker is restarted or registers again, the epoch never goes back, every acknowledged
// increment is applied exactly once and every replica equals its primary (ledger.h). A damaged
// state file stops the coordinator at start with a clear error instead of an empty cluster.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"
#include "tests/integration/ledger.h"

namespace ps::testing {
namespace {

class CoordinatorRestartTest : public ::testing::TestWithParam<v1::ConsistencySpec::Model> {};

TEST_P(CoordinatorRestartTest, TwoCrashesLoseNothingAndRestartNoMember) {
  LedgerOptions options;
  options.model = GetParam();
  options.servers = 3;
  options.workers = 2;
  // About 6 s of pushes: the second restart leaves a third of the run to go.
  options.clocks = 100;
  options.clock_pause_ms = 60;
  options.fault = LedgerFault::kRestartCoordinator;
  options.fault_at_fraction = 0.2;  // At a fifth and two fifths of the pushes.
  options.coordinator_restarts = 2;
  // Down 3 failure timeouts (500 ms) each time: past every server's lease (375 ms).
  options.coordinator_down_for = absl::Milliseconds(1500);
  absl::StatusOr<LedgerResult> result = RunLedger(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("%s; epochs [%s]; reconnected after [%s]\n", result->summary.c_str(),
              absl::StrJoin(result->epochs, ", ").c_str(),
              absl::StrJoin(result->reconnect_times, ", ",
                            [](std::string* out, absl::Duration d) {
                              absl::StrAppend(out, absl::FormatDuration(d));
                            })
                  .c_str());
  EXPECT_EQ(result->acknowledged_pushes, 2 * options.workers * options.clocks)
      << "every worker ran every clock without a failed call";
  EXPECT_GT(result->acknowledged_before_fault, 0);
  EXPECT_EQ(result->values_lost, 0) << result->summary;
  EXPECT_EQ(result->values_doubled, 0) << result->summary;
  EXPECT_GT(result->replicas_compared, 0);
  EXPECT_EQ(result->replicas_different, 0) << result->summary;
  EXPECT_EQ(result->registrations_after_start, 0)
      << "no server or worker was declared dead and joined again";
  ASSERT_EQ(result->epochs.size(), 5u);  // Before and after each restart, and at the end.
  for (size_t i = 1; i < result->epochs.size(); ++i) {
    EXPECT_GE(result->epochs[i], result->epochs[i - 1]) << "epochs never go backwards";
  }
  EXPECT_EQ(result->reconnect_times.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Models, CoordinatorRestartTest,
                         ::testing::Values(v1::ConsistencySpec::MODEL_BSP,
                                           v1::ConsistencySpec::MODEL_ASP),
                         [](const auto& info) {
                           return info.param == v1::ConsistencySpec::MODEL_BSP ? "Bsp" : "Asp";
                         });

// Starts a coordinator on `state_dir`; returns its exit code and log.
std::pair<std::optional<int>, std::string> StartOn(const std::string& state_dir) {
  const std::string log = state_dir + "/../coordinator.log";
  absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator =
      DaemonProcess::Start(RunfilePath("server/coordinator/ps_coordinator"),
                           {"--port=0", "--state_dir=" + state_dir,
                            "--address_file=" + state_dir + "/../addr"},
                           log);
  EXPECT_TRUE(coordinator.ok()) << coordinator.status();
  if (!coordinator.ok()) return {std::nullopt, ""};
  return {(*coordinator)->Wait(absl::Seconds(20)), (*coordinator)->ReadLog()};
}

TEST(CoordinatorStateFileTest, DamageStopsTheStartWithAClearError) {
  const std::string root = MakeTempDir("damaged-state");
  const std::string state_dir = root + "/state";
  // A real state: a coordinator that saved a new cluster, stopped by SIGTERM.
  {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator = DaemonProcess::Start(
        RunfilePath("server/coordinator/ps_coordinator"),
        {"--port=0", "--state_dir=" + state_dir, "--address_file=" + root + "/first.addr"},
        root + "/first.log");
    ASSERT_TRUE(coordinator.ok());
    ASSERT_TRUE(WaitForAddressFile(root + "/first.addr", absl::Seconds(20)).ok())
        << (*coordinator)->ReadLog();
    (*coordinator)->Signal(SIGTERM);
    ASSERT_EQ((*coordinator)->Wait(absl::Seconds(20)), std::optional<int>(0));
  }
  const std::string path = state_dir + "/coordinator.state";
  absl::StatusOr<std::string> good = ReadFileToString(path);
  ASSERT_TRUE(good.ok()) << good.status();

  std::string flipped = *good;
  flipped[flipped.size() / 2] ^= 0x01;
  const struct {
    const char* name;
    std::string contents;
    const char* problem;
  } cases[] = {
      {"flipped byte", flipped, "checksum mismatch"},
      {"truncated", good->substr(0, good->size() - 3), "truncated or overlong"},
      {"empty", "", "not a coordinator state file"},
  };
  for (const auto& damage : cases) {
    SCOPED_TRACE(damage.name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << damage.contents;
    const auto [exit_code, log] = StartOn(state_dir);
    EXPECT_EQ(exit_code, std::optional<int>(1)) << log;
    EXPECT_NE(log.find("cannot read the saved cluster state"), std::string::npos) << log;
    EXPECT_NE(log.find(path), std::string::npos) << "names the file: " << log;
    EXPECT_NE(log.find(damage.problem), std::string::npos) << log;
    EXPECT_EQ(log.find("listening"), std::string::npos) << "never serves an empty cluster: " << log;
  }
  // The good file again: it starts.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << *good;
  absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator = DaemonProcess::Start(
      RunfilePath("server/coordinator/ps_coordinator"),
      {"--port=0", "--state_dir=" + state_dir, "--address_file=" + root + "/last.addr"},
      root + "/last.log");
  ASSERT_TRUE(coordinator.ok());
  ASSERT_TRUE(WaitForAddressFile(root + "/last.addr", absl::Seconds(20)).ok())
      << (*coordinator)->ReadLog();
  EXPECT_NE((*coordinator)->ReadLog().find("carrying on the cluster saved in"), std::string::npos)
      << (*coordinator)->ReadLog();
  // A second coordinator on the same directory is refused while this one runs.
  const auto [exit_code, log] = StartOn(state_dir);
  EXPECT_EQ(exit_code, std::optional<int>(1)) << log;
  EXPECT_NE(log.find("in use by another coordinator"), std::string::npos) << log;
  (*coordinator)->Signal(SIGTERM);
  EXPECT_EQ((*coordinator)->Wait(absl::Seconds(20)), std::optional<int>(0));
}

}  // namespace
}  // namespace ps::testing
