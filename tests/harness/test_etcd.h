// A throwaway single-member etcd for tests: free 127.0.0.1 ports (never etcd's default
// 2379/2380, where a system etcd may listen), a fresh data directory under $TEST_TMPDIR, and
// raft timings that let etcd grant 1 s leases (--election-timeout=500 --heartbeat-interval=50).
// Killed (and its data directory removed) when destroyed. One thread only.
//
// Tests that need etcd call EtcdMissing() first: when etcd is not installed they skip with its
// message, unless PS_REQUIRE_ETCD=1 (tests/run_tests.sh sets it, having installed etcd), where
// they fail instead, so that CI cannot pass by skipping them.
#ifndef PS_TESTS_HARNESS_TEST_ETCD_H_
#define PS_TESTS_HARNESS_TEST_ETCD_H_

#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/free_port.h"

namespace ps::testing {

// nullopt when an etcd binary is installed; otherwise why not, for GTEST_SKIP.
std::optional<std::string> EtcdMissing();
// Whether PS_REQUIRE_ETCD=1: a missing etcd is a failure, not a skip.
bool EtcdRequired();

// In a TEST body: skips (or fails, under PS_REQUIRE_ETCD=1) when etcd is not installed.
#define PS_SKIP_WITHOUT_ETCD()                                                         \
  do {                                                                                 \
    if (const std::optional<std::string> missing = ::ps::testing::EtcdMissing()) {    \
      if (::ps::testing::EtcdRequired()) {                                             \
        FAIL() << *missing << "; PS_REQUIRE_ETCD=1: the etcd tests must run";          \
      }                                                                                \
      GTEST_SKIP() << *missing << "; skipping this etcd test";                         \
    }                                                                                  \
  } while (false)

class TestEtcd {
 public:
  // Starts etcd with `extra_flags` appended and waits until it serves (a linearizable read
  // answers). Retries with other ports if one was taken meanwhile.
  // Errors: FailedPrecondition when etcd is not installed; DeadlineExceeded (with its log) when
  // it does not serve within 20 s.
  static absl::StatusOr<std::unique_ptr<TestEtcd>> Start(
      const std::vector<std::string>& extra_flags = {});

  TestEtcd(const TestEtcd&) = delete;
  TestEtcd& operator=(const TestEtcd&) = delete;
  ~TestEtcd();

  // 127.0.0.1:PORT of its client API, and the --state_store URL naming it.
  const std::string& endpoint() const { return endpoint_; }
  std::string url() const { return "etcd://" + endpoint_; }

  // Stops it with `signal` and reaps it.
  void Stop(int signal = SIGKILL);
  // Sends `signal` (e.g. SIGSTOP / SIGCONT, to cut every client off for a while).
  void Signal(int signal) {
    if (process_ != nullptr) process_->Signal(signal);
  }
  // Starts it again on the same ports and data directory (a restart: same member, same data)
  // and waits until it serves.
  absl::Status Restart();

  std::string ReadLog() const;

 private:
  TestEtcd() = default;
  absl::Status Launch(const std::string& log_path);
  absl::Status WaitUntilServing(absl::Duration timeout);

  std::string binary_;
  std::string directory_;
  std::vector<std::string> extra_flags_;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::string endpoint_;
  int generation_ = 0;
  std::unique_ptr<DaemonProcess> process_;
};

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_TEST_ETCD_H_
