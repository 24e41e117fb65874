#include "worker/job/worker_job_options.h"

#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/codec/compression.h"
#include "common/status_macros.h"
#include "worker/job/step_plan.h"

namespace ps {
namespace {

// The largest hidden layer --hidden accepts.
constexpr int kMaxLayerSize = 1 << 20;

// OK when `value` is one of `allowed`; else "--flag must be a, b or c, got 'value'".
absl::Status CheckOneOf(absl::string_view flag, const std::string& value,
                        std::initializer_list<absl::string_view> allowed) {
  for (absl::string_view name : allowed) {
    if (value == name) return absl::OkStatus();
  }
  // "a, b or c".
  const std::vector<absl::string_view> names(allowed);
  std::string choices(names.back());
  if (names.size() > 1) {
    choices = absl::StrCat(absl::StrJoin(names.begin(), names.end() - 1, ", "), " or ", choices);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be ", choices, ", got '", value, "'"));
}

absl::Status CheckAtLeast(absl::string_view flag, int64_t value, int64_t minimum) {
  if (value >= minimum) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be >= ", minimum, ", got ", value));
}

// The training examples a generated dataset will have; nullopt for data read from files.
std::optional<int64_t> GeneratedTrainingExamples(const WorkerJobOptions& options) {
  if (options.dataset == "synthetic-images") {
    return options.train_limit > 0 && options.train_limit < kSyntheticImagesTrainExamples
               ? options.train_limit
               : kSyntheticImagesTrainExamples;
  }
  if (options.dataset == "zipf") return options.zipf_examples;
  return std::nullopt;
}

absl::Status CheckDataset(const WorkerJobOptions& options) {
  if (options.model == "mlp") {
    PS_RETURN_IF_ERROR(
        CheckOneOf("dataset", options.dataset, {"fashion-mnist", "synthetic-images"}));
  } else {
    PS_RETURN_IF_ERROR(CheckOneOf("dataset", options.dataset, {"zipf", "libsvm"}));
  }
  if (options.dataset == "libsvm" &&
      (options.libsvm_train.empty() || options.libsvm_test.empty())) {
    return absl::InvalidArgumentError("--dataset=libsvm needs --libsvm_train and --libsvm_test");
  }
  PS_RETURN_IF_ERROR(CheckAtLeast("train_limit", options.train_limit, 0));
  PS_RETURN_IF_ERROR(CheckAtLeast("zipf_examples", options.zipf_examples, 1));
  if (options.zipf_keys < 1) return absl::InvalidArgumentError("--zipf_keys must be >= 1, got 0");
  return absl::OkStatus();
}

absl::Status CheckModelShape(const WorkerJobOptions& options) {
  PS_RETURN_IF_ERROR(ParseHiddenSizes(options.hidden).status());
  if (!(std::isfinite(options.init_scale) && options.init_scale > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--init_scale must be positive, got ", options.init_scale));
  }
  return absl::OkStatus();
}

absl::Status CheckOptimizer(const WorkerJobOptions& options) {
  PS_RETURN_IF_ERROR(
      CheckOneOf("optimizer", options.optimizer, {"sgd", "momentum", "adagrad", "adam", "ftrl"}));
  if (options.optimizer == "ftrl" && options.model != "sparse_lr") {
    return absl::InvalidArgumentError(
        "--optimizer=ftrl is for sparse tables (--model=sparse_lr); the mlp takes sgd, momentum, "
        "adagrad or adam");
  }
  if (!(std::isfinite(options.learning_rate) && options.learning_rate >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--learning_rate must be >= 0 (0: the optimizer's usual rate), got ",
        options.learning_rate));
  }
  if (!(options.lr_decay > 0 && options.lr_decay <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lr_decay must be in (0, 1], got ", options.lr_decay));
  }
  return absl::OkStatus();
}

absl::Status CheckTransport(const WorkerJobOptions& options) {
  PS_ASSIGN_OR_RETURN(const Compression compression, ParseCompression(options.compression));
  if (options.model == "sparse_lr" && !compression.dense()) {
    return absl::InvalidArgumentError(
        "--compression applies to the mlp's dense table; sparse_lr already pushes only the rows "
        "its batch touched (--pull_compression=fp16 does apply)");
  }
  PS_RETURN_IF_ERROR(
      CheckAtLeast("compression_warmup_steps", options.compression_warmup_steps, 0));
  return ParsePullCompression(options.pull_compression).status();
}

// What only some modes need, and the models they take.
absl::Status CheckModeNeeds(const WorkerJobOptions& options) {
  if (options.mode == "evaluate") {
    if (options.model != "mlp") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mode=evaluate scores an exported mlp (--model=mlp), got --model=", options.model));
    }
    if (options.model_in.empty() == options.checkpoint_in.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mode=evaluate needs exactly one of --model_in (an exported model file) and "
          "--checkpoint_in (a checkpoint directory or root), got ",
          options.model_in.empty() ? "neither" : "both"));
    }
  } else if (!options.checkpoint_in.empty()) {
    // Training never resumes from it: a cluster restores with ps_coordinator --restore.
    return absl::InvalidArgumentError(absl::StrCat(
        "--checkpoint_in is read by --mode=evaluate only, got --mode=", options.mode,
        " (a cluster resumes from a checkpoint with ps_coordinator --restore)"));
  }
  if (options.mode == "standalone" && options.model != "mlp") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--mode=standalone trains the mlp only (--model=mlp); --model=", options.model,
        " trains on a cluster only"));
  }
  return absl::OkStatus();
}

// Generated data has a known size: checks now that a worker's share holds a batch.
absl::Status CheckBatchFits(const WorkerJobOptions& options) {
  const std::optional<int64_t> examples = GeneratedTrainingExamples(options);
  if (options.mode == "evaluate" || !examples.has_value()) return absl::OkStatus();
  const int workers = options.mode == "standalone" ? 1 : options.workers;
  return PlanSteps(*examples, 0, workers, options.batch_size).status();
}

}  // namespace

absl::Status ValidateWorkerJobOptions(const WorkerJobOptions& options) {
  PS_RETURN_IF_ERROR(CheckOneOf("mode", options.mode, {"train", "standalone", "evaluate"}));
  if (options.mode == "train" && options.coordinator.empty()) {
    return absl::InvalidArgumentError("--coordinator must be host:port, got ''");
  }
  PS_RETURN_IF_ERROR(CheckOneOf("device", options.device, {"auto", "cuda", "cpu"}));
  PS_RETURN_IF_ERROR(
      CheckOneOf("overlap", options.overlap, {"auto", "buckets", "none", "true", "false"}));
  PS_RETURN_IF_ERROR(CheckAtLeast("cpu_threads", options.cpu_threads, 0));
  PS_RETURN_IF_ERROR(CheckOneOf("model", options.model, {"mlp", "sparse_lr"}));
  PS_RETURN_IF_ERROR(CheckModeNeeds(options));
  PS_RETURN_IF_ERROR(CheckDataset(options));
  PS_RETURN_IF_ERROR(CheckModelShape(options));
  PS_RETURN_IF_ERROR(CheckAtLeast("epochs", options.epochs, 1));
  PS_RETURN_IF_ERROR(CheckAtLeast("batch_size", options.batch_size, 1));
  PS_RETURN_IF_ERROR(CheckOptimizer(options));
  PS_RETURN_IF_ERROR(CheckOneOf("consistency", options.consistency, {"bsp", "ssp", "asp"}));
  PS_RETURN_IF_ERROR(CheckTransport(options));
  PS_RETURN_IF_ERROR(CheckAtLeast("workers", options.workers, 1));
  PS_RETURN_IF_ERROR(CheckAtLeast("log_every_steps", options.log_every_steps, 0));
  PS_RETURN_IF_ERROR(CheckAtLeast("register_timeout_s", options.register_timeout_s, 1));
  return CheckBatchFits(options);
}

absl::StatusOr<std::vector<int>> ParseHiddenSizes(absl::string_view hidden) {
  std::vector<int> sizes;
  for (absl::string_view size : absl::StrSplit(hidden, ',', absl::SkipWhitespace())) {
    int value;
    if (!absl::SimpleAtoi(size, &value) || value <= 0 || value > kMaxLayerSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--hidden must list layer sizes in 1..", kMaxLayerSize, ", got '", size, "'"));
    }
    sizes.push_back(value);
  }
  return sizes;
}

absl::StatusOr<v1::Encoding> ParsePullCompression(absl::string_view pull_compression) {
  if (pull_compression == "none") return v1::ENCODING_F32;
  if (pull_compression == "fp16") return v1::ENCODING_F16;
  return absl::InvalidArgumentError(absl::StrCat(
      "--pull_compression must be none or fp16, got '", pull_compression, "'"));
}

}  // namespace ps
