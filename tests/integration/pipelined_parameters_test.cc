// The pipelined trainer's exchanges against a real server: which values each step gets, that the
// staleness bound still holds against another worker, and what it refuses.
#include "worker/training/pipelined_parameters.h"

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"
#include "worker/compute/cpu_backend.h"

namespace ps::testing {
namespace {

constexpr uint64_t kSize = 64;

class PipelinedParametersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalClusterOptions options;
    options.servers = 1;
    options.workers = 0;
    options.num_shards = 4;
    options.replication_factor = 1;
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    backend_ = CreateCpuBackend(1);
    absl::StatusOr<DeviceArray<float>> gradient = backend_->Allocate<float>(kSize);
    ASSERT_TRUE(gradient.ok()) << gradient.status();
    gradient_ = *std::move(gradient);
    ASSERT_TRUE(backend_->Upload<float>(std::vector<float>(kSize, 1.0f), gradient_).ok());
  }

  std::unique_ptr<PsClient> Connect(int wait_for_workers) {
    PsClientOptions options;
    options.coordinator_address = cluster_->coordinator_address();
    options.wait_for_workers = wait_for_workers;
    options.request_timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // A dense table of zeros with SGD at learning rate 1: each push of ones subtracts 1.
  v1::TableInfo MakeTable(PsClient& client, v1::ConsistencySpec::Model model,
                          uint32_t staleness) {
    v1::TableSpec spec;
    spec.set_name("w");
    spec.set_kind(v1::TABLE_KIND_DENSE);
    spec.set_dense_size(kSize);
    spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
    spec.mutable_optimizer()->set_learning_rate(1.0f);
    spec.mutable_consistency()->set_model(model);
    spec.mutable_consistency()->set_staleness(staleness);
    absl::StatusOr<v1::TableInfo> table = client.CreateTable(spec);
    EXPECT_TRUE(table.ok()) << table.status();
    return *table;
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<ComputeBackend> backend_;
  DeviceArray<float> gradient_;
};

std::vector<float> Filled(float value) { return std::vector<float>(kSize, value); }

TEST_F(PipelinedParametersTest, EachStepGetsEveryOwnUpdateButTheNewest) {
  std::unique_ptr<PsClient> client = Connect(1);
  ASSERT_NE(client, nullptr);
  const v1::TableInfo table = MakeTable(*client, v1::ConsistencySpec::MODEL_ASP, 0);
  absl::StatusOr<std::unique_ptr<PipelinedDenseParameters>> pipelined =
      PipelinedDenseParameters::Create(client.get(), table, backend_.get());
  ASSERT_TRUE(pipelined.ok()) << pipelined.status();
  std::vector<float> values(kSize);
  ASSERT_TRUE((*pipelined)->Pull(absl::MakeSpan(values)).ok());
  ASSERT_EQ(values, Filled(0.0f));
  for (int step = 0; step < 10; ++step) {
    ASSERT_TRUE((*pipelined)->PushAndPull(gradient_, &values).ok());
    // Call k returns what exchange k - 1 read after pushing gradients 0 .. k - 1; the first
    // leaves the values it was given.
    EXPECT_EQ(values, Filled(-static_cast<float>(step))) << "step " << step;
  }
  ASSERT_TRUE((*pipelined)->Pull(absl::MakeSpan(values)).ok());
  EXPECT_EQ(values, Filled(-10.0f)) << "every push applied exactly once";
  EXPECT_EQ(client->clock(), 10u);
}

TEST_F(PipelinedParametersTest, TheStalenessBoundHoldsAgainstASlowWorker) {
  std::unique_ptr<PsClient> fast;
  std::unique_ptr<PsClient> slow;
  std::thread connect_slow([&] { slow = Connect(2); });
  fast = Connect(2);
  connect_slow.join();
  ASSERT_NE(fast, nullptr);
  ASSERT_NE(slow, nullptr);
  const v1::TableInfo table = MakeTable(*fast, v1::ConsistencySpec::MODEL_SSP, 1);
  ASSERT_TRUE(slow->LookupTable("w").ok());
  std::vector<float> scratch(kSize);
  ASSERT_TRUE(slow->Pull(table, absl::MakeSpan(scratch)).ok());
  absl::StatusOr<std::unique_ptr<PipelinedDenseParameters>> pipelined =
      PipelinedDenseParameters::Create(fast.get(), table, backend_.get());
  ASSERT_TRUE(pipelined.ok()) << pipelined.status();

  // Exchange 0 pushes clock 0 and reads for step 2, at clock 2: SSP(1) needs the slow worker at
  // clock >= 1, so the step that waits for it (the second call) must block until it pushes.
  std::vector<float> values(kSize);
  ASSERT_TRUE((*pipelined)->PushAndPull(gradient_, &values).ok());
  absl::Notification second_returned;
  absl::Status second;
  std::thread step([&] {
    second = (*pipelined)->PushAndPull(gradient_, &values);
    second_returned.Notify();
  });
  EXPECT_FALSE(second_returned.WaitForNotificationWithTimeout(absl::Milliseconds(700)))
      << "reading for clock 2 must wait for the slow worker's clock 0";
  ASSERT_TRUE(slow->Push(table, Filled(1.0f)).ok());
  slow->AdvanceClock();
  ASSERT_TRUE(second_returned.WaitForNotificationWithTimeout(absl::Seconds(10)));
  step.join();
  ASSERT_TRUE(second.ok()) << second;
  EXPECT_EQ(values, Filled(-2.0f)) << "the fast worker's clock 0 and the slow worker's";
  // Exchange 1 (clock 1, read at clock 3) waits for the slow worker's clock 1 in turn; the
  // destructor waits for it too.
  ASSERT_TRUE(slow->Push(table, Filled(1.0f)).ok());
  slow->AdvanceClock();
  ASSERT_TRUE((*pipelined)->Pull(absl::MakeSpan(values)).ok());
  EXPECT_EQ(values, Filled(-4.0f));
}

TEST_F(PipelinedParametersTest, RefusesTablesThatCannotReadAhead) {
  std::unique_ptr<PsClient> client = Connect(1);
  ASSERT_NE(client, nullptr);
  const v1::TableInfo bsp = MakeTable(*client, v1::ConsistencySpec::MODEL_BSP, 0);
  const absl::StatusOr<std::unique_ptr<PipelinedDenseParameters>> refused =
      PipelinedDenseParameters::Create(client.get(), bsp, backend_.get());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("ASP or SSP with staleness >= 1"), std::string::npos)
      << refused.status();
  // And the client refuses a read-ahead past the staleness bound.
  std::vector<float> values(kSize);
  const absl::Status status =
      client->PushPull(bsp, Filled(1.0f), absl::MakeSpan(values), /*read_ahead=*/1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

}  // namespace
}  // namespace ps::testing
