// The workers' training progress as they report it in heartbeats (v1::WorkerProgress): the last
// report of each, its training curve, and which workers hold the others up. Kept in memory only
// (a restarted coordinator starts new curves; the job's step counts are in ClusterState).
//
// Thread-safety: safe for concurrent use.
#ifndef PS_SERVER_COORDINATOR_WORKER_PROGRESS_H_
#define PS_SERVER_COORDINATOR_WORKER_PROGRESS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "proto/coordinator.pb.h"

namespace ps {

// A worker is a straggler when its compute time per step is at least 1 / this of the quickest
// worker's (under BSP and SSP every worker runs at the pace of the slowest, so speed cannot tell
// which one it is, while compute per step, summed over the run, can), or when its examples/s are
// at most this share of the fastest worker's while it is also behind (ASP: a slow worker falls
// back). Speed alone is measured over one report interval and jitters on a busy machine.
inline constexpr double kStragglerShare = 2.0 / 3.0;
// "Behind": fewer steps than this share of the furthest worker's, once that one did
// kMinStepsToJudge steps.
inline constexpr double kBehindShare = 0.95;
inline constexpr uint64_t kMinStepsToJudge = 20;

// For each of `workers` (the last reports of the live workers), why it is a straggler, or "".
std::vector<std::string> FindStragglers(const std::vector<v1::WorkerProgress>& workers);

class WorkerProgressBook {
 public:
  // Points kept per curve; beyond, every other point is dropped (the curve keeps its shape at
  // half the resolution).
  static constexpr size_t kMaxCurvePoints = 512;

  // Takes `progress`, reported by worker `worker_id` (a heartbeat the coordinator accepted).
  void Report(uint32_t worker_id, const v1::WorkerProgress& progress);

  // Sets MemberHealth.progress of every ALIVE worker in `status` that reported, straggler
  // reasons included, and with `with_curves` adds every curve (ClusterStatus.curves), ranks taken
  // from status.map().
  void Annotate(v1::ClusterStatus& status, bool with_curves) const;

 private:
  struct Worker {
    v1::WorkerProgress last;
    std::vector<v1::CurvePoint> curve;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Worker> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_WORKER_PROGRESS_H_
