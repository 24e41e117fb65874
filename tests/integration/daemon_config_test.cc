// Every daemon takes its flags from a --flagfile as from its command line, refuses a bad value
// found there (exit status 2, the flag named), and logs its effective configuration at start.
#include <signal.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"

namespace ps::testing {
namespace {

struct Daemon {
  std::string name;
  std::string binary;
  // Flags that keep it from reaching anything (a coordinator nobody runs).
  std::vector<std::string> quiet;
  // A valid flag of its own and one with a bad value, as a flagfile line each.
  std::string good;
  std::string bad;
  std::string bad_message;
};

class DaemonConfigTest : public ::testing::TestWithParam<Daemon> {
 protected:
  std::string WriteFlagfile(const std::string& dir, const std::vector<std::string>& lines) {
    const std::string path = dir + "/flags";
    std::ofstream out(path);
    for (const std::string& line : lines) out << line << "\n";
    return path;
  }
};

TEST_P(DaemonConfigTest, ABadValueInTheFlagfileIsRefusedAtOnce) {
  const Daemon& daemon = GetParam();
  const std::string dir = MakeTempDir("config");
  std::vector<std::string> args = daemon.quiet;
  args.push_back("--flagfile=" + WriteFlagfile(dir, {daemon.good, daemon.bad}));
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process =
      DaemonProcess::Start(RunfilePath(daemon.binary), args, dir + "/log");
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)->Wait(absl::Seconds(20)), std::optional<int>(2)) << (*process)->ReadLog();
  EXPECT_NE((*process)->ReadLog().find(daemon.bad_message), std::string::npos)
      << (*process)->ReadLog();
}

TEST_P(DaemonConfigTest, TheEffectiveConfigurationIsLoggedWithTheFlagfilesValues) {
  const Daemon& daemon = GetParam();
  const std::string dir = MakeTempDir("config");
  std::vector<std::string> args = daemon.quiet;
  args.push_back("--flagfile=" + WriteFlagfile(dir, {daemon.good, "--log_level=info"}));
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process =
      DaemonProcess::Start(RunfilePath(daemon.binary), args, dir + "/log");
  ASSERT_TRUE(process.ok()) << process.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string log;
  while (absl::Now() < deadline) {
    log = (*process)->ReadLog();
    if (log.find("effective configuration:") != std::string::npos) break;
    if ((*process)->Wait(absl::Milliseconds(50)).has_value()) break;
  }
  const size_t line = log.find("effective configuration:");
  ASSERT_NE(line, std::string::npos) << log;
  const std::string configuration = log.substr(line, log.find('\n', line) - line);
  EXPECT_NE(configuration.find(" " + daemon.good), std::string::npos) << configuration;
  EXPECT_NE(configuration.find(" --metrics_port=0"), std::string::npos) << configuration;
  EXPECT_EQ(configuration.find("--flagfile"), std::string::npos)
      << "Abseil's own flags are not the daemon's configuration: " << configuration;
  (*process)->Signal(SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(
    Daemons, DaemonConfigTest,
    ::testing::Values(
        Daemon{"Coordinator",
               "server/coordinator/ps_coordinator",
               {"--port=0"},
               "--num_shards=24",
               "--replication_factor=0",
               "replication_factor"},
        Daemon{"Server",
               "server/ps_server",
               {"--coordinator=127.0.0.1:1", "--register_timeout_s=600"},
               "--max_parked_pulls=77",
               "--max_message_mb=0",
               "--max_message_mb must be 1..1024"},
        Daemon{"Worker",
               "worker/ps_worker",
               {"--coordinator=127.0.0.1:1", "--register_timeout_s=600", "--device=cpu"},
               "--epochs=7",
               "--model=foo",
               "--model must be mlp or sparse_lr"}),
    [](const ::testing::TestParamInfo<Daemon>& info) { return info.param.name; });

}  // namespace
}  // namespace ps::testing
