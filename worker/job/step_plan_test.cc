#include "worker/job/step_plan.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "worker/data/partition.h"

namespace ps {
namespace {

TEST(StepPlanTest, StepsAreTheWorkersShareInWholeBatches) {
  // 60000 / 1 / 64 = 937.5: the last partial batch is dropped.
  EXPECT_EQ(PlanSteps(60000, 0, 1, 64)->steps_per_epoch, 937);
  // 6000 / 2 / 32 = 93.75.
  EXPECT_EQ(PlanSteps(6000, 0, 2, 32)->steps_per_epoch, 93);
  EXPECT_EQ(PlanSteps(6000, 1, 2, 32)->steps_per_epoch, 93);
  EXPECT_EQ(PlanSteps(64, 0, 1, 64)->steps_per_epoch, 1);
}

TEST(StepPlanTest, EveryRankTakesTheSameStepsThoughPartitionsDiffer) {
  // 10 examples over 3 workers: ranks hold 4, 3 and 3; all take 10 / 3 / 3 = 1 step.
  for (int rank = 0; rank < 3; ++rank) {
    const absl::StatusOr<StepPlan> plan = PlanSteps(10, rank, 3, 3);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->steps_per_epoch, 1) << rank;
    EXPECT_EQ(plan->partition_examples, rank == 0 ? 4 : 3) << rank;
  }
}

TEST(StepPlanTest, PartitionSizesMatchPartitionOfAndSumToTheWhole) {
  for (int64_t total : {0, 1, 7, 10, 101, 6000}) {
    for (int workers : {1, 2, 3, 7}) {
      DenseDataset dataset;
      dataset.num_examples = total;
      dataset.feature_dim = 1;
      dataset.num_classes = 1;
      dataset.features.assign(total, 0.0f);
      dataset.labels.assign(total, 0);
      int64_t sum = 0;
      for (int rank = 0; rank < workers; ++rank) {
        const int64_t size = PartitionExamples(total, rank, workers);
        EXPECT_EQ(size, PartitionOf(dataset, rank, workers)->num_examples)
            << total << " " << rank << "/" << workers;
        sum += size;
      }
      EXPECT_EQ(sum, total) << total << " over " << workers;
    }
  }
}

TEST(StepPlanTest, AShareSmallerThanABatchIsRefused) {
  // 100 over 2 workers: 50 each, less than 64.
  const absl::Status status = PlanSteps(100, 0, 2, 64).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("partition of 50 examples"), std::string::npos) << status;
  EXPECT_EQ(PlanSteps(0, 0, 1, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StepPlanTest, BadRanksAndBatchesAreRefused) {
  EXPECT_EQ(PlanSteps(100, 2, 2, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanSteps(100, -1, 2, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanSteps(100, 0, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanSteps(100, 0, 1, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
