// The consistency model of one table in one shard (DESIGN.md "Consistency"): which worker clocks
// the shard has seen, when a BSP clock is complete, and whether a reader at a given clock may
// read now. Pure bookkeeping: the shard's values live in its ShardStore.
//
//   BSP: pushes for clock t are accumulated; once every live worker has pushed t (and at least
//        one worker has) the average is applied and the shard's clock becomes t + 1. A reader at
//        clock c may read once the shard's clock is >= c. A worker joins at the clock of its
//        first push to the shard: it is waited for at that clock and every later one, and not
//        at earlier ones, so a worker that (re)joins a running job is admitted at a clock
//        boundary ahead of the shard while the clocks before complete without it. Until its
//        first push a live worker is waited for at every clock: no clock completes while a
//        worker that has not pushed yet is alive (the start barrier, and what lets a joining
//        worker read a clock no shard will pass without it: PsClient::JoinBspClock).
//   SSP(s): pushes apply on arrival; a worker that pushed clock t has reached t + 1. A reader at
//        clock c may read once the slowest live worker has reached c - s.
//   ASP: pushes apply on arrival; reads never wait.
//
// Not thread-safe: the owning TableShard serialises access.
#ifndef PS_SERVER_CONSISTENCY_CLOCK_H_
#define PS_SERVER_CONSISTENCY_CLOCK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "proto/parameter_server.pb.h"
#include "proto/types.pb.h"

namespace ps {

class ConsistencyClock {
 public:
  // How far ahead of the shard's clock a BSP worker may push before being told to pull first.
  static constexpr uint64_t kMaxBspClocksAhead = 64;

  explicit ConsistencyClock(const v1::ConsistencySpec& spec) : spec_(spec) {}

  v1::ConsistencySpec::Model model() const { return spec_.model(); }
  bool accumulates() const { return spec_.model() == v1::ConsistencySpec::MODEL_BSP; }

  void SetLiveWorkers(absl::flat_hash_set<uint32_t> live) { live_ = std::move(live); }
  bool has_live_workers() const { return !live_.empty(); }
  // BSP: whether some clock has pushes accumulating.
  bool has_pending() const { return !pending_.empty(); }
  // BSP: whether some worker pushed `clock` and it has not completed yet.
  bool pushed_at(uint64_t clock) const {
    const auto it = pending_.find(clock);
    return it != pending_.end() && !it->second.empty();
  }

  // Whether `worker` may push for `clock` now. BSP: FailedPrecondition for a clock the shard has
  // already completed, for a second push to the same clock, or for one too far ahead.
  absl::Status CheckPush(uint32_t worker, uint64_t clock) const;
  // Records an accepted push. REQUIRES: CheckPush(worker, clock).ok().
  void RecordPush(uint32_t worker, uint64_t clock);

  // BSP: the number of workers that pushed the shard's current clock, if every live worker has.
  // The caller applies that clock's average and then calls CompleteClock(). Otherwise nullopt.
  std::optional<uint32_t> CompletableContributors() const;
  void CompleteClock();

  // Whether a reader at `reader_clock` may read now.
  bool Readable(uint64_t reader_clock) const;

  // BSP: clocks completed. SSP and ASP: the slowest live worker's clock (0 without workers).
  uint64_t clock() const;
  // BSP: clocks completed so far (the next clock to complete).
  uint64_t completed() const { return completed_; }
  // What a reader at `reader_clock` waits for, for logs and errors: "clock 10 of 11 completed" or,
  // BSP, "waits for clock 10: pushed by workers [1, 2], not by [3] (joined at 0)".
  std::string DescribeWait(uint64_t reader_clock) const;

  // The slowest and fastest clocks live workers have reached, for monitoring staleness: SSP and
  // ASP their clocks (one past the newest each pushed); BSP the completed clocks and one past
  // the newest clock any live worker pushed. (0, 0) without live workers.
  std::pair<uint64_t, uint64_t> LiveWorkerClockRange() const;

  // Writes the canonical state (completed clocks, pending clocks with their workers, worker
  // clocks or, BSP, join clocks; not the live workers, which come from the map) into `state`,
  // and reads it back.
  void Serialize(v1::ShardState* state) const;
  void Install(const v1::ShardState& state);

 private:
  uint64_t SlowestLiveWorkerClock() const;

  const v1::ConsistencySpec spec_;
  absl::flat_hash_set<uint32_t> live_;
  // BSP: clocks completed so far, and the workers that pushed each pending clock.
  uint64_t completed_ = 0;
  std::map<uint64_t, absl::flat_hash_set<uint32_t>> pending_;
  // SSP and ASP: each worker's clock (one more than the newest clock it pushed). BSP: the clock
  // each worker joined at (its first push).
  absl::flat_hash_map<uint32_t, uint64_t> worker_clocks_;
};

}  // namespace ps

#endif  // PS_SERVER_CONSISTENCY_CLOCK_H_
