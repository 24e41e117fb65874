#include "worker/job/worker_job.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include "common/checkpoint/checkpoint_store.h"
#include "gtest/gtest.h"
#include "worker/job/worker_job_options.h"
#include "worker/model/model_file.h"
#include "worker/model/test_checkpoint.h"
#include "worker/training/metrics_record.h"

namespace ps {
namespace {

// A standalone run small enough for a unit test: 8 steps of 32 on 256 synthetic examples.
WorkerJobOptions TinyStandalone() {
  WorkerJobOptions options;
  options.mode = "standalone";
  options.device = "cpu";
  options.cpu_threads = 1;
  options.dataset = "synthetic-images";
  options.train_limit = 256;
  options.hidden = "16";
  options.epochs = 2;
  options.batch_size = 32;
  options.log_every_steps = 0;
  return options;
}

template <typename T>
T Field(const MetricsRecord& record, const std::string& key) {
  const MetricsRecord::Value* value = record.Find(key);
  EXPECT_NE(value, nullptr) << key;
  return value == nullptr ? T() : std::get<T>(*value);
}

TEST(WorkerJobTest, StandaloneTrainsEveryStepOfTheLimitedSet) {
  const absl::StatusOr<MetricsRecord> record = RunStandaloneJob(TinyStandalone());
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(Field<std::string>(*record, "event"), "final");
  EXPECT_EQ(Field<int64_t>(*record, "epochs"), 2);
  // 2 epochs of 256 / 32 = 8 steps of 32 examples.
  EXPECT_EQ(Field<int64_t>(*record, "examples"), 2 * 8 * 32);
  // Local parameters: nothing travels.
  EXPECT_EQ(Field<int64_t>(*record, "bytes_pushed"), 0);
  const double accuracy = Field<double>(*record, "test_accuracy");
  EXPECT_GE(accuracy, 0.0);
  EXPECT_LE(accuracy, 1.0);
}

TEST(WorkerJobTest, TheSameSeedGivesTheSameRunAndAnotherSeedAnother) {
  const WorkerJobOptions options = TinyStandalone();
  const absl::StatusOr<MetricsRecord> first = RunStandaloneJob(options);
  const absl::StatusOr<MetricsRecord> second = RunStandaloneJob(options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  // Bitwise: the same data, initial weights, shuffles and single-threaded arithmetic.
  EXPECT_EQ(Field<double>(*first, "test_loss"), Field<double>(*second, "test_loss"));
  EXPECT_EQ(Field<double>(*first, "test_accuracy"), Field<double>(*second, "test_accuracy"));

  WorkerJobOptions reseeded = options;
  reseeded.seed = 2;
  const absl::StatusOr<MetricsRecord> third = RunStandaloneJob(reseeded);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE(Field<double>(*first, "test_loss"), Field<double>(*third, "test_loss"));
}

TEST(WorkerJobTest, EvaluatingTheExportedModelScoresWhatTrainingReported) {
  WorkerJobOptions options = TinyStandalone();
  options.epochs = 1;
  options.model_out = ::testing::TempDir() + "/tiny.psmlp";
  const absl::StatusOr<MetricsRecord> trained = RunStandaloneJob(options);
  ASSERT_TRUE(trained.ok()) << trained.status();

  WorkerJobOptions evaluate = options;
  evaluate.mode = "evaluate";
  evaluate.model_in = options.model_out;
  evaluate.model_out = "";
  const absl::StatusOr<Evaluation> evaluation = RunEvaluateJob(evaluate);
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();
  EXPECT_EQ(evaluation->test_examples, kSyntheticImagesTestExamples);
  EXPECT_EQ(evaluation->test_accuracy, Field<double>(*trained, "test_accuracy"));
  EXPECT_NEAR(evaluation->test_loss, Field<double>(*trained, "test_loss"), 1e-9);
}

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Evaluate options for TinyStandalone's model, read from `checkpoint_in`.
WorkerJobOptions EvaluateCheckpoint(const std::string& checkpoint_in) {
  WorkerJobOptions options = TinyStandalone();
  options.mode = "evaluate";
  options.checkpoint_in = checkpoint_in;
  return options;
}

TEST(WorkerJobTest, ACheckpointedModelScoresExactlyWhatTheSameModelExportedScores) {
  WorkerJobOptions options = TinyStandalone();
  options.epochs = 1;
  options.model_out = ::testing::TempDir() + "/checkpointed.psmlp";
  const absl::StatusOr<MetricsRecord> trained = RunStandaloneJob(options);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const absl::StatusOr<MlpModel> model = ReadMlpModel(options.model_out);
  ASSERT_TRUE(model.ok()) << model.status();

  // The trained parameters as a 3-server cluster would checkpoint them, beside a sparse table;
  // the older checkpoint 6 holds other values, so reading it would show.
  const std::string root = FreshDir("evaluate_checkpoints");
  ASSERT_TRUE(WriteTestCheckpoint(root, 6, 3,
                                  {DenseTestTable("mlp", std::vector<float>(
                                                             model->parameters.size(), 0.5f))})
                  .ok());
  ASSERT_TRUE(WriteTestCheckpoint(root, 7, 3,
                                  {SparseTestTable("emb", 4),
                                   DenseTestTable("mlp", model->parameters)})
                  .ok());

  WorkerJobOptions from_file = EvaluateCheckpoint("");
  from_file.model_in = options.model_out;
  const absl::StatusOr<Evaluation> exported = RunEvaluateJob(from_file);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->model, options.model_out);
  EXPECT_EQ(exported->checkpoint_id, 0u);

  for (const std::string& checkpoint_in : {root, CheckpointDirectory(root, 7)}) {
    WorkerJobOptions from_checkpoint = EvaluateCheckpoint(checkpoint_in);
    from_checkpoint.metrics_out = ::testing::TempDir() + "/evaluate_checkpoint.jsonl";
    const absl::StatusOr<Evaluation> checkpointed = RunEvaluateJob(from_checkpoint);
    ASSERT_TRUE(checkpointed.ok()) << checkpoint_in << ": " << checkpointed.status();
    // The same parameters, layers and arithmetic: the same score to the bit.
    EXPECT_EQ(checkpointed->test_accuracy, exported->test_accuracy) << checkpoint_in;
    EXPECT_EQ(checkpointed->test_loss, exported->test_loss) << checkpoint_in;
    EXPECT_EQ(checkpointed->test_examples, exported->test_examples);
    EXPECT_EQ(checkpointed->model, CheckpointDirectory(root, 7));
    EXPECT_EQ(checkpointed->table, "mlp");
    EXPECT_EQ(checkpointed->checkpoint_id, 7u);
    const std::string metrics = ReadWholeFile(from_checkpoint.metrics_out);
    EXPECT_NE(metrics.find("\"model\": \"" + CheckpointDirectory(root, 7) + "\""),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("\"checkpoint_id\": 7"), std::string::npos) << metrics;
  }
}

TEST(WorkerJobTest, ACheckpointedTableOfAnotherShapeNamesTheHiddenFlag) {
  const std::string root = FreshDir("evaluate_other_shape");
  ASSERT_TRUE(
      WriteTestCheckpoint(root, 1, 2, {DenseTestTable("mlp", std::vector<float>(1000, 0.0f))})
          .ok());
  const absl::Status status = RunEvaluateJob(EvaluateCheckpoint(root)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  for (const char* part : {"has 1000 values", "an mlp ", "-16-", "--hidden"}) {
    EXPECT_NE(status.message().find(part), std::string::npos) << part << " in " << status;
  }
}

TEST(WorkerJobTest, EvaluateReadsTheTableThatTableNames) {
  const std::string root = FreshDir("evaluate_table_names");
  ASSERT_TRUE(WriteTestCheckpoint(root, 1, 2,
                                  {DenseTestTable("weights", {1, 2, 3}),
                                   SparseTestTable("emb", 4)})
                  .ok());
  // No table named after the model: the error lists the ones there are.
  const absl::Status missing = RunEvaluateJob(EvaluateCheckpoint(root)).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_NE(missing.message().find("'weights'"), std::string::npos) << missing;

  WorkerJobOptions sparse = EvaluateCheckpoint(root);
  sparse.table = "emb";
  EXPECT_EQ(RunEvaluateJob(sparse).status().code(), absl::StatusCode::kFailedPrecondition);

  // The table is found, then does not fit the mlp: --table was followed.
  WorkerJobOptions named = EvaluateCheckpoint(root);
  named.table = "weights";
  const absl::Status misfit = RunEvaluateJob(named).status();
  EXPECT_EQ(misfit.code(), absl::StatusCode::kInvalidArgument) << misfit;
  EXPECT_NE(misfit.message().find("table 'weights'"), std::string::npos) << misfit;
}

TEST(WorkerJobTest, EvaluateRefusesARootWithoutACompleteCheckpoint) {
  const std::string root = FreshDir("evaluate_no_checkpoint");
  std::filesystem::create_directories(CheckpointDirectory(root, 4));  // No manifest.
  const absl::Status status = RunEvaluateJob(EvaluateCheckpoint(root)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find("ckpt-0000000004"), std::string::npos) << status;
}

TEST(WorkerJobTest, RefusedOptionsFailBeforeAnyWork) {
  WorkerJobOptions options = TinyStandalone();
  options.hidden = "16,x";
  EXPECT_EQ(RunStandaloneJob(options).status().code(), absl::StatusCode::kInvalidArgument);

  WorkerJobOptions sparse = TinyStandalone();
  sparse.mode = "train";
  sparse.model = "sparse_lr";
  sparse.dataset = "zipf";
  EXPECT_EQ(RunStandaloneJob(sparse).status().code(), absl::StatusCode::kInvalidArgument);

  // The coordinator's address is never dialled: validation fails first.
  WorkerJobOptions train;
  train.model = "foo";
  train.coordinator = "127.0.0.1:1";
  const absl::Status joined = JoinCluster(train).status();
  EXPECT_EQ(joined.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(joined.message().find("--model"), std::string::npos) << joined;
}

TEST(WorkerJobTest, EvaluateRefusesAMissingModelFile) {
  WorkerJobOptions options = TinyStandalone();
  options.mode = "evaluate";
  options.model_in = ::testing::TempDir() + "/no-such-model.psmlp";
  EXPECT_EQ(RunEvaluateJob(options).status().code(), absl::StatusCode::kNotFound);
}

TEST(WorkerJobTest, ClientOptionsComeFromTheJob) {
  WorkerJobOptions options;
  options.coordinator = "10.0.0.1:7070";
  options.workers = 4;
  options.register_timeout_s = 7;
  options.pull_compression = "fp16";
  const PsClientOptions client = PsClientOptionsFor(options);
  EXPECT_EQ(client.coordinator_address, "10.0.0.1:7070");
  EXPECT_EQ(client.wait_for_workers, 4);
  EXPECT_EQ(client.connect_timeout, absl::Seconds(7));
  EXPECT_EQ(client.pull_encoding, v1::ENCODING_F16);
  EXPECT_FALSE(client.observer);
}

}  // namespace
}  // namespace ps
