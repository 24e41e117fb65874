#include "server/coordinator/failure_detector.h"

namespace ps {

FailureDetector::FailureDetector(ClusterState& state, absl::Duration period)
    : state_(state), period_(period), thread_([this] { Run(); }) {}

FailureDetector::~FailureDetector() {
  stop_.Notify();
  thread_.join();
}

void FailureDetector::Run() {
  while (!stop_.WaitForNotificationWithTimeout(period_)) {
    state_.ExpireSilentMembers(absl::Now());
  }
}

}  // namespace ps
