#include "server/consistency_clock.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace ps {

absl::Status ConsistencyClock::CheckPush(uint32_t worker, uint64_t clock) const {
  if (!accumulates()) return absl::OkStatus();
  if (clock < completed_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "BSP clock ", clock, " is already complete (the shard is at clock ", completed_,
        "); the worker fell behind and must pull before pushing again"));
  }
  if (clock >= completed_ + kMaxBspClocksAhead) {
    return absl::FailedPreconditionError(
        absl::StrCat("BSP push for clock ", clock, " is more than ", kMaxBspClocksAhead,
                     " clocks ahead of the shard (at ", completed_, "); pull before pushing"));
  }
  const auto bucket = pending_.find(clock);
  if (bucket != pending_.end() && bucket->second.contains(worker)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "worker ", worker, " already pushed BSP clock ", clock, "; advance the clock first"));
  }
  return absl::OkStatus();
}

void ConsistencyClock::RecordPush(uint32_t worker, uint64_t clock) {
  if (accumulates()) {
    pending_[clock].insert(worker);
    return;
  }
  uint64_t& reached = worker_clocks_[worker];
  reached = std::max(reached, clock + 1);
}

std::optional<uint32_t> ConsistencyClock::CompletableContributors() const {
  if (!accumulates()) return std::nullopt;
  const auto bucket = pending_.find(completed_);
  if (bucket == pending_.end() || bucket->second.empty()) return std::nullopt;
  for (uint32_t worker : live_) {
    if (!bucket->second.contains(worker)) return std::nullopt;
  }
  return static_cast<uint32_t>(bucket->second.size());
}

void ConsistencyClock::CompleteClock() {
  pending_.erase(completed_);
  ++completed_;
}

bool ConsistencyClock::Readable(uint64_t reader_clock) const {
  switch (spec_.model()) {
    case v1::ConsistencySpec::MODEL_BSP:
      return completed_ >= reader_clock;
    case v1::ConsistencySpec::MODEL_SSP:
      return reader_clock <= spec_.staleness() ||
             SlowestLiveWorkerClock() >= reader_clock - spec_.staleness();
    default:
      return true;
  }
}

uint64_t ConsistencyClock::clock() const {
  return accumulates() ? completed_ : (live_.empty() ? 0 : SlowestLiveWorkerClock());
}

uint64_t ConsistencyClock::SlowestLiveWorkerClock() const {
  uint64_t slowest = std::numeric_limits<uint64_t>::max();
  for (uint32_t worker : live_) {
    const auto it = worker_clocks_.find(worker);
    slowest = std::min(slowest, it == worker_clocks_.end() ? 0 : it->second);
  }
  return slowest;
}

}  // namespace ps
