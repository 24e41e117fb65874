// CoordinatorSession with several coordinator addresses, against a real ps_coordinator and a
// socket that accepts connections but never answers (what a stopped or partitioned coordinator
// looks like from outside): the session moves past the silent address, and a server's lease is
// credited while the coordinator is down only when EVERY address refuses connections.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/coordinator_session.h"
#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/free_port.h"

namespace ps::testing {
namespace {

// A listening socket nobody accepts from: the kernel completes connections, nothing answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~SilentListener() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(10));  // Polls the session's lease.
  }
  return true;
}

TEST(SessionFailoverTest, LeaseIsCreditedOnlyWhileEveryAddressRefuses) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  const int port = PickFreePort();
  ASSERT_NE(port, 0);
  const std::string directory = MakeTempDir("session-failover");
  absl::StatusOr<std::unique_ptr<DaemonProcess>> coordinator = DaemonProcess::Start(
      RunfilePath("server/coordinator/ps_coordinator"),
      {absl::StrCat("--port=", port), "--address_file=" + directory + "/coordinator.addr",
       "--heartbeat_interval_ms=100", "--failure_timeout_ms=1000"},
      directory + "/coordinator.log");
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  ASSERT_TRUE(WaitForAddressFile(directory + "/coordinator.addr", absl::Seconds(20)).ok())
      << (*coordinator)->ReadLog();

  CoordinatorSessionOptions options;
  options.coordinator_address =
      absl::StrCat("127.0.0.1:", port, ",127.0.0.1:", silent.port());
  options.role = v1::MemberRef::ROLE_SERVER;
  options.advertised_address = "127.0.0.1:1";
  options.register_timeout = absl::Seconds(20);
  absl::StatusOr<std::unique_ptr<CoordinatorSession>> session =
      CoordinatorSession::Start(options, nullptr, nullptr);
  ASSERT_TRUE(session.ok()) << session.status();
  const absl::Duration lease = (*session)->lease();
  ASSERT_GT(lease, absl::ZeroDuration());
  EXPECT_TRUE((*session)->WithinLease(lease));

  // The coordinator dies; the other address still accepts connections (it may be a paused
  // leader, or a standby that leads now): the lease must lapse.
  (*coordinator)->Signal(SIGKILL);
  (*coordinator)->Wait(absl::Seconds(10));
  EXPECT_TRUE(Eventually([&] { return !(*session)->WithinLease(lease); }, lease + absl::Seconds(3)))
      << "the lease was credited although one address accepted connections";
  // Stays lapsed while the silent address accepts.
  absl::SleepFor(lease);  // Several heartbeats' worth: the credit must not come back.
  EXPECT_FALSE((*session)->WithinLease(lease));

  // Now every address refuses: no coordinator runs, none can declare anyone dead.
  silent.Close();
  EXPECT_TRUE(Eventually([&] { return (*session)->WithinLease(lease); }, absl::Seconds(5)))
      << "the lease was not credited although every address refused";
}

}  // namespace
}  // namespace ps::testing
