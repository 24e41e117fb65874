#include "worker/job/worker_job.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/codec/compression.h"
#include "common/metrics/metric_registry.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "worker/compute/device.h"
#include "worker/data/partition.h"
#include "worker/job/job_data.h"
#include "worker/job/job_table_spec.h"
#include "worker/job/step_plan.h"
#include "worker/job/training_report.h"
#include "worker/model/checkpoint_model.h"
#include "worker/model/mlp.h"
#include "worker/model/model_file.h"
#include "worker/training/bucketed_parameters.h"
#include "worker/training/dense_parameters.h"
#include "worker/training/mlp_task.h"
#include "worker/training/pipelined_parameters.h"
#include "worker/training/sparse_lr_task.h"
#include "worker/training/training_loop.h"

namespace ps {
namespace {

std::string ForRank(const std::string& path, uint32_t rank) {
  return absl::StrReplaceAll(path, {{"{rank}", absl::StrCat(rank)}});
}

absl::StatusOr<std::unique_ptr<ComputeBackend>> CreateBackend(const WorkerJobOptions& options) {
  PS_ASSIGN_OR_RETURN(const DeviceChoice device, ChooseDevice(options.device));
  spdlog::info("compute device: {}", device.description);
  PS_ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend,
                      CreateComputeBackend(device, options.cpu_threads));
  spdlog::info("compute backend: {}", backend->name());
  return backend;
}

// Under BSP a worker takes up the job's clock (PsClient::JoinBspClock): 0 for a new job, the
// cut's clock for a job restored from a checkpoint, the others' clock for a restarted worker.
// SSP and ASP clocks count per worker incarnation from 0 (the servers compare only live
// workers' clocks), so they start over.
absl::Status JoinClock(PsClient& client, const v1::TableInfo& table, const std::string& label) {
  if (table.spec().consistency().model() != v1::ConsistencySpec::MODEL_BSP) {
    return absl::OkStatus();
  }
  PS_ASSIGN_OR_RETURN(const uint64_t clock, client.JoinBspClock(table));
  if (clock > 0) spdlog::info("{}joined the job at BSP clock {}", label, clock);
  return absl::OkStatus();
}

// Runs the training loop with the options' epochs, logging and metrics file, and logs the
// summary. With a client, the loop resumes after the steps the rank completed before and
// reports its progress to the coordinator.
absl::StatusOr<MetricsRecord> RunTask(const WorkerJobOptions& options, TrainingTask& task,
                                      int64_t steps_per_epoch, uint32_t rank,
                                      const std::string& label, const std::string& device,
                                      PsClient* client) {
  const bool resumed = client != nullptr && client->resume_steps() > 0;
  PS_ASSIGN_OR_RETURN(MetricsLog log,
                      MetricsLog::Open(ForRank(options.metrics_out, rank), /*append=*/resumed));
  TrainingReportOptions report_options;
  report_options.epochs = static_cast<uint32_t>(options.epochs);
  report_options.steps = static_cast<uint64_t>(options.epochs) * steps_per_epoch;
  report_options.device = device;
  report_options.rank = rank;
  TrainingReport report(report_options, client, GlobalMetrics());
  log.set_observer([&report](const MetricsRecord& record) { report.Take(record); });
  TrainingLoopOptions loop;
  loop.epochs = options.epochs;
  loop.steps_per_epoch = steps_per_epoch;
  loop.log_every_steps = options.log_every_steps;
  loop.label = label;
  if (client != nullptr) {
    loop.start_step = static_cast<int64_t>(client->resume_steps());
    client->ReportProgress(loop.start_step);
    loop.on_step = [client](int64_t steps) { client->ReportProgress(steps); };
  }
  PS_ASSIGN_OR_RETURN(MetricsRecord final_record, RunTraining(task, loop, log));
  spdlog::info("{}training finished: {}", label, final_record.ToJson());
  return final_record;
}

// How the mlp's exchanges overlap its computation (--overlap).
enum class Overlap {
  kNone,
  // Each step's exchange runs during the next step (pipelined_parameters.h): SSP >= 1, ASP.
  kNextStep,
  // A step's last shards are exchanged during its own backward pass (bucketed_parameters.h):
  // BSP, where the next step needs this step's push applied.
  kBackwardPass,
};

// Which overlap the options and table allow, saying which (or why none when asked for).
Overlap ChooseOverlap(const WorkerJobOptions& options, const v1::TableSpec& spec,
                      const Compression& compression, const std::string& label) {
  const std::string& mode = options.overlap;
  if (mode == "none" || mode == "false") return Overlap::kNone;
  if (!compression.dense()) {
    spdlog::info(
        "{}--compression={}: exchanges do not overlap computation (overlapped "
        "pushes travel as float32: the encoder would read a gradient being overwritten)",
        label, options.compression);
    return Overlap::kNone;
  }
  const v1::ConsistencySpec& consistency = spec.consistency();
  const bool reads_ahead =
      consistency.model() == v1::ConsistencySpec::MODEL_ASP ||
      (consistency.model() == v1::ConsistencySpec::MODEL_SSP && consistency.staleness() >= 1);
  if (mode == "buckets") {
    if (reads_ahead) {
      spdlog::info(
          "{}--overlap=buckets is for bsp; under {} the next step's exchange overlaps "
          "instead",
          label, v1::ConsistencySpec::Model_Name(consistency.model()));
    } else {
      spdlog::info(
          "{}exchanges overlap the backward pass: the shards of the last layers are "
          "pushed while the first layers' gradient is computed, the rest when it is "
          "done",
          label);
      return Overlap::kBackwardPass;
    }
  }
  if (!reads_ahead) return Overlap::kNone;  // auto under BSP: buckets measured slower (README).
  spdlog::info(
      "{}exchanges overlap computation: each step computes with parameters fetched "
      "during the previous one (--overlap=none to turn off)",
      label);
  return Overlap::kNextStep;
}

// Trains the mlp; with `client` null, in this process (standalone) as the only worker.
absl::StatusOr<MetricsRecord> TrainMlp(const WorkerJobOptions& options, PsClient* client,
                                       uint32_t rank, const std::string& label) {
  PS_ASSIGN_OR_RETURN(DenseData data, LoadDenseData(options));
  spdlog::info("{}data: {} ({} examples); test: {} ({} examples)", label, data.train.description,
               data.train.num_examples, data.test.description, data.test.num_examples);
  const int workers = client == nullptr ? 1 : options.workers;
  const int batch_size = options.batch_size;
  PS_ASSIGN_OR_RETURN(const StepPlan plan,
                      PlanSteps(data.train.num_examples, rank, workers, batch_size));
  PS_ASSIGN_OR_RETURN(DenseDataset partition, PartitionOf(data.train, rank, workers));
  PS_ASSIGN_OR_RETURN(const std::vector<int> layers,
                      MlpLayerSizes(options, data.train.feature_dim, data.train.num_classes));
  PS_ASSIGN_OR_RETURN(const v1::TableSpec spec,
                      MlpTableSpec(options, layers, plan.steps_per_epoch, workers));
  PS_ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend, CreateBackend(options));
  PS_ASSIGN_OR_RETURN(const Compression compression, ParseCompression(options.compression));
  if (compression.encoding == v1::ENCODING_ONEBIT &&
      (options.optimizer == "sgd" || options.optimizer == "momentum")) {
    // Measured (tests/bench/run_compression_bench.sh): each element moves by its block's mean
    // magnitude, which plain SGD steps take at face value; Adam normalises it away.
    spdlog::warn(
        "{}one-bit compression with --optimizer={} can stall training: on Fashion-MNIST "
        "with momentum at lr 0.05, 2 of 3 seeds ended at chance, and a one-epoch "
        "--compression_warmup_steps still ended 6 points below float32. adam trains well "
        "with it.",
        label, options.optimizer);
  }
  std::unique_ptr<DenseParameters> parameters;
  if (client == nullptr) {
    PS_ASSIGN_OR_RETURN(parameters, LocalDenseParameters::Create(spec, backend.get()));
  } else {
    PS_ASSIGN_OR_RETURN(v1::TableInfo table, client->CreateTable(spec));
    PS_RETURN_IF_ERROR(JoinClock(*client, table, label));
    switch (ChooseOverlap(options, spec, compression, label)) {
      case Overlap::kNextStep: {
        PS_ASSIGN_OR_RETURN(
            parameters, PipelinedDenseParameters::Create(client, std::move(table), backend.get()));
        break;
      }
      case Overlap::kBackwardPass: {
        PS_ASSIGN_OR_RETURN(
            parameters, BucketedDenseParameters::Create(client, std::move(table), backend.get()));
        break;
      }
      case Overlap::kNone: {
        PS_ASSIGN_OR_RETURN(parameters, ClusterDenseParameters::Create(
                                            client, std::move(table), backend.get(), compression,
                                            options.compression_warmup_steps));
        break;
      }
    }
  }
  PS_ASSIGN_OR_RETURN(std::unique_ptr<Mlp> mlp, Mlp::Create(backend.get(), layers, batch_size));
  spdlog::info(
      "{}mlp {} ({} parameters), {}, pushes {}, pulls {}, partition {}/{} of {} "
      "examples, {} steps per epoch of batch {}",
      label, absl::StrJoin(layers, "-"), mlp->num_parameters(), DescribeTableSpec(options, spec),
      client == nullptr ? "local" : CompressionName(compression),
      client == nullptr ? "local" : options.pull_compression, rank, workers, partition.num_examples,
      plan.steps_per_epoch, batch_size);

  MlpTask task(mlp.get(), parameters.get(), &partition, &data.test, batch_size,
               options.seed * 7919 + rank);
  PS_ASSIGN_OR_RETURN(MetricsRecord final_record, RunTask(options, task, plan.steps_per_epoch, rank,
                                                          label, backend->name(), client));

  const std::string& model_out = options.model_out;
  if (!model_out.empty() && (rank == 0 || absl::StrContains(model_out, "{rank}"))) {
    const std::string path = ForRank(model_out, rank);
    PS_RETURN_IF_ERROR(WriteMlpModel(path, MlpModel{layers, task.parameters()}));
    spdlog::info("{}model exported to {}", label, path);
  }
  return final_record;
}

absl::StatusOr<MetricsRecord> TrainSparseLr(const WorkerJobOptions& options, PsClient& client,
                                            uint32_t rank, const std::string& label) {
  PS_ASSIGN_OR_RETURN(SparseData data, LoadSparseData(options));
  spdlog::info("{}data: {} ({} examples); test: {} examples", label, data.train.description,
               data.train.num_examples(), data.test.num_examples());
  const int workers = options.workers;
  const int batch_size = options.batch_size;
  PS_ASSIGN_OR_RETURN(const StepPlan plan,
                      PlanSteps(data.train.num_examples(), rank, workers, batch_size));
  PS_ASSIGN_OR_RETURN(SparseDataset partition, PartitionOf(data.train, rank, workers));
  PS_ASSIGN_OR_RETURN(const v1::TableSpec spec,
                      SparseLrTableSpec(options, plan.steps_per_epoch, workers));
  PS_ASSIGN_OR_RETURN(v1::TableInfo table, client.CreateTable(spec));
  PS_RETURN_IF_ERROR(JoinClock(client, table, label));
  spdlog::info(
      "{}sparse logistic regression over {} keys, {}, partition {}/{}, {} steps per "
      "epoch of batch {}",
      label, data.train.key_space, DescribeTableSpec(options, spec), rank, workers,
      plan.steps_per_epoch, batch_size);
  SparseLrTask task(&client, std::move(table), &partition, &data.test, batch_size,
                    options.seed * 7919 + rank);
  return RunTask(options, task, plan.steps_per_epoch, rank, label, "cpu", &client);
}

// The dense table evaluate reads from --checkpoint_in, and the checkpoint it came from.
struct CheckpointTable {
  std::string directory;
  CheckpointedDenseTable table;
};

absl::StatusOr<CheckpointTable> ReadCheckpointTable(const WorkerJobOptions& options) {
  std::vector<std::string> skipped;
  absl::StatusOr<std::string> directory = ChooseCheckpoint(options.checkpoint_in, &skipped);
  // Logged before any error too: why a root's newer checkpoints could not be read.
  for (const std::string& reason : skipped) {
    spdlog::warn("skipping checkpoint {}", reason);
  }
  if (!directory.ok()) return directory.status();
  const std::string table_name = options.table.empty() ? options.model : options.table;
  PS_ASSIGN_OR_RETURN(CheckpointedDenseTable table,
                      ReadDenseTableFromCheckpoint(*directory, table_name));
  spdlog::info("read table '{}' ({} values) from checkpoint {}", table_name, table.values.size(),
               *directory);
  return CheckpointTable{*std::move(directory), std::move(table)};
}

// The mlp the checkpointed table holds: its layer sizes are not in the checkpoint, so they come
// from the test set and --hidden, and must account for exactly the table's values.
absl::StatusOr<MlpModel> MlpFromCheckpoint(const WorkerJobOptions& options,
                                           CheckpointTable checkpoint, int inputs, int classes) {
  PS_ASSIGN_OR_RETURN(std::vector<int> layers, MlpLayerSizes(options, inputs, classes));
  const uint64_t count = MlpParameterCount(layers);
  const std::vector<float>& values = checkpoint.table.values;
  if (count != values.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", checkpoint.table.table.spec().name(), "' of ", checkpoint.directory, " has ",
        values.size(), " values; an mlp ", absl::StrJoin(layers, "-"), " has ", count,
        ": pass the --hidden the job trained with (got --hidden=", options.hidden, ")"));
  }
  return MlpModel{std::move(layers), std::move(checkpoint.table.values)};
}

}  // namespace

PsClientOptions PsClientOptionsFor(const WorkerJobOptions& options) {
  PsClientOptions client;
  client.coordinator_address = options.coordinator;
  client.security = options.security;
  client.wait_for_workers = options.workers;
  client.connect_timeout = absl::Seconds(options.register_timeout_s);
  client.pull_encoding = ParsePullCompression(options.pull_compression).value_or(v1::ENCODING_F32);
  return client;
}

absl::StatusOr<std::unique_ptr<PsClient>> JoinCluster(const WorkerJobOptions& options) {
  PS_RETURN_IF_ERROR(ValidateWorkerJobOptions(options));
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(PsClientOptionsFor(options));
  if (!client.ok()) {
    return absl::Status(client.status().code(),
                        absl::StrCat("cannot join the cluster: ", client.status().message()));
  }
  return client;
}

absl::StatusOr<MetricsRecord> RunClusterJob(const WorkerJobOptions& options, PsClient& client) {
  PS_RETURN_IF_ERROR(ValidateWorkerJobOptions(options));
  const uint32_t rank = client.rank();
  if (rank >= static_cast<uint32_t>(options.workers)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", rank, " but --workers=", options.workers, ": start at most --workers workers"));
  }
  const std::string label = absl::StrCat("worker ", client.worker_id(), " rank ", rank, ": ");
  if (options.model == "sparse_lr") return TrainSparseLr(options, client, rank, label);
  return TrainMlp(options, &client, rank, label);
}

absl::StatusOr<MetricsRecord> RunStandaloneJob(const WorkerJobOptions& options) {
  PS_RETURN_IF_ERROR(ValidateWorkerJobOptions(options));
  if (options.model != "mlp") {
    return absl::InvalidArgumentError(
        absl::StrCat("--model=", options.model, " trains on a cluster only"));
  }
  return TrainMlp(options, nullptr, 0, "standalone: ");
}

absl::StatusOr<Evaluation> RunEvaluateJob(const WorkerJobOptions& options) {
  PS_RETURN_IF_ERROR(ValidateWorkerJobOptions(options));
  // Validation checks this for --mode=evaluate only.
  if (options.model_in.empty() == options.checkpoint_in.empty()) {
    return absl::InvalidArgumentError(
        "evaluating needs exactly one of --model_in and --checkpoint_in");
  }
  Evaluation evaluation;
  // The model is read before the data, so that a bad file or checkpoint fails at once.
  MlpModel model;
  std::optional<CheckpointTable> checkpoint;
  if (!options.model_in.empty()) {
    PS_ASSIGN_OR_RETURN(model, ReadMlpModel(options.model_in));
    evaluation.model = options.model_in;
  } else {
    PS_ASSIGN_OR_RETURN(checkpoint, ReadCheckpointTable(options));
    evaluation.model = checkpoint->directory;
    evaluation.checkpoint_id = checkpoint->table.checkpoint_id;
    evaluation.table = checkpoint->table.table.spec().name();
  }
  PS_ASSIGN_OR_RETURN(DenseData data, LoadDenseData(options));
  if (checkpoint.has_value()) {
    PS_ASSIGN_OR_RETURN(model, MlpFromCheckpoint(options, *std::move(checkpoint),
                                                 data.test.feature_dim, data.test.num_classes));
  }
  if (model.layer_sizes.front() != data.test.feature_dim ||
      model.layer_sizes.back() != data.test.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model maps ", model.layer_sizes.front(), " inputs to ", model.layer_sizes.back(),
        " classes; the test set has ", data.test.feature_dim, " and ", data.test.num_classes));
  }
  PS_ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend, CreateBackend(options));
  PS_ASSIGN_OR_RETURN(std::unique_ptr<Mlp> mlp,
                      Mlp::Create(backend.get(), model.layer_sizes, options.batch_size));
  PS_RETURN_IF_ERROR(mlp->SetParameters(model.parameters));
  PS_ASSIGN_OR_RETURN(const BatchLoss loss, mlp->Evaluate(data.test.features, data.test.labels));
  evaluation.test_examples = data.test.num_examples;
  evaluation.test_accuracy = double(loss.correct) / data.test.num_examples;
  evaluation.test_loss = loss.loss_sum / data.test.num_examples;
  evaluation.test_set = data.test.description;
  MetricsRecord record;
  record.Set("event", std::string("evaluate")).Set("model", evaluation.model);
  if (!evaluation.table.empty()) {
    record.Set("table", evaluation.table)
        .Set("checkpoint_id", static_cast<int64_t>(evaluation.checkpoint_id));
  }
  record.Set("test_set", evaluation.test_set)
      .Set("test_accuracy", evaluation.test_accuracy)
      .Set("test_loss", evaluation.test_loss);
  PS_ASSIGN_OR_RETURN(MetricsLog log, MetricsLog::Open(options.metrics_out));
  PS_RETURN_IF_ERROR(log.Write(record));
  return evaluation;
}

}  // namespace ps
