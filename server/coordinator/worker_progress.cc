#include "server/coordinator/worker_progress.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_format.h"

namespace ps {
namespace {

double ComputePerStep(const v1::WorkerProgress& progress) {
  return progress.step() == 0 ? 0 : progress.compute_seconds() / progress.step();
}

}  // namespace

std::vector<std::string> FindStragglers(const std::vector<v1::WorkerProgress>& workers) {
  std::vector<std::string> reasons(workers.size());
  if (workers.size() < 2) return reasons;
  double fastest = 0;
  double quickest = 0;  // Least compute per step.
  uint64_t furthest = 0;
  for (const v1::WorkerProgress& worker : workers) {
    fastest = std::max(fastest, worker.examples_per_second());
    furthest = std::max(furthest, worker.step());
    const double per_step = ComputePerStep(worker);
    if (per_step > 0 && (quickest == 0 || per_step < quickest)) quickest = per_step;
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    const v1::WorkerProgress& worker = workers[i];
    const double per_step = ComputePerStep(worker);
    if (quickest > 0 && per_step * kStragglerShare >= quickest && per_step > quickest) {
      reasons[i] = absl::StrFormat("computes %.1fx longer per step than the quickest worker",
                                   per_step / quickest);
    } else if (fastest > 0 && worker.examples_per_second() <= kStragglerShare * fastest &&
               furthest >= kMinStepsToJudge &&
               static_cast<double>(worker.step()) < kBehindShare * static_cast<double>(furthest)) {
      reasons[i] = absl::StrFormat("%.0f examples/s, %.0f%% of the fastest worker's",
                                   worker.examples_per_second(),
                                   100 * worker.examples_per_second() / fastest);
    }
  }
  return reasons;
}

void WorkerProgressBook::Report(uint32_t worker_id, const v1::WorkerProgress& progress) {
  absl::MutexLock lock(&mu_);
  Worker& worker = workers_[worker_id];
  const bool new_report = progress.reports() > worker.last.reports();
  worker.last = progress;
  worker.last.clear_straggler();
  if (!new_report) return;
  v1::CurvePoint& point = worker.curve.emplace_back();
  point.set_elapsed_seconds(progress.elapsed_seconds());
  point.set_step(progress.step());
  point.set_epoch(progress.epoch());
  point.set_loss(progress.loss());
  if (progress.has_train_accuracy()) point.set_train_accuracy(progress.train_accuracy());
  if (progress.has_test_accuracy()) point.set_test_accuracy(progress.test_accuracy());
  if (worker.curve.size() > kMaxCurvePoints) {
    // Keep the first, every other one after it, and the newest.
    std::vector<v1::CurvePoint> thinned;
    thinned.reserve(worker.curve.size() / 2 + 2);
    for (size_t i = 0; i + 1 < worker.curve.size(); i += 2) thinned.push_back(worker.curve[i]);
    thinned.push_back(worker.curve.back());
    worker.curve = std::move(thinned);
  }
}

void WorkerProgressBook::Annotate(v1::ClusterStatus& status, bool with_curves) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::MemberHealth*> reporting;
  std::vector<v1::WorkerProgress> progress;
  for (v1::MemberHealth& member : *status.mutable_members()) {
    if (member.member().role() != v1::MemberRef::ROLE_WORKER ||
        member.state() != v1::MEMBER_STATE_ALIVE) {
      continue;
    }
    const auto found = workers_.find(member.member().id());
    if (found == workers_.end()) continue;
    reporting.push_back(&member);
    progress.push_back(found->second.last);
  }
  const std::vector<std::string> reasons = FindStragglers(progress);
  for (size_t i = 0; i < reporting.size(); ++i) {
    *reporting[i]->mutable_progress() = progress[i];
    reporting[i]->mutable_progress()->set_straggler(reasons[i]);
  }
  if (!with_curves) return;
  std::map<uint32_t, uint32_t> ranks;
  for (const v1::WorkerInfo& worker : status.map().workers()) {
    ranks[worker.worker_id()] = worker.rank();
  }
  std::map<uint32_t, const Worker*> by_id;
  for (const auto& [id, worker] : workers_) by_id[id] = &worker;
  for (const auto& [id, worker] : by_id) {
    v1::WorkerCurve* curve = status.add_curves();
    curve->set_worker_id(id);
    curve->set_rank(ranks[id]);
    for (const v1::CurvePoint& point : worker->curve) *curve->add_points() = point;
  }
}

}  // namespace ps
