// ps_worker: a worker daemon of a parameter-server cluster.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/coordinator_session.h"
#include "common/logging.h"
#include "common/termination_signal.h"
#include "spdlog/spdlog.h"
#include "worker/compute/device.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "host:port of the coordinator.");
ABSL_FLAG(std::string, device, "auto",
          "Compute device: auto (GPU when usable, else CPU), cuda, or cpu.");
ABSL_FLAG(int, register_timeout_s, 30,
          "How long to keep trying to reach the coordinator at start, in seconds.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Worker daemon of a parameter-server cluster: joins the cluster, follows the cluster map\n"
      "and computes on the chosen device. Usage: ps_worker --coordinator=HOST:PORT [--device=auto]");
  absl::ParseCommandLine(argc, argv);
  ps::BlockTerminationSignals();
  if (absl::Status logging = ps::InitLogging("worker", absl::GetFlag(FLAGS_log_level));
      !logging.ok()) {
    std::fprintf(stderr, "ps_worker: %s\n", logging.ToString().c_str());
    return 2;
  }
  const absl::StatusOr<ps::DeviceChoice> device = ps::ChooseDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) {
    spdlog::critical("{}", device.status().ToString());
    return 2;
  }
  spdlog::info("compute device: {}", device->description);

  ps::CoordinatorSessionOptions session_options;
  session_options.coordinator_address = absl::GetFlag(FLAGS_coordinator);
  session_options.role = ps::v1::MemberRef::ROLE_WORKER;
  session_options.register_timeout = absl::Seconds(absl::GetFlag(FLAGS_register_timeout_s));
  std::atomic<bool> expelled{false};
  absl::StatusOr<std::unique_ptr<ps::CoordinatorSession>> session = ps::CoordinatorSession::Start(
      session_options,
      [](const ps::v1::ClusterMap& map) {
        int live_servers = 0;
        for (const auto& server : map.servers()) {
          live_servers += server.state() == ps::v1::MEMBER_STATE_ALIVE;
        }
        spdlog::info("map epoch {}: {} live servers, {} shards placed", map.epoch(), live_servers,
                     map.shards_size());
      },
      [&](const absl::Status&) {
        expelled = true;
        kill(getpid(), SIGTERM);
      });
  if (!session.ok()) {
    spdlog::critical("{}", session.status().ToString());
    return 1;
  }
  spdlog::info("worker {} has rank {}", (*session)->member_id(), (*session)->rank());

  const int signal_number = ps::WaitForTerminationSignal();
  if (expelled) {
    spdlog::error("declared dead by the coordinator; stopping");
    return 1;
  }
  spdlog::info("received signal {}; leaving the cluster", signal_number);
  (*session)->Leave();
  spdlog::info("worker stopped");
  return 0;
}
