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
    const absl::Time now = absl::Now();
    state_.ExpireSilentMembers(now);
    state_.SaveProgressIfDue(now);
    state_.TickMoves(now);
  }
}

}  // namespace ps
