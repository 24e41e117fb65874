// Periodically declares silent members dead and saves the ranks' progress reports. Owns one thread, started by the constructor and
// joined by the destructor.
#ifndef PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_
#define PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/coordinator/cluster_state.h"

namespace ps {

class FailureDetector {
 public:
  // Sweeps `state` (borrowed; must outlive this) every `period`. A member is declared dead at most
  // failure_timeout + period after its last heartbeat.
  FailureDetector(ClusterState& state, absl::Duration period);
  ~FailureDetector();

  FailureDetector(const FailureDetector&) = delete;
  FailureDetector& operator=(const FailureDetector&) = delete;

 private:
  void Run();

  ClusterState& state_;
  const absl::Duration period_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_FAILURE_DETECTOR_H_
