// Periodically declares silent members dead and saves the ranks' progress reports. Owns one
// thread, started by the constructor and joined by the destructor.
#ifndef PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_
#define PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/coordinator/cluster_state.h"

namespace ps {

class FailureDetector {
 public:
  // Sweeps `state` (borrowed; must outlive this) every `period`. A member is declared dead at most
  // failure_timeout + period after its last heartbeat. `may_act` (optional) skips sweeps while
  // it is false: a coordinator whose leadership may have lapsed refuses heartbeats and cannot
  // save, so it must not decide (and log) deaths it could not publish anyway.
  // A sweep that comes more than `stall` after the previous one (the coordinator was stopped or
  // starved of CPU) declares no one dead: it restarts every member's silence clock instead
  // (ClusterState::RestartSilenceClocks) and says so in the log. Without it, a coordinator
  // paused for longer than the failure timeout would declare the whole cluster dead at once on
  // waking, while the members' heartbeats sat unread in its sockets. Zero: no such check.
  FailureDetector(ClusterState& state, absl::Duration period, absl::Duration stall,
                  std::function<bool()> may_act = nullptr);
  ~FailureDetector();

  FailureDetector(const FailureDetector&) = delete;
  FailureDetector& operator=(const FailureDetector&) = delete;

 private:
  void Run();

  ClusterState& state_;
  const absl::Duration period_;
  const absl::Duration stall_;
  const std::function<bool()> may_act_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_
