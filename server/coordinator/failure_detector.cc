#include "server/coordinator/failure_detector.h"

namespace ps {

FailureDetector::FailureDetector(ClusterState& state, absl::Duration period,
                                 std::function<bool()> may_act)
    : state_(state), period_(period), may_act_(std::move(may_act)), thread_([this] { Run(); }) {}

FailureDetector::~FailureDetector() {
  stop_.Notify();
  thread_.join();
}

void FailureDetector::Run() {
  while (!stop_.WaitForNotificationWithTimeout(period_)) {
    if (may_act_ && !may_act_()) continue;
    const absl::Time now = absl::Now();
    state_.ExpireSilentMembers(now);
    state_.SaveProgressIfDue(now);
    state_.TickMoves(now);
  }
}

}  // namespace ps
