#include "worker/job/job_table_spec.h"

#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(JobTableSpecTest, MlpLayersAreInputsHiddenClasses) {
  WorkerJobOptions options;
  EXPECT_EQ(*MlpLayerSizes(options, 784, 10), (std::vector<int>{784, 256, 128, 10}));
  options.hidden = "";
  EXPECT_EQ(*MlpLayerSizes(options, 784, 10), (std::vector<int>{784, 10}));
  options.hidden = "x";
  EXPECT_EQ(MlpLayerSizes(options, 784, 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JobTableSpecTest, TheDefaultMlpTable) {
  WorkerJobOptions options;
  options.hidden = "64";
  const absl::StatusOr<v1::TableSpec> spec = MlpTableSpec(options, {784, 64, 10}, 93, 2);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "mlp");
  EXPECT_EQ(spec->kind(), v1::TABLE_KIND_DENSE);
  EXPECT_EQ(spec->dense_size(), 784u * 64 + 64 + 64 * 10 + 10);
  EXPECT_EQ(spec->optimizer().kind(), v1::OptimizerSpec::KIND_ADAM);
  EXPECT_FLOAT_EQ(spec->optimizer().learning_rate(), 0.001f);
  EXPECT_EQ(spec->optimizer().decay_steps(), 0u);
  EXPECT_EQ(spec->consistency().model(), v1::ConsistencySpec::MODEL_BSP);
  EXPECT_EQ(spec->initializer().kind(), v1::InitializerSpec::KIND_UNIFORM);
  EXPECT_FLOAT_EQ(spec->initializer().min(), -0.05f);
  EXPECT_FLOAT_EQ(spec->initializer().max(), 0.05f);
  EXPECT_EQ(spec->initializer().seed(), 1u);
  EXPECT_EQ(DescribeTableSpec(options, *spec), "bsp, adam lr 0.001");
}

TEST(JobTableSpecTest, OptionsReachTheSpec) {
  WorkerJobOptions options;
  options.table = "my_table";
  options.optimizer = "momentum";
  options.learning_rate = 0.2f;
  options.lr_decay = 0.5f;
  options.consistency = "ssp";
  options.staleness = 5;
  options.seed = 42;
  options.init_scale = 0.1f;
  const absl::StatusOr<v1::TableSpec> spec = MlpTableSpec(options, {4, 3}, 100, 3);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "my_table");
  EXPECT_EQ(spec->dense_size(), 4u * 3 + 3);
  EXPECT_EQ(spec->optimizer().kind(), v1::OptimizerSpec::KIND_MOMENTUM);
  EXPECT_FLOAT_EQ(spec->optimizer().learning_rate(), 0.2f);
  // SSP applies each worker's push on arrival: an epoch is 100 steps times 3 workers.
  EXPECT_EQ(spec->optimizer().decay_steps(), 300u);
  EXPECT_FLOAT_EQ(spec->optimizer().decay_rate(), 0.5f);
  EXPECT_EQ(spec->consistency().model(), v1::ConsistencySpec::MODEL_SSP);
  EXPECT_EQ(spec->consistency().staleness(), 5u);
  EXPECT_EQ(spec->initializer().seed(), 42u);
  EXPECT_FLOAT_EQ(spec->initializer().max(), 0.1f);
  EXPECT_EQ(DescribeTableSpec(options, *spec), "ssp(5), momentum lr 0.2 x0.5 every 300 updates");
}

TEST(JobTableSpecTest, BspDecaysOncePerStepWhateverTheWorkers) {
  WorkerJobOptions options;
  options.lr_decay = 0.9f;
  EXPECT_EQ(TrainingChoicesFor(options, "mlp", 100, 4).updates_per_epoch, 100u);
  options.consistency = "asp";
  EXPECT_EQ(TrainingChoicesFor(options, "mlp", 100, 4).updates_per_epoch, 400u);
}

TEST(JobTableSpecTest, TheSparseLrTable) {
  WorkerJobOptions options;
  options.model = "sparse_lr";
  options.optimizer = "ftrl";
  const absl::StatusOr<v1::TableSpec> spec = SparseLrTableSpec(options, 78, 2);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "sparse_lr");
  EXPECT_EQ(spec->kind(), v1::TABLE_KIND_SPARSE);
  EXPECT_EQ(spec->sparse_dim(), 1u);
  EXPECT_EQ(spec->optimizer().kind(), v1::OptimizerSpec::KIND_FTRL);
  EXPECT_FLOAT_EQ(spec->optimizer().learning_rate(), 0.1f);
  EXPECT_EQ(spec->initializer().kind(), v1::InitializerSpec::KIND_ZEROS);
}

TEST(JobTableSpecTest, FtrlIsRefusedForTheDenseTable) {
  WorkerJobOptions options;
  options.optimizer = "ftrl";
  EXPECT_EQ(MlpTableSpec(options, {4, 3}, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
