// A daemon started by a test as a real child process, with its output in a log file.
//
// Reaping is guaranteed: the destructor SIGKILLs and reaps a child still running, and every child
// is started with PR_SET_PDEATHSIG so it dies with the test process even if the test crashes.
// Sanitizer reports in a child fail the running test: the destructor looks for one in the log
// (ADD_FAILURE), since a test that SIGKILLs its daemons never sees the exit code a report gives.
// One thread only.
#ifndef PS_TESTS_HARNESS_DAEMON_PROCESS_H_
#define PS_TESTS_HARNESS_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ps::testing {

class DaemonProcess {
 public:
  // Starts `binary` with `args`, stdout and stderr appended to `log_path`. The child also gets
  // each `inherited` pair's first descriptor as its second (dup2, in order), e.g. the pipes of
  // Chromium's --remote-debugging-pipe as 3 and 4.
  // REQUIRES: no first descriptor of `inherited` is also a second one, or below 3.
  // Errors: Internal when fork or the log file fails; the child reports exec failure by exiting
  // with status 127 (see Wait()).
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args, const std::string& log_path,
      const std::vector<std::pair<int, int>>& inherited = {});

  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess();

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Sends `signal` if the child has not been reaped yet.
  void Signal(int signal);

  // Waits up to `timeout` for the child to exit. Returns its exit code (128 + signal number when a
  // signal ended it), or nullopt if it is still running.
  std::optional<int> Wait(absl::Duration timeout);

  // The log so far (for failure messages).
  std::string ReadLog() const;

  // The summary line of the first sanitizer report (AddressSanitizer, LeakSanitizer,
  // UndefinedBehaviorSanitizer, ThreadSanitizer) in the log so far, or nullopt if there is none.
  // Under --config=asan a report also ends the child with exit code 1.
  std::optional<std::string> SanitizerReport() const;

 private:
  DaemonProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  const pid_t pid_;
  const std::string log_path_;
  std::optional<int> exit_code_;
};

// Path of a file in the runfiles of this test (or of this binary, under `bazel run` or started
// by hand), e.g. "server/ps_server".
std::string RunfilePath(const std::string& workspace_relative);

// A fresh directory under $TEST_TMPDIR.
std::string MakeTempDir(const std::string& prefix);

// Polls until `path` holds a complete line (daemons write address files atomically) and returns
// it without the newline. With `writer`, the daemon that is to write it, stops waiting as soon as
// that daemon has exited (a daemon that refuses its flags says why in its log and exits 2).
// Errors: DeadlineExceeded; FailedPrecondition naming the writer's exit code and the last line
// of its log.
absl::StatusOr<std::string> WaitForAddressFile(const std::string& path, absl::Duration timeout,
                                               DaemonProcess* writer = nullptr);

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_DAEMON_PROCESS_H_
