#include "worker/job/step_plan.h"

#include "absl/strings/str_cat.h"

namespace ps {

int64_t PartitionExamples(int64_t total_examples, int rank, int workers) {
  if (rank >= total_examples) return 0;
  return (total_examples - rank + workers - 1) / workers;
}

absl::StatusOr<StepPlan> PlanSteps(int64_t total_examples, int rank, int workers,
                                   int batch_size) {
  if (workers < 1 || rank < 0 || rank >= workers) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " is not one of --workers=", workers));
  }
  if (batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch_size must be >= 1, got ", batch_size));
  }
  if (total_examples < 0) total_examples = 0;
  StepPlan plan;
  plan.partition_examples = PartitionExamples(total_examples, rank, workers);
  plan.steps_per_epoch = total_examples / workers / batch_size;
  if (plan.steps_per_epoch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a partition of ", total_examples / workers, " examples (", total_examples,
                     " over ", workers, " workers) is smaller than one batch (--batch_size=",
                     batch_size, ")"));
  }
  return plan;
}

}  // namespace ps
