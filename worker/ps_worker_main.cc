// ps_worker: a worker daemon of a parameter-server cluster. It joins the cluster, trains a model
// on its partition of the data through the servers (pull, compute, push, advance the clock),
// reports progress and exports the model. Two more modes need no cluster: `standalone` trains
// the same model in this process (the baseline of the overhead benchmark) and `evaluate` scores
// an exported model, or the model in a checkpoint the servers wrote, on the test set.
//
// main() only turns the flags into a WorkerJobOptions, validates it before touching the network,
// and runs the job (worker/job/worker_job.h); it owns the process: logging, signals, exit codes.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/denormals.h"
#include "common/logging.h"
#include "common/metrics/metrics_flags.h"
#include "common/security_flags.h"
#include "common/termination_signal.h"
#include "spdlog/spdlog.h"
#include "worker/client/ps_client.h"
#include "worker/job/worker_job.h"
#include "worker/job/worker_job_options.h"

ABSL_FLAG(std::string, mode, "train",
          "train: join the cluster and train; standalone: train the same model in this process "
          "without a cluster; evaluate: score --model_in or --checkpoint_in on the test set.");
ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070",
          "host:port of the coordinator, or of every coordinator, comma-separated (train).");
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
ABSL_FLAG(float, learning_rate, 0,
          "0 = the optimizer's usual rate (adam 0.001, ftrl 0.1, else 0.05).");
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
ABSL_FLAG(std::string, overlap, "none",
          "mlp with float32 pushes: how exchanges overlap computation. none (the default). "
          "auto: under ssp (staleness >= 1) or asp, exchange each step's gradient and fetch the "
          "parameters of the step after next while the next step computes: up to 1.5x faster, "
          "but each step misses its own newest gradient, which cost 5-6 points of accuracy in "
          "short two-worker runs (measured); under bsp nothing. buckets (bsp): push the shards "
          "of the last layers while backward computes the first (same results; measured slower "
          "on a 2-core CPU machine, where the exchange takes the backward pass's CPU). true and "
          "false mean auto and none. No effect with --compression.");
ABSL_FLAG(std::string, table, "",
          "Table name; default: the model's name. With --checkpoint_in: the table to read.");
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
ABSL_FLAG(std::string, checkpoint_in, "",
          "evaluate, instead of --model_in: score the mlp in a checkpoint, without a cluster. "
          "Either one checkpoint's directory (e.g. CKPT_DIR/ckpt-0000000042) or a checkpoint "
          "root (ps_coordinator --checkpoint_dir), whose newest complete checkpoint is read "
          "(newer damaged or incomplete ones are logged and skipped). The mlp is the dense "
          "table --table (default: mlp); a checkpoint does not store layer sizes, so pass the "
          "--hidden the job trained with.");
ABSL_FLAG(int, register_timeout_s, 60,
          "How long to wait for the coordinator and the other workers at start, in seconds.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off.");

namespace ps {
namespace {

WorkerJobOptions OptionsFromFlags() {
  WorkerJobOptions options;
  options.mode = absl::GetFlag(FLAGS_mode);
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  options.device = absl::GetFlag(FLAGS_device);
  options.cpu_threads = absl::GetFlag(FLAGS_cpu_threads);
  options.model = absl::GetFlag(FLAGS_model);
  options.dataset = absl::GetFlag(FLAGS_dataset);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.libsvm_train = absl::GetFlag(FLAGS_libsvm_train);
  options.libsvm_test = absl::GetFlag(FLAGS_libsvm_test);
  options.train_limit = absl::GetFlag(FLAGS_train_limit);
  options.zipf_examples = absl::GetFlag(FLAGS_zipf_examples);
  options.zipf_keys = absl::GetFlag(FLAGS_zipf_keys);
  options.hidden = absl::GetFlag(FLAGS_hidden);
  options.init_scale = absl::GetFlag(FLAGS_init_scale);
  options.epochs = absl::GetFlag(FLAGS_epochs);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.optimizer = absl::GetFlag(FLAGS_optimizer);
  options.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  options.lr_decay = absl::GetFlag(FLAGS_lr_decay);
  options.consistency = absl::GetFlag(FLAGS_consistency);
  options.staleness = absl::GetFlag(FLAGS_staleness);
  options.compression = absl::GetFlag(FLAGS_compression);
  options.compression_warmup_steps = absl::GetFlag(FLAGS_compression_warmup_steps);
  options.pull_compression = absl::GetFlag(FLAGS_pull_compression);
  options.overlap = absl::GetFlag(FLAGS_overlap);
  options.table = absl::GetFlag(FLAGS_table);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.log_every_steps = absl::GetFlag(FLAGS_log_every_steps);
  options.metrics_out = absl::GetFlag(FLAGS_metrics_out);
  options.model_out = absl::GetFlag(FLAGS_model_out);
  options.model_in = absl::GetFlag(FLAGS_model_in);
  options.checkpoint_in = absl::GetFlag(FLAGS_checkpoint_in);
  options.register_timeout_s = absl::GetFlag(FLAGS_register_timeout_s);
  return options;
}

// 2 for a bad command line (InvalidArgument), 1 for any other failure.
int ExitCode(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

// Joins the cluster and trains, in a thread, while main() waits for a termination signal from
// the start (also while waiting for the other workers); the thread raises SIGTERM itself when it
// is done, so one wait covers both. A signal before then is an orderly stop: the worker leaves
// the cluster and exits 0. Returns the exit status.
int TrainOnCluster(const WorkerJobOptions& options, const std::function<void()>& on_hangup) {
  absl::Mutex mu;
  std::unique_ptr<PsClient> client;  // Guarded by mu once the thread runs.
  std::atomic<bool> finished{false};
  absl::Status result;
  std::thread trainer([&] {
    absl::StatusOr<std::unique_ptr<PsClient>> connected = JoinCluster(options);
    PsClient* joined = nullptr;
    if (connected.ok()) {
      NameLoggedMember(absl::StrCat("worker-", (*connected)->worker_id()));
      absl::MutexLock lock(&mu);
      client = *std::move(connected);
      joined = client.get();
    }
    result = joined == nullptr ? connected.status() : RunClusterJob(options, *joined).status();
    finished = true;
    kill(getpid(), SIGTERM);
  });
  const int signal_number = WaitForTerminationSignal(on_hangup);
  if (!finished) {
    spdlog::info("received signal {} before training finished; leaving the cluster", signal_number);
    {
      absl::MutexLock lock(&mu);
      if (client != nullptr) client->Leave();
    }
    spdlog::shutdown();
    std::_Exit(0);  // The training thread may be inside a call; nothing of it needs saving.
  }
  trainer.join();
  if (client != nullptr) client->Leave(/*finished=*/result.ok());
  if (!result.ok()) {
    spdlog::critical("training failed: {}", result.ToString());
    return ExitCode(result);
  }
  spdlog::info("training done; left the cluster");
  return 0;
}

// The modes that need no cluster. Returns the exit status.
int RunInProcess(const WorkerJobOptions& options) {
  absl::Status result;
  if (options.mode == "standalone") {
    result = RunStandaloneJob(options).status();
  } else {
    absl::StatusOr<Evaluation> evaluation = RunEvaluateJob(options);
    result = evaluation.status();
    if (evaluation.ok()) {
      std::printf("test_accuracy %.4f on %lld examples of %s\n", evaluation->test_accuracy,
                  static_cast<long long>(evaluation->test_examples), evaluation->test_set.c_str());
    }
  }
  if (!result.ok()) {
    spdlog::critical("{}", result.ToString());
    return ExitCode(result);
  }
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
      "  ps_worker --mode=evaluate --model_in=FILE       test accuracy of an exported model\n"
      "  ps_worker --mode=evaluate --checkpoint_in=DIR [--table=NAME] [--hidden=...]\n"
      "      test accuracy of the mlp in a checkpoint (DIR: ckpt-<id>, or a root: the newest)");
  ps::ShowSharedFlagsInHelp();
  absl::ParseCommandLine(argc, argv);
  ps::FlushDenormalsToZero();
  ps::BlockTerminationSignals();
  if (absl::Status logging = ps::InitLogging("worker", absl::GetFlag(FLAGS_log_level));
      !logging.ok()) {
    std::fprintf(stderr, "ps_worker: %s\n", logging.ToString().c_str());
    return 2;
  }
  ps::WorkerJobOptions options = ps::OptionsFromFlags();
  // Before anything touches the network or a file: a mistyped flag fails at once.
  absl::Status valid = ps::ValidateWorkerJobOptions(options);
  absl::StatusOr<std::shared_ptr<ps::TransportSecurity>> security =
      ps::TransportSecurityFromFlags();
  if (valid.ok()) valid = security.status();
  if (valid.ok()) valid = ps::CheckMetricsFlags();
  if (!valid.ok()) {
    spdlog::critical("{}", valid.ToString());
    return 2;
  }
  options.security = *security;
  spdlog::info("effective configuration: {}", ps::EffectiveFlags());
  absl::StatusOr<std::unique_ptr<ps::HttpEndpoint>> metrics = ps::StartMetricsEndpointFromFlags();
  if (!metrics.ok()) {
    spdlog::critical("cannot serve metrics: {}", metrics.status().ToString());
    return 2;
  }
  if (*metrics != nullptr) {
    spdlog::info("metrics on http://{}:{}/metrics", absl::GetFlag(FLAGS_metrics_host),
                 (*metrics)->port());
  }
  if (options.mode == "train") spdlog::info("transport: {}", (*security)->Describe());
  if (options.mode == "train") return ps::TrainOnCluster(options, ps::ReloadOnHangup(*security));
  return ps::RunInProcess(options);
}
