// DaemonProcess fails the running test when a child's log holds a sanitizer report, also when the
// test never looks at the child's exit code (it SIGKILLs it, as integration tests do).
#include "tests/harness/daemon_process.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace ps::testing {
namespace {

// Runs `script` with /bin/sh as a daemon, waits for it to exit, and destroys it.
void RunToCompletion(const std::string& script) {
  const std::string log = MakeTempDir("daemon") + "/child.log";
  absl::StatusOr<std::unique_ptr<DaemonProcess>> child =
      DaemonProcess::Start("/bin/sh", {"-c", script}, log);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_NE((*child)->Wait(absl::Seconds(30)), std::nullopt);
}

// Starts `script`, waits until it has run, and destroys the daemon while it sleeps (SIGKILL).
void KillWhileRunning(const std::string& script) {
  const std::string dir = MakeTempDir("daemon");
  absl::StatusOr<std::unique_ptr<DaemonProcess>> child = DaemonProcess::Start(
      "/bin/sh", {"-c", script + "; echo ran > " + dir + "/ran; sleep 600"}, dir + "/child.log");
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(WaitForAddressFile(dir + "/ran", absl::Seconds(30)).ok());
}

constexpr char kAsanReport[] =
    "echo '==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1'; "
    "echo 'SUMMARY: AddressSanitizer: heap-use-after-free x.cc:3 in F()'";

TEST(DaemonProcessTest, CleanChildPasses) { RunToCompletion("echo fine; exit 0"); }

TEST(DaemonProcessTest, WaitingForAnAddressEndsWhenItsWriterExits) {
  const std::string dir = MakeTempDir("daemon");
  absl::StatusOr<std::unique_ptr<DaemonProcess>> child = DaemonProcess::Start(
      "/bin/sh", {"-c", "echo starting; echo 'invalid options: no such flag'; exit 2"},
      dir + "/child.log");
  ASSERT_TRUE(child.ok()) << child.status();
  const absl::Time start = absl::Now();
  const absl::StatusOr<std::string> address =
      WaitForAddressFile(dir + "/never.addr", absl::Seconds(60), child->get());
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  ASSERT_EQ(address.status().code(), absl::StatusCode::kFailedPrecondition) << address.status();
  EXPECT_NE(address.status().message().find("exited with code 2"), absl::string_view::npos);
  EXPECT_NE(address.status().message().find("invalid options: no such flag"),
            absl::string_view::npos)
      << address.status();
}

TEST(DaemonProcessTest, ReportsExitCode) {
  const std::string log = MakeTempDir("daemon") + "/child.log";
  absl::StatusOr<std::unique_ptr<DaemonProcess>> child =
      DaemonProcess::Start("/bin/sh", {"-c", "exit 3"}, log);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->Wait(absl::Seconds(30)), std::optional<int>(3));
}

TEST(DaemonProcessTest, FindsTheSummaryLineOfTheFirstReport) {
  const std::string log = MakeTempDir("daemon") + "/child.log";
  absl::StatusOr<std::unique_ptr<DaemonProcess>> child = DaemonProcess::Start(
      "/bin/sh",
      {"-c",
       "echo 'x.cc:7:3: runtime error: signed integer overflow'; "
       "echo 'SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior x.cc:7:3 in'; "
       "echo 'SUMMARY: AddressSanitizer: 8 byte(s) leaked in 1 allocation(s).'; exit 1"},
      log);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_EQ((*child)->Wait(absl::Seconds(30)), std::optional<int>(1));
  EXPECT_EQ((*child)->SanitizerReport(),
            std::optional<std::string>(
                "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior x.cc:7:3 in"));
  // The destructor fails this test too; expected here.
  EXPECT_NONFATAL_FAILURE(child->reset(), "sanitizer report in");
}

TEST(DaemonProcessTest, ReportInAChildThatExitedFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(RunToCompletion(std::string(kAsanReport) + "; exit 1"),
                          "SUMMARY: AddressSanitizer: heap-use-after-free");
}

TEST(DaemonProcessTest, ReportInAChildKilledByTheDestructorFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(KillWhileRunning(kAsanReport),
                          "SUMMARY: AddressSanitizer: heap-use-after-free");
}

}  // namespace
}  // namespace ps::testing
