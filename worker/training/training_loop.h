// The loop every model trains in: epochs of steps (each one pull, compute, push, clock advance),
// a progress line every few steps, an evaluation at the end of each epoch, and a final summary.
// BSP, SSP and ASP differ only in how long the servers make a pull wait, so the loop is the same
// for all three.
#ifndef PS_WORKER_TRAINING_TRAINING_LOOP_H_
#define PS_WORKER_TRAINING_TRAINING_LOOP_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/client/ps_client.h"
#include "worker/training/metrics_record.h"

namespace ps {

// What one step saw.
struct StepStats {
  double loss_sum = 0;
  // Correct predictions, for classifiers (see TrainingTask::reports_accuracy).
  int64_t correct = 0;
  int64_t examples = 0;
  // Time computing the step's gradient, by the wall clock and by the training thread's CPU
  // clock: the difference is time the thread could have run but had no CPU (contention with the
  // servers and other workers on a small machine). Zero for tasks that do not measure it.
  absl::Duration compute;
  absl::Duration compute_cpu;
};

// A model, its data and its parameters, seen as the loop needs them.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  // Prepares epoch `epoch` (0-based), e.g. reshuffles the partition.
  virtual void BeginEpoch(int epoch) = 0;
  // Pulls the parameters, computes the gradient of batch `step` of the epoch, pushes it and
  // advances the clock.
  virtual absl::StatusOr<StepStats> Step(int64_t step) = 0;
  // Pulls the current parameters and evaluates them on the held-out set. The record's first
  // field is the headline figure (test_accuracy, test_auc).
  virtual absl::StatusOr<MetricsRecord> Evaluate() = 0;
  virtual bool reports_accuracy() const = 0;
  // Traffic so far and time spent waiting on the servers.
  virtual ClientStats traffic() const = 0;
};

struct TrainingLoopOptions {
  int epochs = 1;
  int64_t steps_per_epoch = 1;
  // A progress line every this many steps; 0 for epoch lines only.
  int64_t log_every_steps = 100;
  // Prefix of every log line, e.g. "worker 3 (rank 0)".
  std::string label;
  // Steps this rank completed before (a job resumed from a checkpoint, or a restarted worker):
  // the loop starts at epoch start_step / steps_per_epoch, batch start_step % steps_per_epoch,
  // with the epochs' shuffles replayed so that it takes exactly the batches it had not taken.
  int64_t start_step = 0;
  // Called after every step with the steps the rank has completed in all (progress reports).
  std::function<void(int64_t)> on_step;
};

// Trains, logging progress lines and writing every record (events "progress", "epoch", "final")
// to `log`. Returns the final record: the last evaluation plus examples_per_sec, bytes_pushed,
// bytes_pulled, wait_seconds and train_seconds. Every record splits the time so far:
// wait_seconds (inside data-plane calls) into transfer_seconds, server_push_seconds (the servers
// handling pushes) and barrier_wait_seconds (pulls held for slower workers); compute_seconds,
// of which cpu_contention_seconds the training thread had no CPU. Errors: the first failed step or evaluation.
absl::StatusOr<MetricsRecord> RunTraining(TrainingTask& task, const TrainingLoopOptions& options,
                                          MetricsLog& log);

}  // namespace ps

#endif  // PS_WORKER_TRAINING_TRAINING_LOOP_H_
