#include "tests/harness/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ps::testing {
namespace {

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::string& binary, const std::vector<std::string>& args, const std::string& log_path,
    const std::vector<std::pair<int, int>>& inherited) {
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", log_path, ": ", std::strerror(errno)));
  }
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  // vfork, not fork: fork marks every page of this process copy-on-write, and a benchmark or test
  // holding hundreds of MB that keeps writing them meanwhile (worker buffers receiving pulls)
  // then takes a page fault per page: starting a server mid-run stalled its training threads for
  // 3 s (scale_out_bench). The child shares the memory until execv, so it only makes system
  // calls, on its own stack frame's data, as posix_spawn's child does.
  const pid_t pid = vfork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("vfork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // The test died before prctl took effect.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    for (const auto& [from, to] : inherited) dup2(from, to);  // dup2 clears O_CLOEXEC on `to`.
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(log_fd);
  return std::unique_ptr<DaemonProcess>(new DaemonProcess(pid, log_path));
}

DaemonProcess::~DaemonProcess() {
  if (!exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (std::optional<std::string> report = SanitizerReport()) {
    ADD_FAILURE() << "sanitizer report in " << log_path_ << ": " << *report << "\n" << ReadLog();
  }
}

void DaemonProcess::Signal(int signal) {
  if (!exit_code_.has_value()) kill(pid_, signal);
}

std::optional<int> DaemonProcess::Wait(absl::Duration timeout) {
  if (exit_code_.has_value()) return exit_code_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t reaped = waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) {
      exit_code_ = ExitCodeOf(status);
      return exit_code_;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    // No portable way to wait for one child with a timeout; poll finely.
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string DaemonProcess::ReadLog() const {
  std::ifstream in(log_path_);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::optional<std::string> DaemonProcess::SanitizerReport() const {
  // Every sanitizer ends its report with "SUMMARY: <Name>Sanitizer: ..." (LeakSanitizer's says
  // AddressSanitizer when it runs inside ASan).
  static constexpr const char* kSummaries[] = {
      "SUMMARY: AddressSanitizer", "SUMMARY: LeakSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
      "SUMMARY: ThreadSanitizer"};
  const std::string log = ReadLog();
  std::optional<size_t> first;
  for (const char* summary : kSummaries) {
    const size_t at = log.find(summary);
    if (at != std::string::npos && (!first.has_value() || at < *first)) first = at;
  }
  if (!first.has_value()) return std::nullopt;
  const size_t end = log.find('\n', *first);
  return log.substr(*first, end == std::string::npos ? std::string::npos : end - *first);
}

std::string RunfilePath(const std::string& workspace_relative) {
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string suffix =
      absl::StrCat("/", workspace ? workspace : "paramserver", "/", workspace_relative);
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) return srcdir + suffix;
  if (const char* runfiles = std::getenv("RUNFILES_DIR")) return runfiles + suffix;
  // A binary started by `bazel run` or by hand: its runfiles tree sits beside it.
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return "." + suffix;
  return absl::StrCat(std::string(self, length), ".runfiles", suffix);
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base ? base : "/tmp", "/", prefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

absl::StatusOr<std::string> WaitForAddressFile(const std::string& path, absl::Duration timeout,
                                               DaemonProcess* writer) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
    if (writer != nullptr) {
      if (const std::optional<int> code = writer->Wait(absl::ZeroDuration())) {
        std::string log = writer->ReadLog();
        while (!log.empty() && log.back() == '\n') log.pop_back();
        return absl::FailedPreconditionError(absl::StrCat(writer->log_path(), ": exited with code ",
                                                          *code, " before writing ", path, ": ",
                                                          log.substr(log.rfind('\n') + 1)));
      }
    }
    // The daemon signals readiness only through the file; poll for it.
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no address in ", path, " after ", absl::FormatDuration(timeout)));
}

}  // namespace ps::testing
