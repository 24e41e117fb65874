// How many steps a worker takes per epoch, from the size of the training set, the number of
// workers and the batch size. Every worker of a job takes the same number of steps, so BSP's
// clocks line up across workers even though partitions differ in size by one example.
// Pure functions; thread-safe.
#ifndef PS_WORKER_JOB_STEP_PLAN_H_
#define PS_WORKER_JOB_STEP_PLAN_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace ps {

struct StepPlan {
  // Examples in this rank's partition (see worker/data/partition.h).
  int64_t partition_examples = 0;
  // total_examples / workers / batch_size, the same for every rank; a shorter partition wraps
  // around (EpochOrder).
  int64_t steps_per_epoch = 0;
};

// Examples of `total_examples` that PartitionOf gives rank `rank` of `workers` (indices i with
// i % workers == rank): ceil((total_examples - rank) / workers), 0 when rank >= total_examples.
// REQUIRES: total_examples >= 0, workers >= 1, 0 <= rank < workers.
int64_t PartitionExamples(int64_t total_examples, int rank, int workers);

// The plan of rank `rank`. Errors: InvalidArgument unless workers >= 1, 0 <= rank < workers and
// batch_size >= 1, or when a worker's share (total_examples / workers) is smaller than one batch.
absl::StatusOr<StepPlan> PlanSteps(int64_t total_examples, int rank, int workers,
                                   int batch_size);

}  // namespace ps

#endif  // PS_WORKER_JOB_STEP_PLAN_H_
