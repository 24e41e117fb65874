// The settings of one ps_worker job, as a plain struct: main() fills it from its flags (the
// field names and defaults are the flags'), and ValidateWorkerJobOptions checks all of it before
// anything touches the network or a file, so a mistyped flag fails at once with a message naming
// the flag and what it accepts. Plain values and pure functions; thread-safe.
#ifndef PS_WORKER_JOB_WORKER_JOB_OPTIONS_H_
#define PS_WORKER_JOB_WORKER_JOB_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/transport_security.h"
#include "proto/types.pb.h"

namespace ps {

// --dataset=synthetic-images generates this many training and test examples.
inline constexpr int64_t kSyntheticImagesTrainExamples = 60000;
inline constexpr int64_t kSyntheticImagesTestExamples = 10000;

struct WorkerJobOptions {
  // train: join the cluster and train; standalone: train the same model in this process;
  // evaluate: score model_in or checkpoint_in on the test set.
  std::string mode = "train";
  // host:port of the coordinator (train).
  std::string coordinator = "127.0.0.1:7070";
  // How the channels to the coordinator and servers are secured (train).
  std::shared_ptr<const TransportSecurity> security = TransportSecurity::Plaintext();
  // auto (the GPU when usable, else the CPU), cuda or cpu.
  std::string device = "auto";
  // OpenBLAS threads on the CPU device; 0 = one per core.
  int cpu_threads = 0;
  // mlp (dense table) or sparse_lr (sparse table).
  std::string model = "mlp";
  // mlp: fashion-mnist (from data_dir) or synthetic-images; sparse_lr: zipf or libsvm.
  std::string dataset = "fashion-mnist";
  // Directory of the Fashion-MNIST IDX files (.gz).
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  // LIBSVM files (dataset libsvm); both required.
  std::string libsvm_train;
  std::string libsvm_test;
  // mlp: train on only the first N training examples; 0 = all.
  int64_t train_limit = 0;
  // The zipf set: training examples (its test set has a quarter as many) and key space.
  int64_t zipf_examples = 200000;
  uint64_t zipf_keys = 1000000;
  // mlp: hidden layer sizes, comma-separated ("" for none: softmax regression).
  std::string hidden = "256,128";
  // mlp: initial weights are uniform in [-init_scale, init_scale).
  float init_scale = 0.05f;
  // Passes over this worker's partition.
  int epochs = 10;
  // Examples per step and worker.
  int batch_size = 64;
  // sgd, momentum, adagrad, adam, or ftrl (sparse_lr only).
  std::string optimizer = "adam";
  // 0 = the optimizer's usual rate (adam 0.001, ftrl 0.1, else 0.05).
  float learning_rate = 0;
  // Learning-rate factor per epoch, in (0, 1]; 1 = constant.
  float lr_decay = 1.0f;
  // bsp, ssp or asp; staleness is SSP's bound in clocks.
  std::string consistency = "bsp";
  uint32_t staleness = 3;
  // mlp: how pushed gradients travel, in ParseCompression's syntax (common/codec/compression.h).
  std::string compression = "none";
  // Push the first N steps uncompressed before `compression` takes over.
  int64_t compression_warmup_steps = 0;
  // How pulled parameters travel: none (float32) or fp16.
  std::string pull_compression = "none";
  // mlp with float32 pushes, how exchanges overlap computation: "none" (the default: overlap
  // trades accuracy for speed, see README), "auto" (under SSP with
  // staleness >= 1 or ASP, each step's exchange overlaps the next step's computation,
  // worker/training/pipelined_parameters.h; under BSP nothing), "buckets" (BSP or SSP 0: the
  // last layers' shards are exchanged during the step's own backward pass,
  // worker/training/bucketed_parameters.h); "true" and "false" mean auto and none.
  std::string overlap = "none";
  // Table name; "" = the model's name. Evaluating checkpoint_in: the table to read.
  std::string table;
  // Workers of the job: data partitions, and the start barrier.
  int workers = 1;
  // Seed of the initial weights, the shuffles and generated data.
  uint64_t seed = 1;
  // A progress line every this many steps; 0 = per epoch only.
  int64_t log_every_steps = 100;
  // JSON-lines metrics file; {rank} becomes this worker's rank. "" = none.
  std::string metrics_out;
  // mlp: where to export the trained model (rank 0 only, unless the path holds {rank}).
  std::string model_out;
  // evaluate: the exported model to score.
  std::string model_in;
  // evaluate, instead of model_in: a checkpoint's directory (ckpt-<id>), or a checkpoint root
  // (ps_coordinator --checkpoint_dir) whose newest complete checkpoint is read. The mlp is the
  // dense table `table`, shaped by `hidden` and the test set's sizes.
  std::string checkpoint_in;
  // How long to wait for the coordinator and the other workers at start, in seconds.
  int register_timeout_s = 60;
};

// Checks every field and how they combine (dataset for the model, libsvm files, compression for
// the mlp only, evaluate needs exactly one of model_in and checkpoint_in, the batch fits a
// partition of generated data, ...),
// reading no file and opening no connection. Whether the device, data_dir or files work is left
// to the run. Errors: InvalidArgument naming the flag (as --flag) and what it accepts.
absl::Status ValidateWorkerJobOptions(const WorkerJobOptions& options);

// The sizes listed in --hidden, e.g. "256,128" -> {256, 128}; "" -> {}.
// Errors: InvalidArgument for an entry that is not an integer in [1, 2^20].
absl::StatusOr<std::vector<int>> ParseHiddenSizes(absl::string_view hidden);

// --pull_compression: "none" -> ENCODING_F32, "fp16" -> ENCODING_F16. Errors: InvalidArgument.
absl::StatusOr<v1::Encoding> ParsePullCompression(absl::string_view pull_compression);

}  // namespace ps

#endif  // PS_WORKER_JOB_WORKER_JOB_OPTIONS_H_
