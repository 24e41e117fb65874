// Periodically declares silent members dead and saves the ranks' progress reports. Owns one thread, started by the constructor and
// joined by the destructor.
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
  FailureDetector(ClusterState& state, absl::Duration period,
                  std::function<bool()> may_act = nullptr);
  ~FailureDetector();

  FailureDetector(const FailureDetector&) = delete;
  FailureDetector& operator=(const FailureDetector&) = delete;

 private:
  void Run();

  ClusterState& state_;
  const absl::Duration period_;
  const std::function<bool()> may_act_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_
