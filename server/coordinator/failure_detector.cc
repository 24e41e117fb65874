#include "server/coordinator/failure_detector.h"

#include "spdlog/spdlog.h"

namespace ps {

FailureDetector::FailureDetector(ClusterState& state, absl::Duration period, absl::Duration stall,
                                 std::function<bool()> may_act)
    : state_(state), period_(period), stall_(stall), may_act_(std::move(may_act)), thread_([this] {
        Run();
      }) {}

FailureDetector::~FailureDetector() {
  stop_.Notify();
  thread_.join();
}

void FailureDetector::Run() {
  absl::Time previous = absl::Now();
  while (!stop_.WaitForNotificationWithTimeout(period_)) {
    const absl::Time now = absl::Now();
    const absl::Duration gap = now - previous;
    previous = now;
    if (may_act_ && !may_act_()) continue;
    if (stall_ > absl::ZeroDuration() && gap > stall_) {
      spdlog::warn(
          "this coordinator was stalled for {} ms (stopped, or starved of CPU): the members' "
          "heartbeats of that time may still be unread, so each gets a fresh failure timeout "
          "instead of being declared dead",
          absl::ToInt64Milliseconds(gap));
      state_.RestartSilenceClocks(now);
      continue;
    }
    state_.ExpireSilentMembers(now);
    state_.SaveProgressIfDue(now);
    state_.TickMoves(now);
  }
}

}  // namespace ps
