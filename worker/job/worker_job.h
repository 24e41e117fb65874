// The jobs a ps_worker process runs, driven by a WorkerJobOptions:
//   - cluster training: JoinCluster() registers with the coordinator (the one step that needs the
//     network, kept apart so the caller owns the client and can make it leave on a signal), then
//     RunClusterJob() trains this worker's partition through the servers;
//   - standalone training: the same model and loop with the parameters in this process (the
//     overhead benchmark's baseline; no cluster);
//   - evaluation: scores an exported mlp, or one read from a checkpoint, on the test set.
// Each loads its data, builds the table spec and compute backend, logs through spdlog's default
// logger and writes metrics_out. Each function runs on the calling thread; one job at a time per
// process (the CPU backend sets OpenBLAS's process-wide thread count).
#ifndef PS_WORKER_JOB_WORKER_JOB_H_
#define PS_WORKER_JOB_WORKER_JOB_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/client/ps_client.h"
#include "worker/job/worker_job_options.h"
#include "worker/training/metrics_record.h"

namespace ps {

// The client options of a job: coordinator, the start barrier of `workers` workers,
// register_timeout_s and the pull encoding. REQUIRES: ValidateWorkerJobOptions(options) is OK.
PsClientOptions PsClientOptionsFor(const WorkerJobOptions& options);

// Registers with the coordinator as a worker and waits for the other workers (up to
// register_timeout_s). Errors: InvalidArgument for options ValidateWorkerJobOptions refuses
// (before any connection); those of PsClient::Connect, prefixed "cannot join the cluster: ".
absl::StatusOr<std::unique_ptr<PsClient>> JoinCluster(const WorkerJobOptions& options);

// Trains the options' model on partition client.rank() of `options.workers` through `client`
// (one data-plane thread: the caller's), and, for the mlp, exports the model to model_out
// (rank 0, or every rank when the path holds {rank}). Returns the final metrics record (see
// RunTraining). Errors: InvalidArgument for refused options or a rank >= workers (more workers
// joined than the job has); those of loading the data, the table and training.
absl::StatusOr<MetricsRecord> RunClusterJob(const WorkerJobOptions& options, PsClient& client);

// Trains the mlp in this process, on the whole training set, as one worker of rank 0 would;
// the same seed gives the same run on the CPU. Returns the final metrics record.
// Errors: InvalidArgument for refused options or a model other than the mlp (sparse_lr trains
// on a cluster only); those of loading the data and training.
absl::StatusOr<MetricsRecord> RunStandaloneJob(const WorkerJobOptions& options);

// What evaluating the model on the test set gave.
struct Evaluation {
  // What was scored: model_in, or the directory of the checkpoint read (for a root, the one
  // chosen under it).
  std::string model;
  // The checkpoint's table and id; "" and 0 for model_in.
  std::string table;
  uint64_t checkpoint_id = 0;
  double test_accuracy = 0;
  // Mean cross-entropy per example.
  double test_loss = 0;
  int64_t test_examples = 0;
  // The test set's description.
  std::string test_set;
};

// Scores an mlp on the dataset's test set and writes an "evaluate" record to metrics_out. The
// mlp is the exported one in model_in, or the dense table --table (default "mlp") of the
// checkpoint checkpoint_in names (checkpoint_model.h: a checkpoint's directory, or a root whose
// newest complete checkpoint is read, each newer one passed over logged with the reason), its
// layer sizes the test set's input size, --hidden and its class count. No cluster is involved.
// Errors: InvalidArgument for refused options, a model whose input or output size does not
// match the test set, or a checkpointed table whose size is not the parameter count of that
// shape (the message says to pass the --hidden the job trained with); those of ReadMlpModel,
// of ChooseCheckpoint and ReadDenseTableFromCheckpoint, and of loading the data.
absl::StatusOr<Evaluation> RunEvaluateJob(const WorkerJobOptions& options);

}  // namespace ps

#endif  // PS_WORKER_JOB_WORKER_JOB_H_
