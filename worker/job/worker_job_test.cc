#include "worker/job/worker_job.h"

#include <cstdint>
#include <string>
#include <variant>

#include "gtest/gtest.h"
#include "worker/job/worker_job_options.h"
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
