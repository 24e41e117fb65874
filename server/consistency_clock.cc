#include "server/consistency_clock.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ps {

absl::Status ConsistencyClock::CheckPush(uint32_t worker, uint64_t clock) const {
  if (!accumulates()) return absl::OkStatus();
  if (clock < completed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("BSP clock ", clock, " is already complete (the shard is at clock ",
                     completed_, "); the worker fell behind and must pull before pushing again"));
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
    worker_clocks_.emplace(worker, clock);  // The join clock: the first push's only.
    return;
  }
  uint64_t& reached = worker_clocks_[worker];
  reached = std::max(reached, clock + 1);
}

std::optional<uint32_t> ConsistencyClock::CompletableContributors() const {
  if (!accumulates()) return std::nullopt;
  const auto bucket = pending_.find(completed_);
  const bool pushed = bucket != pending_.end() && !bucket->second.empty();
  bool awaited_later = false;
  for (uint32_t worker : live_) {
    if (pushed && bucket->second.contains(worker)) continue;
    // Joined at a later clock: not waited for at this one.
    const auto joined = worker_clocks_.find(worker);
    if (joined != worker_clocks_.end() && joined->second > completed_) {
      awaited_later = true;
      continue;
    }
    return std::nullopt;
  }
  // A clock nobody pushed completes (as no update) only when a worker waits at a later one: the
  // clocks between a dead job's last push and a restarted worker's join clock.
  if (!pushed) return awaited_later ? std::optional<uint32_t>(0) : std::nullopt;
  return static_cast<uint32_t>(bucket->second.size());
}

std::string ConsistencyClock::DescribeWait(uint64_t reader_clock) const {
  if (Readable(reader_clock)) return absl::StrCat("readable at clock ", reader_clock);
  if (!accumulates()) {
    return absl::StrCat("the slowest live worker is at clock ", SlowestLiveWorkerClock(),
                        "; a reader at ", reader_clock, " with staleness ", spec_.staleness(),
                        " waits for it");
  }
  std::vector<uint32_t> pushed;
  std::vector<std::string> missing;
  const auto bucket = pending_.find(completed_);
  std::vector<uint32_t> live(live_.begin(), live_.end());
  std::sort(live.begin(), live.end());
  for (uint32_t worker : live) {
    if (bucket != pending_.end() && bucket->second.contains(worker)) {
      pushed.push_back(worker);
      continue;
    }
    const auto joined = worker_clocks_.find(worker);
    missing.push_back(joined == worker_clocks_.end()
                          ? absl::StrCat(worker)
                          : absl::StrCat(worker, " (joined at ", joined->second, ")"));
  }
  return absl::StrCat(completed_, " clocks completed; clock ", completed_, " pushed by workers [",
                      absl::StrJoin(pushed, ", "), "], not yet by [", absl::StrJoin(missing, ", "),
                      "]; ", pending_.size(), " clocks pending");
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

void ConsistencyClock::Serialize(v1::ShardState* state) const {
  state->set_completed_clocks(completed_);
  for (const auto& [clock, workers] : pending_) {
    v1::PendingClock* pending = state->add_pending();
    pending->set_clock(clock);
    std::vector<uint32_t> sorted(workers.begin(), workers.end());
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t worker : sorted) pending->add_workers(worker);
  }
  std::vector<std::pair<uint32_t, uint64_t>> clocks(worker_clocks_.begin(), worker_clocks_.end());
  std::sort(clocks.begin(), clocks.end());
  for (const auto& [worker, clock] : clocks) {
    v1::WorkerClock* entry = state->add_worker_clocks();
    entry->set_worker_id(worker);
    entry->set_clock(clock);
  }
}

void ConsistencyClock::Install(const v1::ShardState& state) {
  completed_ = state.completed_clocks();
  pending_.clear();
  for (const v1::PendingClock& pending : state.pending()) {
    pending_[pending.clock()].insert(pending.workers().begin(), pending.workers().end());
  }
  worker_clocks_.clear();
  for (const v1::WorkerClock& entry : state.worker_clocks()) {
    worker_clocks_[entry.worker_id()] = entry.clock();
  }
}

std::pair<uint64_t, uint64_t> ConsistencyClock::LiveWorkerClockRange() const {
  if (live_.empty()) return {0, 0};
  if (accumulates()) {
    uint64_t fastest = completed_;
    for (const auto& [clock, workers] : pending_) {
      for (uint32_t worker : workers) {
        if (live_.contains(worker)) fastest = std::max(fastest, clock + 1);
      }
    }
    return {completed_, fastest};
  }
  uint64_t fastest = 0;
  for (uint32_t worker : live_) {
    const auto it = worker_clocks_.find(worker);
    if (it != worker_clocks_.end()) fastest = std::max(fastest, it->second);
  }
  return {SlowestLiveWorkerClock(), fastest};
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
