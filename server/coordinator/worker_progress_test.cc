#include "server/coordinator/worker_progress.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

v1::WorkerProgress Progress(uint64_t reports, uint64_t step, double loss, double rate,
                            double compute_seconds) {
  v1::WorkerProgress progress;
  progress.set_reports(reports);
  progress.set_step(step);
  progress.set_epoch(1);
  progress.set_loss(loss);
  progress.set_examples_per_second(rate);
  progress.set_compute_seconds(compute_seconds);
  return progress;
}

v1::ClusterStatus StatusWithWorkers(const std::vector<std::pair<uint32_t, v1::MemberState>>& ids) {
  v1::ClusterStatus status;
  uint32_t rank = 0;
  for (const auto& [id, state] : ids) {
    v1::MemberHealth* member = status.add_members();
    member->mutable_member()->set_role(v1::MemberRef::ROLE_WORKER);
    member->mutable_member()->set_id(id);
    member->set_state(state);
    v1::WorkerInfo* worker = status.mutable_map()->add_workers();
    worker->set_worker_id(id);
    worker->set_rank(rank++);
  }
  return status;
}

TEST(FindStragglersTest, SlowComputePerStepIsNamedEvenAtTheSamePace) {
  // BSP: both train at 100 examples/s, but worker 1 computes 3x longer per step.
  const std::vector<std::string> reasons =
      FindStragglers({Progress(1, 100, 0.5, 100, 10), Progress(1, 100, 0.5, 100, 30)});
  EXPECT_EQ(reasons[0], "");
  EXPECT_EQ(reasons[1], "computes 3.0x longer per step than the quickest worker");
}

TEST(FindStragglersTest, LowSpeedAtTheSameStepIsNoise) {
  // One report interval's speed jitters; a worker as far as the others is not holding them up.
  const std::vector<std::string> reasons =
      FindStragglers({Progress(1, 100, 0.5, 300, 10), Progress(1, 99, 0.5, 100, 10)});
  EXPECT_EQ(reasons, (std::vector<std::string>{"", ""}));
}

TEST(FindStragglersTest, LowSpeedIsNamedAndSimilarWorkersAreNot) {
  const std::vector<std::string> reasons =
      FindStragglers({Progress(1, 100, 0.5, 300, 10), Progress(1, 90, 0.5, 250, 11),
                      Progress(1, 40, 0.5, 100, 0)});
  EXPECT_EQ(reasons[0], "");
  EXPECT_EQ(reasons[1], "");
  EXPECT_EQ(reasons[2], "100 examples/s, 33% of the fastest worker's");
  EXPECT_EQ(FindStragglers({Progress(1, 10, 1, 50, 1)}), std::vector<std::string>{""});
}

TEST(WorkerProgressBookTest, AnnotatesLiveWorkersAndAddsAPointPerNewReport) {
  WorkerProgressBook book;
  book.Report(7, Progress(1, 10, 2.0, 100, 1));
  book.Report(7, Progress(1, 12, 2.0, 100, 1.2));  // Same report, later step: no new point.
  book.Report(7, Progress(2, 20, 1.5, 100, 2));
  book.Report(8, Progress(1, 10, 1.4, 30, 1));
  book.Report(9, Progress(1, 20, 1.4, 30, 2));  // Dead by the time of the status.
  v1::ClusterStatus status = StatusWithWorkers(
      {{7, v1::MEMBER_STATE_ALIVE}, {8, v1::MEMBER_STATE_ALIVE}, {9, v1::MEMBER_STATE_DEAD}});

  book.Annotate(status, /*with_curves=*/true);

  ASSERT_EQ(status.members_size(), 3);
  EXPECT_EQ(status.members(0).progress().step(), 20u);
  EXPECT_EQ(status.members(0).progress().loss(), 1.5);
  EXPECT_EQ(status.members(0).progress().straggler(), "");
  EXPECT_EQ(status.members(1).progress().straggler(), "30 examples/s, 30% of the fastest worker's");
  EXPECT_FALSE(status.members(2).has_progress()) << "dead workers show no progress";
  ASSERT_EQ(status.curves_size(), 3);
  EXPECT_EQ(status.curves(0).worker_id(), 7u);
  EXPECT_EQ(status.curves(0).rank(), 0u);
  ASSERT_EQ(status.curves(0).points_size(), 2);
  EXPECT_EQ(status.curves(0).points(0).loss(), 2.0);
  EXPECT_EQ(status.curves(0).points(1).step(), 20u);
  EXPECT_EQ(status.curves(2).points_size(), 1) << "a dead worker's curve stays";

  v1::ClusterStatus without = StatusWithWorkers({{7, v1::MEMBER_STATE_ALIVE}});
  book.Annotate(without, /*with_curves=*/false);
  EXPECT_EQ(without.curves_size(), 0);
}

TEST(WorkerProgressBookTest, LongCurvesAreThinnedButKeepTheirEnds) {
  WorkerProgressBook book;
  const uint64_t reports = 3 * WorkerProgressBook::kMaxCurvePoints;
  for (uint64_t i = 1; i <= reports; ++i) book.Report(1, Progress(i, i, 1.0 / i, 10, i));
  v1::ClusterStatus status = StatusWithWorkers({{1, v1::MEMBER_STATE_ALIVE}});
  book.Annotate(status, true);
  ASSERT_EQ(status.curves_size(), 1);
  const auto& points = status.curves(0).points();
  EXPECT_LE(static_cast<size_t>(points.size()), WorkerProgressBook::kMaxCurvePoints);
  EXPECT_GE(static_cast<size_t>(points.size()), WorkerProgressBook::kMaxCurvePoints / 2);
  EXPECT_EQ(points[0].step(), 1u);
  EXPECT_EQ(points[points.size() - 1].step(), reports);
  for (int i = 1; i < points.size(); ++i) EXPECT_LT(points[i - 1].step(), points[i].step());
}

}  // namespace
}  // namespace ps
