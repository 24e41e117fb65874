// ps_worker: a worker daemon of a parameter-server cluster. It joins the cluster, trains a model
// on its partition of the data through the servers (pull, compute, push, advance the clock),
// reports progress and exports the model. Two more modes need no cluster: `standalone` trains
// the same model in this process (the baseline of the overhead benchmark) and `evaluate` scores
// an exported model on the test set.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/codec/compression.h"
#include "common/denormals.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/termination_signal.h"
#include "spdlog/spdlog.h"
#include "worker/client/ps_client.h"
#include "worker/compute/device.h"
#include "worker/data/idx_reader.h"
#include "worker/data/libsvm_reader.h"
#include "worker/data/partition.h"
#include "worker/data/synthetic_images.h"
#include "worker/data/zipf_generator.h"
#include "worker/model/mlp.h"
#include "worker/model/model_file.h"
#include "worker/training/dense_parameters.h"
#include "worker/training/mlp_task.h"
#include "worker/training/sparse_lr_task.h"
#include "worker/training/table_specs.h"
#include "worker/training/training_loop.h"

ABSL_FLAG(std::string, mode, "train",
          "train: join the cluster and train; standalone: train the same model in this process "
          "without a cluster; evaluate: score --model_in on the test set.");
ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "host:port of the coordinator (train).");
ABSL_FLAG(std::string, device, "auto",
          "Compute device: auto (GPU when usable, else CPU), cuda, or cpu.");
ABSL_FLAG(int, cpu_threads, 0, "OpenBLAS threads on the CPU device; 0 = one per core.");
ABSL_FLAG(std::string, model, "mlp", "mlp (dense table) or sparse_lr (sparse table).");
ABSL_FLAG(std::string, dataset, "fashion-mnist",
          "mlp: fashion-mnist or synthetic-images (a labelled stand-in); sparse_lr: zipf "
          "(synthetic) or libsvm (--libsvm_train, --libsvm_test).");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist",
          "Directory of the Fashion-MNIST IDX files (.gz).");
ABSL_FLAG(std::string, libsvm_train, "", "LIBSVM training file (--dataset=libsvm).");
ABSL_FLAG(std::string, libsvm_test, "", "LIBSVM test file (--dataset=libsvm).");
ABSL_FLAG(int64_t, train_limit, 0,
          "mlp: train on only the first N training examples (0 = all), for quick runs.");
ABSL_FLAG(int64_t, zipf_examples, 200000, "Training examples of the zipf set (test: a quarter).");
ABSL_FLAG(uint64_t, zipf_keys, 1000000, "Key space of the zipf set.");
ABSL_FLAG(std::string, hidden, "256,128", "mlp: hidden layer sizes, comma-separated.");
ABSL_FLAG(float, init_scale, 0.05f, "mlp: initial weights are uniform in [-s, s).");
ABSL_FLAG(int, epochs, 10, "Passes over this worker's partition.");
ABSL_FLAG(int, batch_size, 64, "Examples per step and worker.");
ABSL_FLAG(std::string, optimizer, "adam", "sgd, momentum, adagrad, adam or ftrl (sparse only).");
ABSL_FLAG(float, learning_rate, 0, "0 = the optimizer's usual rate (adam 0.001, ftrl 0.1, else 0.05).");
ABSL_FLAG(float, lr_decay, 1.0f,
          "Learning-rate factor per epoch, applied smoothly by the servers (1 = constant).");
ABSL_FLAG(std::string, consistency, "bsp", "bsp, ssp or asp.");
ABSL_FLAG(uint32_t, staleness, 3, "SSP's staleness bound in clocks.");
ABSL_FLAG(std::string, compression, "none",
          "mlp: how pushed gradients travel: none (float32), fp16, int8[:BLOCK] (per-block "
          "scale), topk:RATIO (the largest RATIO of values, e.g. topk:0.01) or onebit[:BLOCK] "
          "(signs and a per-block scale). topk and onebit keep what they do not send and add it "
          "to the next gradient (error feedback). Encoded on the compute device.");
ABSL_FLAG(int64_t, compression_warmup_steps, 0,
          "Push the first N steps uncompressed before --compression takes over.");
ABSL_FLAG(std::string, pull_compression, "none",
          "How pulled parameters travel: none (float32) or fp16 (half the bytes).");
ABSL_FLAG(std::string, table, "", "Table name; default: the model's name.");
ABSL_FLAG(int, workers, 1,
          "Workers of the job: the data is split into this many partitions, and training starts "
          "once this many workers have joined.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the initial weights, the shuffles and generated data.");
ABSL_FLAG(int64_t, log_every_steps, 100, "A progress line every this many steps (0: per epoch).");
ABSL_FLAG(std::string, metrics_out, "",
          "JSON-lines metrics file; {rank} in the path becomes this worker's rank.");
ABSL_FLAG(std::string, model_out, "",
          "mlp: export the trained model here (rank 0 only, unless the path holds {rank}); "
          "format in worker/model/model_file.h.");
ABSL_FLAG(std::string, model_in, "", "evaluate: the exported model to score.");
ABSL_FLAG(int, register_timeout_s, 60,
          "How long to wait for the coordinator and the other workers at start, in seconds.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");

namespace ps {
namespace {

struct DenseData {
  DenseDataset train;
  DenseDataset test;
};

struct SparseData {
  SparseDataset train;
  SparseDataset test;
};

absl::StatusOr<DenseData> LoadDenseData() {
  const std::string dataset = absl::GetFlag(FLAGS_dataset);
  if (dataset == "fashion-mnist") {
    PS_ASSIGN_OR_RETURN(auto sets, ReadFashionMnist(absl::GetFlag(FLAGS_data_dir)));
    return DenseData{std::move(sets.first), std::move(sets.second)};
  }
  if (dataset == "synthetic-images") {
    const uint64_t seed = absl::GetFlag(FLAGS_seed);
    return DenseData{MakeSyntheticImages(60000, seed, seed + 1),
                     MakeSyntheticImages(10000, seed, seed + 2)};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--dataset for the mlp must be fashion-mnist or synthetic-images, got '", dataset, "'"));
}

absl::StatusOr<SparseData> LoadSparseData() {
  const std::string dataset = absl::GetFlag(FLAGS_dataset);
  if (dataset == "libsvm") {
    if (absl::GetFlag(FLAGS_libsvm_train).empty() || absl::GetFlag(FLAGS_libsvm_test).empty()) {
      return absl::InvalidArgumentError("--dataset=libsvm needs --libsvm_train and --libsvm_test");
    }
    PS_ASSIGN_OR_RETURN(SparseDataset train, ReadLibsvm(absl::GetFlag(FLAGS_libsvm_train)));
    PS_ASSIGN_OR_RETURN(SparseDataset test, ReadLibsvm(absl::GetFlag(FLAGS_libsvm_test)));
    return SparseData{std::move(train), std::move(test)};
  }
  if (dataset == "zipf") {
    // Train and test share the hidden model (model_seed) and differ in their examples.
    ZipfOptions options;
    options.key_space = absl::GetFlag(FLAGS_zipf_keys);
    options.model_seed = absl::GetFlag(FLAGS_seed);
    options.num_examples = absl::GetFlag(FLAGS_zipf_examples);
    options.seed = absl::GetFlag(FLAGS_seed) * 2;
    PS_ASSIGN_OR_RETURN(SparseDataset train, MakeZipfDataset(options));
    options.num_examples /= 4;
    options.seed += 1;
    PS_ASSIGN_OR_RETURN(SparseDataset test, MakeZipfDataset(options));
    return SparseData{std::move(train), std::move(test)};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--dataset for sparse_lr must be zipf or libsvm, got '", dataset, "'"));
}

absl::StatusOr<std::vector<int>> MlpLayers(int inputs, int classes) {
  std::vector<int> layers = {inputs};
  for (absl::string_view size : absl::StrSplit(absl::GetFlag(FLAGS_hidden), ',',
                                               absl::SkipWhitespace())) {
    int value;
    if (!absl::SimpleAtoi(size, &value) || value <= 0 || value > (1 << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--hidden must list positive layer sizes, got '", size, "'"));
    }
    layers.push_back(value);
  }
  layers.push_back(classes);
  return layers;
}

// `steps_per_epoch` is per worker; `workers` take them together.
TrainingChoices ChoicesFromFlags(const std::string& default_table, int64_t steps_per_epoch,
                                 int workers) {
  TrainingChoices choices;
  choices.table_name = absl::GetFlag(FLAGS_table).empty() ? default_table
                                                           : absl::GetFlag(FLAGS_table);
  choices.optimizer = absl::GetFlag(FLAGS_optimizer);
  choices.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  choices.consistency = absl::GetFlag(FLAGS_consistency);
  choices.staleness = absl::GetFlag(FLAGS_staleness);
  choices.seed = absl::GetFlag(FLAGS_seed);
  choices.decay_per_epoch = absl::GetFlag(FLAGS_lr_decay);
  choices.updates_per_epoch =
      steps_per_epoch * (choices.consistency == "bsp" ? 1 : static_cast<int64_t>(workers));
  return choices;
}

// "bsp, adam lr 0.001" (ssp with its bound).
std::string Describe(const v1::TableSpec& spec) {
  std::string consistency = absl::GetFlag(FLAGS_consistency);
  if (spec.consistency().model() == v1::ConsistencySpec::MODEL_SSP) {
    absl::StrAppend(&consistency, "(", spec.consistency().staleness(), ")");
  }
  std::string text = absl::StrCat(consistency, ", ", absl::GetFlag(FLAGS_optimizer), " lr ",
                                  spec.optimizer().learning_rate());
  if (spec.optimizer().decay_steps() > 0) {
    absl::StrAppend(&text, " x", spec.optimizer().decay_rate(), " every ",
                    spec.optimizer().decay_steps(), " updates");
  }
  return text;
}

std::string ForRank(const std::string& path, uint32_t rank) {
  return absl::StrReplaceAll(path, {{"{rank}", absl::StrCat(rank)}});
}

absl::StatusOr<std::unique_ptr<ComputeBackend>> BackendFromFlags() {
  PS_ASSIGN_OR_RETURN(const DeviceChoice device, ChooseDevice(absl::GetFlag(FLAGS_device)));
  spdlog::info("compute device: {}", device.description);
  PS_ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend,
                      CreateComputeBackend(device, absl::GetFlag(FLAGS_cpu_threads)));
  spdlog::info("compute backend: {}", backend->name());
  return backend;
}

absl::StatusOr<Compression> PushCompressionFromFlags() {
  return ParseCompression(absl::GetFlag(FLAGS_compression));
}

absl::StatusOr<v1::Encoding> PullEncodingFromFlags() {
  const std::string pull = absl::GetFlag(FLAGS_pull_compression);
  if (pull == "none") return v1::ENCODING_F32;
  if (pull == "fp16") return v1::ENCODING_F16;
  return absl::InvalidArgumentError(
      absl::StrCat("--pull_compression must be none or fp16, got '", pull, "'"));
}

absl::Status CheckTrainingFlags() {
  PS_RETURN_IF_ERROR(PushCompressionFromFlags().status());
  PS_RETURN_IF_ERROR(PullEncodingFromFlags().status());
  if (absl::GetFlag(FLAGS_epochs) < 1) return absl::InvalidArgumentError("--epochs must be >= 1");
  if (absl::GetFlag(FLAGS_batch_size) < 1) {
    return absl::InvalidArgumentError("--batch_size must be >= 1");
  }
  if (absl::GetFlag(FLAGS_workers) < 1) return absl::InvalidArgumentError("--workers must be >= 1");
  return absl::OkStatus();
}

// Runs the training loop with the flags' epochs, logging and metrics file, and logs the summary.
absl::Status RunTask(TrainingTask& task, int64_t steps_per_epoch, uint32_t rank,
                     const std::string& label) {
  PS_ASSIGN_OR_RETURN(MetricsLog log,
                      MetricsLog::Open(ForRank(absl::GetFlag(FLAGS_metrics_out), rank)));
  TrainingLoopOptions options;
  options.epochs = absl::GetFlag(FLAGS_epochs);
  options.steps_per_epoch = steps_per_epoch;
  options.log_every_steps = absl::GetFlag(FLAGS_log_every_steps);
  options.label = label;
  PS_ASSIGN_OR_RETURN(const MetricsRecord final_record, RunTraining(task, options, log));
  spdlog::info("{}training finished: {}", label, final_record.ToJson());
  return absl::OkStatus();
}

// Trains the MLP; with `client` null, in this process (standalone).
absl::Status TrainMlp(PsClient* client, uint32_t rank, const std::string& label) {
  PS_ASSIGN_OR_RETURN(DenseData data, LoadDenseData());
  if (const int64_t limit = absl::GetFlag(FLAGS_train_limit);
      limit > 0 && limit < data.train.num_examples) {
    data.train.num_examples = limit;
    data.train.features.resize(limit * data.train.feature_dim);
    data.train.labels.resize(limit);
    absl::StrAppend(&data.train.description, ", first ", limit, " examples");
  }
  spdlog::info("{}data: {} ({} examples); test: {} ({} examples)", label, data.train.description,
               data.train.num_examples, data.test.description, data.test.num_examples);
  const int workers = client == nullptr ? 1 : absl::GetFlag(FLAGS_workers);
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  PS_ASSIGN_OR_RETURN(DenseDataset partition, PartitionOf(data.train, rank, workers));
  // Every worker takes the same number of steps, so BSP's clocks line up across workers.
  const int64_t steps_per_epoch = data.train.num_examples / workers / batch_size;
  if (steps_per_epoch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("a partition of ", partition.num_examples,
                                                   " examples is smaller than one batch"));
  }
  PS_ASSIGN_OR_RETURN(const std::vector<int> layers,
                      MlpLayers(data.train.feature_dim, data.train.num_classes));
  PS_ASSIGN_OR_RETURN(const v1::TableSpec spec,
                      DenseTableSpec(ChoicesFromFlags("mlp", steps_per_epoch, workers), MlpParameterCount(layers),
                                     absl::GetFlag(FLAGS_init_scale)));
  PS_ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend, BackendFromFlags());
  PS_ASSIGN_OR_RETURN(const Compression compression, PushCompressionFromFlags());
  const std::string optimizer = absl::GetFlag(FLAGS_optimizer);
  if (compression.encoding == v1::ENCODING_ONEBIT &&
      (optimizer == "sgd" || optimizer == "momentum")) {
    // Measured (tests/bench/run_compression_bench.sh): each element moves by its block's mean
    // magnitude, which plain SGD steps take at face value; Adam normalises it away.
    spdlog::warn(
        "{}one-bit compression with --optimizer={} can stall training: on Fashion-MNIST "
        "with momentum at lr 0.05, 2 of 3 seeds ended at chance, and a one-epoch "
        "--compression_warmup_steps still ended 6 points below float32. adam trains well "
        "with it.",
        label, optimizer);
  }
  std::unique_ptr<DenseParameters> parameters;
  if (client == nullptr) {
    PS_ASSIGN_OR_RETURN(parameters, LocalDenseParameters::Create(spec, backend.get()));
  } else {
    PS_ASSIGN_OR_RETURN(v1::TableInfo table, client->CreateTable(spec));
    PS_ASSIGN_OR_RETURN(parameters, ClusterDenseParameters::Create(
                                        client, std::move(table), backend.get(), compression,
                                        absl::GetFlag(FLAGS_compression_warmup_steps)));
  }
  PS_ASSIGN_OR_RETURN(std::unique_ptr<Mlp> mlp, Mlp::Create(backend.get(), layers, batch_size));
  spdlog::info(
      "{}mlp {} ({} parameters), {}, pushes {}, pulls {}, partition {}/{} of {} "
      "examples, {} steps per epoch of batch {}",
      label, absl::StrJoin(layers, "-"), mlp->num_parameters(), Describe(spec),
      client == nullptr ? "local" : CompressionName(compression),
      client == nullptr ? "local" : absl::GetFlag(FLAGS_pull_compression), rank, workers,
      partition.num_examples, steps_per_epoch, batch_size);

  MlpTask task(mlp.get(), parameters.get(), &partition, &data.test, batch_size,
               absl::GetFlag(FLAGS_seed) * 7919 + rank);
  PS_RETURN_IF_ERROR(RunTask(task, steps_per_epoch, rank, label));

  const std::string model_out = absl::GetFlag(FLAGS_model_out);
  if (!model_out.empty() && (rank == 0 || absl::StrContains(model_out, "{rank}"))) {
    const std::string path = ForRank(model_out, rank);
    PS_RETURN_IF_ERROR(WriteMlpModel(path, MlpModel{layers, task.parameters()}));
    spdlog::info("{}model exported to {}", label, path);
  }
  return absl::OkStatus();
}

absl::Status TrainSparseLr(PsClient* client, uint32_t rank, const std::string& label) {
  if (!PushCompressionFromFlags()->dense()) {
    return absl::InvalidArgumentError(
        "--compression applies to the mlp's dense table; sparse_lr already pushes only the rows "
        "its batch touched (--pull_compression=fp16 does apply)");
  }
  PS_ASSIGN_OR_RETURN(SparseData data, LoadSparseData());
  spdlog::info("{}data: {} ({} examples); test: {} examples", label, data.train.description,
               data.train.num_examples(), data.test.num_examples());
  const int workers = absl::GetFlag(FLAGS_workers);
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  PS_ASSIGN_OR_RETURN(SparseDataset partition, PartitionOf(data.train, rank, workers));
  const int64_t steps_per_epoch = data.train.num_examples() / workers / batch_size;
  if (steps_per_epoch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("a partition of ", partition.num_examples(),
                                                   " examples is smaller than one batch"));
  }
  PS_ASSIGN_OR_RETURN(const v1::TableSpec spec, SparseTableSpec(ChoicesFromFlags("sparse_lr", steps_per_epoch, workers), 1));
  PS_ASSIGN_OR_RETURN(v1::TableInfo table, client->CreateTable(spec));
  spdlog::info("{}sparse logistic regression over {} keys, {}, partition {}/{}, {} steps per "
               "epoch of batch {}",
               label, data.train.key_space, Describe(spec), rank, workers, steps_per_epoch,
               batch_size);
  SparseLrTask task(client, std::move(table), &partition, &data.test, batch_size,
                    absl::GetFlag(FLAGS_seed) * 7919 + rank);
  PS_RETURN_IF_ERROR(RunTask(task, steps_per_epoch, rank, label));
  return absl::OkStatus();
}

absl::Status Evaluate() {
  const std::string path = absl::GetFlag(FLAGS_model_in);
  if (path.empty()) return absl::InvalidArgumentError("--mode=evaluate needs --model_in");
  PS_ASSIGN_OR_RETURN(const MlpModel model, ReadMlpModel(path));
  PS_ASSIGN_OR_RETURN(DenseData data, LoadDenseData());
  if (model.layer_sizes.front() != data.test.feature_dim ||
      model.layer_sizes.back() != data.test.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model maps ", model.layer_sizes.front(), " inputs to ", model.layer_sizes.back(),
        " classes; the test set has ", data.test.feature_dim, " and ", data.test.num_classes));
  }
  PS_ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend, BackendFromFlags());
  PS_ASSIGN_OR_RETURN(std::unique_ptr<Mlp> mlp, Mlp::Create(backend.get(), model.layer_sizes,
                                                            absl::GetFlag(FLAGS_batch_size)));
  PS_RETURN_IF_ERROR(mlp->SetParameters(model.parameters));
  PS_ASSIGN_OR_RETURN(const BatchLoss loss, mlp->Evaluate(data.test.features, data.test.labels));
  MetricsRecord record;
  record.Set("event", std::string("evaluate"))
      .Set("model", path)
      .Set("test_set", data.test.description)
      .Set("test_accuracy", double(loss.correct) / data.test.num_examples)
      .Set("test_loss", loss.loss_sum / data.test.num_examples);
  PS_ASSIGN_OR_RETURN(MetricsLog log, MetricsLog::Open(absl::GetFlag(FLAGS_metrics_out)));
  PS_RETURN_IF_ERROR(log.Write(record));
  std::printf("test_accuracy %.4f on %lld examples of %s\n",
              double(loss.correct) / data.test.num_examples,
              static_cast<long long>(data.test.num_examples), data.test.description.c_str());
  return absl::OkStatus();
}

absl::Status TrainModel(PsClient* client, uint32_t rank, const std::string& label) {
  const std::string model = absl::GetFlag(FLAGS_model);
  if (model == "mlp") return TrainMlp(client, rank, label);
  if (model == "sparse_lr") {
    if (client == nullptr) return absl::InvalidArgumentError("sparse_lr trains on a cluster only");
    return TrainSparseLr(client, rank, label);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--model must be mlp or sparse_lr, got '", model, "'"));
}

// Joins the cluster and trains, in a thread, while main() waits for a termination signal from
// the start (also while waiting for the other workers); the thread raises SIGTERM itself when it
// is done, so one wait covers both. A signal before then is an orderly stop: the worker leaves
// the cluster and exits 0. Returns the exit status.
int TrainOnCluster() {
  absl::Mutex mu;
  std::unique_ptr<PsClient> client;  // Guarded by mu once the thread runs.
  std::atomic<bool> finished{false};
  absl::Status result;
  std::thread trainer([&] {
    PsClientOptions options;
    options.coordinator_address = absl::GetFlag(FLAGS_coordinator);
    options.wait_for_workers = absl::GetFlag(FLAGS_workers);
    options.connect_timeout = absl::Seconds(absl::GetFlag(FLAGS_register_timeout_s));
    options.pull_encoding = *PullEncodingFromFlags();  // Checked before the thread started.
    absl::StatusOr<std::unique_ptr<PsClient>> connected = PsClient::Connect(options);
    PsClient* joined = nullptr;
    if (connected.ok()) {
      absl::MutexLock lock(&mu);
      client = *std::move(connected);
      joined = client.get();
    }
    if (joined == nullptr) {
      result = absl::Status(connected.status().code(),
                            absl::StrCat("cannot join the cluster: ", connected.status().message()));
    } else if (joined->rank() >= static_cast<uint32_t>(absl::GetFlag(FLAGS_workers))) {
      result = absl::InvalidArgumentError(
          absl::StrCat("rank ", joined->rank(), " but --workers=", absl::GetFlag(FLAGS_workers),
                       ": start at most --workers workers"));
    } else {
      result = TrainModel(joined, joined->rank(),
                          absl::StrCat("worker ", joined->worker_id(), " rank ", joined->rank(),
                                       ": "));
    }
    finished = true;
    kill(getpid(), SIGTERM);
  });
  const int signal_number = WaitForTerminationSignal();
  if (!finished) {
    spdlog::info("received signal {} before training finished; leaving the cluster",
                 signal_number);
    {
      absl::MutexLock lock(&mu);
      if (client != nullptr) client->Leave();
    }
    spdlog::shutdown();
    std::_Exit(0);  // The training thread may be inside a call; nothing of it needs saving.
  }
  trainer.join();
  if (client != nullptr) client->Leave();
  if (!result.ok()) {
    spdlog::critical("training failed: {}", result.ToString());
    return result.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  spdlog::info("training done; left the cluster");
  return 0;
}

}  // namespace
}  // namespace ps

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Worker daemon of a parameter-server cluster.\n"
      "  ps_worker --coordinator=HOST:PORT --workers=N [--model=mlp] [--consistency=bsp] ...\n"
      "      joins the cluster and trains on its partition of the data\n"
      "  ps_worker --mode=standalone [--model=mlp] ...   the same training, in this process\n"
      "  ps_worker --mode=evaluate --model_in=FILE       test accuracy of an exported model");
  absl::ParseCommandLine(argc, argv);
  ps::FlushDenormalsToZero();
  ps::BlockTerminationSignals();
  if (absl::Status logging = ps::InitLogging("worker", absl::GetFlag(FLAGS_log_level));
      !logging.ok()) {
    std::fprintf(stderr, "ps_worker: %s\n", logging.ToString().c_str());
    return 2;
  }
  if (absl::Status flags = ps::CheckTrainingFlags(); !flags.ok()) {
    spdlog::critical("{}", flags.ToString());
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "train") return ps::TrainOnCluster();
  absl::Status result;
  if (mode == "standalone") {
    result = ps::TrainModel(nullptr, 0, "standalone: ");
  } else if (mode == "evaluate") {
    result = ps::Evaluate();
  } else {
    result = absl::InvalidArgumentError(
        absl::StrCat("--mode must be train, standalone or evaluate, got '", mode, "'"));
  }
  if (!result.ok()) {
    spdlog::critical("{}", result.ToString());
    return result.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
