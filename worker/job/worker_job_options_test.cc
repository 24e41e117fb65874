#include "worker/job/worker_job_options.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(WorkerJobOptionsTest, TheDefaultsAreValid) {
  EXPECT_TRUE(ValidateWorkerJobOptions(WorkerJobOptions()).ok());
}

TEST(WorkerJobOptionsTest, EveryNamedChoiceAccepted) {
  WorkerJobOptions options;
  options.dataset = "synthetic-images";
  for (const char* device : {"auto", "cuda", "cpu"}) {
    options.device = device;
    EXPECT_TRUE(ValidateWorkerJobOptions(options).ok()) << device;
  }
  for (const char* optimizer : {"sgd", "momentum", "adagrad", "adam"}) {
    options.optimizer = optimizer;
    EXPECT_TRUE(ValidateWorkerJobOptions(options).ok()) << optimizer;
  }
  for (const char* consistency : {"bsp", "ssp", "asp"}) {
    options.consistency = consistency;
    EXPECT_TRUE(ValidateWorkerJobOptions(options).ok()) << consistency;
  }
  for (const char* compression : {"none", "fp16", "int8", "int8:64", "topk:0.01", "onebit"}) {
    options.compression = compression;
    EXPECT_TRUE(ValidateWorkerJobOptions(options).ok()) << compression;
  }
  options.pull_compression = "fp16";
  options.mode = "standalone";
  options.hidden = "";  // Softmax regression.
  EXPECT_TRUE(ValidateWorkerJobOptions(options).ok());

  WorkerJobOptions sparse;
  sparse.model = "sparse_lr";
  sparse.dataset = "zipf";
  sparse.optimizer = "ftrl";
  EXPECT_TRUE(ValidateWorkerJobOptions(sparse).ok());
  sparse.dataset = "libsvm";
  sparse.libsvm_train = "train.svm";
  sparse.libsvm_test = "test.svm";
  EXPECT_TRUE(ValidateWorkerJobOptions(sparse).ok());

  WorkerJobOptions evaluate;
  evaluate.mode = "evaluate";
  evaluate.model_in = "model.psmlp";
  EXPECT_TRUE(ValidateWorkerJobOptions(evaluate).ok());
  evaluate.model_in = "";
  evaluate.checkpoint_in = "/checkpoints";
  evaluate.table = "weights";
  EXPECT_TRUE(ValidateWorkerJobOptions(evaluate).ok());
}

struct BadCase {
  std::string name;
  std::function<void(WorkerJobOptions&)> change;
  // Text the message must hold: the flag, and where it helps, what it accepts.
  std::vector<std::string> message_parts;
};

class BadOptionsTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadOptionsTest, IsInvalidArgumentNamingTheFlag) {
  WorkerJobOptions options;
  GetParam().change(options);
  const absl::Status status = ValidateWorkerJobOptions(options);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  for (const std::string& part : GetParam().message_parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "'" << part << "' missing from: " << status.message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryFlag, BadOptionsTest,
    ::testing::Values(
        BadCase{"Mode", [](auto& o) { o.mode = "serve"; },
                {"--mode", "train, standalone or evaluate", "'serve'"}},
        BadCase{"NoCoordinator", [](auto& o) { o.coordinator = ""; }, {"--coordinator"}},
        BadCase{"Device", [](auto& o) { o.device = "tpu"; }, {"--device", "auto, cuda or cpu"}},
        BadCase{"CpuThreads", [](auto& o) { o.cpu_threads = -1; }, {"--cpu_threads", ">= 0"}},
        BadCase{"Model", [](auto& o) { o.model = "foo"; },
                {"--model", "mlp or sparse_lr", "'foo'"}},
        BadCase{"MlpDataset", [](auto& o) { o.dataset = "zipf"; },
                {"--dataset", "fashion-mnist or synthetic-images", "'zipf'"}},
        BadCase{"SparseDataset",
                [](auto& o) {
                  o.model = "sparse_lr";
                  o.dataset = "fashion-mnist";
                },
                {"--dataset", "zipf or libsvm"}},
        BadCase{"LibsvmWithoutFiles",
                [](auto& o) {
                  o.model = "sparse_lr";
                  o.dataset = "libsvm";
                  o.libsvm_test = "test.svm";
                },
                {"--libsvm_train", "--libsvm_test"}},
        BadCase{"TrainLimit", [](auto& o) { o.train_limit = -5; }, {"--train_limit", ">= 0"}},
        BadCase{"ZipfExamples", [](auto& o) { o.zipf_examples = 0; }, {"--zipf_examples"}},
        BadCase{"ZipfKeys", [](auto& o) { o.zipf_keys = 0; }, {"--zipf_keys"}},
        BadCase{"HiddenNotANumber", [](auto& o) { o.hidden = "256,abc"; },
                {"--hidden", "'abc'"}},
        BadCase{"HiddenZero", [](auto& o) { o.hidden = "0"; }, {"--hidden", "'0'"}},
        BadCase{"HiddenTooLarge", [](auto& o) { o.hidden = "2000000"; }, {"--hidden"}},
        BadCase{"InitScale", [](auto& o) { o.init_scale = 0; }, {"--init_scale"}},
        BadCase{"Epochs", [](auto& o) { o.epochs = 0; }, {"--epochs", ">= 1"}},
        BadCase{"BatchSize", [](auto& o) { o.batch_size = -1; }, {"--batch_size", ">= 1"}},
        BadCase{"Optimizer", [](auto& o) { o.optimizer = "lbfgs"; },
                {"--optimizer", "sgd, momentum, adagrad, adam or ftrl", "'lbfgs'"}},
        BadCase{"FtrlForTheMlp", [](auto& o) { o.optimizer = "ftrl"; },
                {"--optimizer=ftrl", "sparse"}},
        BadCase{"LearningRate", [](auto& o) { o.learning_rate = -0.1f; }, {"--learning_rate"}},
        BadCase{"LrDecayZero", [](auto& o) { o.lr_decay = 0; }, {"--lr_decay", "(0, 1]"}},
        BadCase{"LrDecayAboveOne", [](auto& o) { o.lr_decay = 1.5f; }, {"--lr_decay"}},
        BadCase{"Consistency", [](auto& o) { o.consistency = "eventual"; },
                {"--consistency", "bsp, ssp or asp"}},
        BadCase{"Compression", [](auto& o) { o.compression = "gzip"; }, {"--compression=gzip"}},
        BadCase{"CompressionArgument", [](auto& o) { o.compression = "topk:2"; },
                {"--compression"}},
        BadCase{"CompressionForSparseLr",
                [](auto& o) {
                  o.model = "sparse_lr";
                  o.dataset = "zipf";
                  o.compression = "int8";
                },
                {"--compression", "sparse_lr"}},
        BadCase{"WarmupSteps", [](auto& o) { o.compression_warmup_steps = -1; },
                {"--compression_warmup_steps"}},
        BadCase{"PullCompression", [](auto& o) { o.pull_compression = "int8"; },
                {"--pull_compression", "none or fp16"}},
        BadCase{"Overlap", [](auto& o) { o.overlap = "sometimes"; },
                {"--overlap", "buckets"}},
        BadCase{"Workers", [](auto& o) { o.workers = 0; }, {"--workers", ">= 1"}},
        BadCase{"LogEverySteps", [](auto& o) { o.log_every_steps = -1; }, {"--log_every_steps"}},
        BadCase{"RegisterTimeout", [](auto& o) { o.register_timeout_s = 0; },
                {"--register_timeout_s"}},
        BadCase{"EvaluateWithoutModel", [](auto& o) { o.mode = "evaluate"; },
                {"--mode=evaluate", "exactly one of --model_in", "--checkpoint_in", "neither"}},
        BadCase{"EvaluateBothModelAndCheckpoint",
                [](auto& o) {
                  o.mode = "evaluate";
                  o.model_in = "model.psmlp";
                  o.checkpoint_in = "/checkpoints";
                },
                {"exactly one of --model_in", "--checkpoint_in", "both"}},
        BadCase{"CheckpointInForTraining", [](auto& o) { o.checkpoint_in = "/checkpoints"; },
                {"--checkpoint_in", "--mode=evaluate only", "--mode=train", "--restore"}},
        BadCase{"CheckpointInForStandalone",
                [](auto& o) {
                  o.mode = "standalone";
                  o.checkpoint_in = "/checkpoints";
                },
                {"--checkpoint_in", "--mode=standalone"}},
        BadCase{"EvaluateCheckpointSparseLr",
                [](auto& o) {
                  o.mode = "evaluate";
                  o.model = "sparse_lr";
                  o.dataset = "zipf";
                  o.checkpoint_in = "/checkpoints";
                },
                {"--mode=evaluate", "--model=sparse_lr"}},
        BadCase{"EvaluateSparseLr",
                [](auto& o) {
                  o.mode = "evaluate";
                  o.model = "sparse_lr";
                  o.dataset = "zipf";
                  o.model_in = "model.psmlp";
                },
                {"--mode=evaluate", "--model=sparse_lr"}},
        BadCase{"StandaloneSparseLr",
                [](auto& o) {
                  o.mode = "standalone";
                  o.model = "sparse_lr";
                  o.dataset = "zipf";
                },
                {"--mode=standalone", "cluster"}},
        // 100 generated examples over 2 workers: 50 each, less than a batch of 64.
        BadCase{"BatchLargerThanAGeneratedPartition",
                [](auto& o) {
                  o.dataset = "synthetic-images";
                  o.train_limit = 100;
                  o.workers = 2;
                },
                {"partition of 50 examples", "--batch_size=64"}},
        BadCase{"BatchLargerThanTheZipfSet",
                [](auto& o) {
                  o.model = "sparse_lr";
                  o.dataset = "zipf";
                  o.zipf_examples = 10;
                },
                {"--batch_size=64"}}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(WorkerJobOptionsTest, StandaloneIsOneWorkerWhateverWorkersSays) {
  // 100 examples hold a batch of 64 when this process is the only worker.
  WorkerJobOptions options;
  options.mode = "standalone";
  options.dataset = "synthetic-images";
  options.train_limit = 100;
  options.workers = 2;
  EXPECT_TRUE(ValidateWorkerJobOptions(options).ok());
}

TEST(WorkerJobOptionsTest, DataReadFromFilesIsNotSizedBeforeTheRun) {
  // Fashion-MNIST's size is known only once read; the run checks the batch then.
  WorkerJobOptions options;
  options.train_limit = 10;
  EXPECT_TRUE(ValidateWorkerJobOptions(options).ok());
}

TEST(ParseHiddenSizesTest, ListsTheSizes) {
  EXPECT_EQ(*ParseHiddenSizes("256,128"), (std::vector<int>{256, 128}));
  EXPECT_EQ(*ParseHiddenSizes("64"), (std::vector<int>{64}));
  EXPECT_EQ(*ParseHiddenSizes(""), (std::vector<int>{}));
  EXPECT_EQ(ParseHiddenSizes("64,-1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParsePullCompressionTest, NoneAndFp16) {
  EXPECT_EQ(*ParsePullCompression("none"), v1::ENCODING_F32);
  EXPECT_EQ(*ParsePullCompression("fp16"), v1::ENCODING_F16);
  EXPECT_EQ(ParsePullCompression("F16").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
