#include "tests/harness/test_etcd.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "server/coordinator/etcd_client.h"

namespace ps::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

std::string FindEtcd() {
  for (const char* candidate : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

std::optional<std::string> EtcdMissing() {
  if (!FindEtcd().empty()) return std::nullopt;
  return std::string(
      "etcd is not installed (no /usr/bin/etcd): apt-get install etcd-server, or run "
      "deploy/install_deps.sh");
}

bool EtcdRequired() {
  const char* required = std::getenv("PS_REQUIRE_ETCD");
  return required != nullptr && std::string(required) == "1";
}

absl::StatusOr<std::unique_ptr<TestEtcd>> TestEtcd::Start(
    const std::vector<std::string>& extra_flags) {
  std::unique_ptr<TestEtcd> etcd(new TestEtcd());
  etcd->binary_ = FindEtcd();
  if (etcd->binary_.empty()) return absl::FailedPreconditionError(*EtcdMissing());
  etcd->directory_ = MakeTempDir("etcd");
  if (etcd->directory_.empty()) return absl::InternalError("cannot create a temp dir");
  etcd->extra_flags_ = extra_flags;
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    etcd->client_port_ = PickFreePort();
    etcd->peer_port_ = PickFreePort();
    if (etcd->client_port_ == 0 || etcd->client_port_ == etcd->peer_port_) continue;
    etcd->endpoint_ = absl::StrCat("127.0.0.1:", etcd->client_port_);
    std::error_code ignored;
    std::filesystem::remove_all(etcd->directory_ + "/data", ignored);
    last = etcd->Launch(absl::StrCat(etcd->directory_, "/etcd.", attempt, ".log"));
    if (last.ok()) last = etcd->WaitUntilServing(kStartTimeout);
    if (last.ok()) return etcd;
    etcd->Stop();
  }
  return last;
}

TestEtcd::~TestEtcd() {
  Stop();
  std::error_code ignored;
  if (!directory_.empty()) std::filesystem::remove_all(directory_ + "/data", ignored);
}

absl::Status TestEtcd::Launch(const std::string& log_path) {
  const std::string client = absl::StrCat("http://127.0.0.1:", client_port_);
  const std::string peer = absl::StrCat("http://127.0.0.1:", peer_port_);
  std::vector<std::string> args = {
      "--name=test",
      "--data-dir=" + directory_ + "/data",
      "--listen-client-urls=" + client,
      "--advertise-client-urls=" + client,
      "--listen-peer-urls=" + peer,
      "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=test=" + peer,
      "--initial-cluster-state=new",  // Ignored on a restart: the data directory has a WAL.
      absl::StrCat("--initial-cluster-token=test-", getpid()),
      // 1 s leases need an election timeout of at most 666 ms (REPORT: etcd raises smaller TTLs).
      "--election-timeout=500",
      "--heartbeat-interval=50",
      "--logger=zap",
      "--log-outputs=stderr",
  };
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process =
      DaemonProcess::Start(binary_, args, log_path);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  return absl::OkStatus();
}

absl::Status TestEtcd::WaitUntilServing(absl::Duration timeout) {
  // Ready = a linearizable read answers (etcd has a raft leader). wait_for_ready calls: etcd
  // accepts TCP before it serves, and fail-fast calls on a refused first connection recover late.
  GrpcEtcdClientOptions options;
  options.endpoints = {endpoint_};
  options.call_timeout = absl::Milliseconds(500);
  std::unique_ptr<EtcdClient> client = NewGrpcEtcdClient(options);
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < give_up) {
    if (std::optional<int> exited = process_->Wait(absl::ZeroDuration())) {
      return absl::UnavailableError(absl::StrCat("etcd exited with ", *exited, ":\n", ReadLog()));
    }
    absl::StatusOr<std::optional<EtcdKeyValue>> read = client->Get("/ps-test-readiness");
    if (read.ok()) return absl::OkStatus();
    last = read.status();
  }
  return absl::DeadlineExceededError(absl::StrCat("etcd did not serve within ",
                                                  absl::FormatDuration(timeout), " (",
                                                  last.ToString(), "):\n", ReadLog()));
}

void TestEtcd::Stop(int signal) {
  if (process_ == nullptr) return;
  process_->Signal(signal);
  process_->Wait(absl::Seconds(10));
  process_.reset();
}

absl::Status TestEtcd::Restart() {
  Stop();
  if (absl::Status launched =
          Launch(absl::StrCat(directory_, "/etcd.restart", ++generation_, ".log"));
      !launched.ok()) {
    return launched;
  }
  return WaitUntilServing(kStartTimeout);
}

std::string TestEtcd::ReadLog() const {
  return process_ == nullptr ? std::string("(etcd not running)") : process_->ReadLog();
}

}  // namespace ps::testing
