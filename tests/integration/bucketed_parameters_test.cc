// Gradient buckets against real servers: a step's last shards are exchanged while its gradient is
// still being computed, and training through buckets gives bitwise the values of one PushPull
// per step.
#include "worker/training/bucketed_parameters.h"

#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/local_cluster.h"
#include "worker/client/ps_client.h"
#include "worker/compute/cpu_backend.h"
#include "worker/data/dataset.h"
#include "worker/model/mlp.h"
#include "worker/training/dense_parameters.h"
#include "worker/training/mlp_task.h"

namespace ps::testing {
namespace {

std::unique_ptr<LocalCluster> StartCluster(int servers, uint32_t num_shards) {
  LocalClusterOptions options;
  options.servers = servers;
  options.workers = 0;
  options.num_shards = num_shards;
  options.replication_factor = 1;
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

std::unique_ptr<PsClient> Connect(const LocalCluster& cluster, int wait_for_workers) {
  PsClientOptions options;
  options.coordinator_address = cluster.coordinator_address();
  options.wait_for_workers = wait_for_workers;
  options.request_timeout = absl::Seconds(20);
  absl::StatusOr<std::unique_ptr<PsClient>> client = PsClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// Two workers of one cluster, connected together (BSP counts both from clock 0).
std::pair<std::unique_ptr<PsClient>, std::unique_ptr<PsClient>> ConnectTwo(
    const LocalCluster& cluster) {
  std::unique_ptr<PsClient> second;
  std::thread connect_second([&] { second = Connect(cluster, 2); });
  std::unique_ptr<PsClient> first = Connect(cluster, 2);
  connect_second.join();
  return {std::move(first), std::move(second)};
}

v1::TableSpec BspSpec(uint64_t size, v1::OptimizerSpec::Kind optimizer, float learning_rate) {
  v1::TableSpec spec;
  spec.set_name("w");
  spec.set_kind(v1::TABLE_KIND_DENSE);
  spec.set_dense_size(size);
  spec.mutable_optimizer()->set_kind(optimizer);
  spec.mutable_optimizer()->set_learning_rate(learning_rate);
  spec.mutable_consistency()->set_model(v1::ConsistencySpec::MODEL_BSP);
  return spec;
}

std::vector<float> Filled(size_t size, float value) { return std::vector<float>(size, value); }

std::vector<float> Range(const std::vector<float>& values, size_t begin, size_t end) {
  return std::vector<float>(values.begin() + begin, values.begin() + end);
}

// A table of 64 zeros in 4 shards of 16, SGD at learning rate 1, two workers pushing ones: each
// clock's average (1) subtracts 1.
TEST(BucketedParametersTest, TheLastShardsAreExchangedBeforeTheGradientIsComplete) {
  constexpr uint64_t kSize = 64;
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
  ASSERT_NE(cluster, nullptr);
  // Named pairs, not structured bindings: lambdas below capture them (C++17 forbids that).
  std::pair<std::unique_ptr<PsClient>, std::unique_ptr<PsClient>> clients = ConnectTwo(*cluster);
  std::unique_ptr<PsClient>& bucketed_client = clients.first;
  std::unique_ptr<PsClient>& other = clients.second;
  ASSERT_NE(bucketed_client, nullptr);
  ASSERT_NE(other, nullptr);
  absl::StatusOr<v1::TableInfo> table =
      bucketed_client->CreateTable(BspSpec(kSize, v1::OptimizerSpec::KIND_SGD, 1.0f));
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_TRUE(other->LookupTable("w").ok());
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  absl::StatusOr<DeviceArray<float>> gradient = backend->Allocate<float>(kSize);
  ASSERT_TRUE(gradient.ok()) << gradient.status();
  ASSERT_TRUE(backend->Upload<float>(Filled(kSize, 1.0f), *gradient).ok());
  absl::StatusOr<std::unique_ptr<BucketedDenseParameters>> bucketed =
      BucketedDenseParameters::Create(bucketed_client.get(), *table, backend.get());
  ASSERT_TRUE(bucketed.ok()) << bucketed.status();

  // [48, 64) completes shard 3 alone; [40, 48) completes nothing more.
  ASSERT_TRUE((*bucketed)->GradientReady(*gradient, 48, 16).ok());
  ASSERT_TRUE((*bucketed)->GradientReady(*gradient, 40, 8).ok());
  EXPECT_EQ((*bucketed)->early_exchanges(), 1);
  // Under BSP the other worker reads shard 3 at clock 1 only once both workers pushed it at
  // clock 0: this returns because the bucketed worker's shard 3 went out, with the rest of its
  // gradient still "being computed".
  std::vector<float> other_values(kSize);
  ASSERT_TRUE(other->PushPullShards(*table, Filled(kSize, 1.0f), absl::MakeSpan(other_values),
                                    3, 4)
                  .ok());
  EXPECT_EQ(Range(other_values, 48, 64), Filled(16, -1.0f));
  EXPECT_EQ(bucketed_client->clock(), 0u) << "the bucket does not end the step";

  // The rest of the gradient: shards 0 to 2, with the other worker's rest coming meanwhile.
  ASSERT_TRUE((*bucketed)->GradientReady(*gradient, 0, 40).ok());
  EXPECT_EQ((*bucketed)->early_exchanges(), 1) << "the bucket that completes the gradient is late";
  absl::Status other_rest;
  std::thread other_worker([&] {
    other_rest = other->PushPullShards(*table, Filled(kSize, 1.0f), absl::MakeSpan(other_values),
                                       0, 3);
  });
  std::vector<float> values(kSize);
  const absl::Status step = (*bucketed)->PushAndPull(*gradient, &values);
  other_worker.join();
  ASSERT_TRUE(step.ok()) << step;
  ASSERT_TRUE(other_rest.ok()) << other_rest;
  other->AdvanceClock();
  EXPECT_EQ(values, Filled(kSize, -1.0f));
  EXPECT_EQ(other_values, Filled(kSize, -1.0f));
  EXPECT_EQ(bucketed_client->clock(), 1u);

  // A step that reports nothing sends everything from PushAndPull; the other worker uses the
  // whole-table PushPull. Every shard is counted once per clock: the average is still 1.
  std::thread other_step([&] {
    other_rest = other->PushPull(*table, Filled(kSize, 1.0f), absl::MakeSpan(other_values));
  });
  const absl::Status second = (*bucketed)->PushAndPull(*gradient, &values);
  other_step.join();
  ASSERT_TRUE(second.ok()) << second;
  ASSERT_TRUE(other_rest.ok()) << other_rest;
  EXPECT_EQ(values, Filled(kSize, -2.0f));
  EXPECT_EQ(other_values, Filled(kSize, -2.0f));
  EXPECT_EQ((*bucketed)->early_exchanges(), 1);
  EXPECT_EQ(bucketed_client->clock(), 2u);
}

TEST(BucketedParametersTest, RefusesBadArguments) {
  constexpr uint64_t kSize = 64;
  std::unique_ptr<LocalCluster> cluster = StartCluster(1, 4);
  ASSERT_NE(cluster, nullptr);
  std::unique_ptr<PsClient> client = Connect(*cluster, 1);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::TableInfo> table =
      client->CreateTable(BspSpec(kSize, v1::OptimizerSpec::KIND_SGD, 1.0f));
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<float> values(kSize);
  const std::vector<float> gradient = Filled(kSize, 1.0f);
  for (auto [first, end] : {std::pair<uint32_t, uint32_t>{2, 2}, {3, 2}, {0, 5}}) {
    EXPECT_EQ(client->PushPullShards(*table, gradient, absl::MakeSpan(values), first, end).code(),
              absl::StatusCode::kInvalidArgument)
        << first << ", " << end;
  }
  EXPECT_EQ(client->PushPullShards(*table, Filled(kSize - 1, 1.0f), absl::MakeSpan(values), 0, 4)
                .code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> short_values(kSize - 1);
  EXPECT_EQ(
      client->PushPullShards(*table, gradient, absl::MakeSpan(short_values), 0, 4).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->clock(), 0u);

  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  absl::StatusOr<std::unique_ptr<BucketedDenseParameters>> bucketed =
      BucketedDenseParameters::Create(client.get(), *table, backend.get());
  ASSERT_TRUE(bucketed.ok()) << bucketed.status();
  absl::StatusOr<DeviceArray<float>> wrong_size = backend->Allocate<float>(kSize - 1);
  ASSERT_TRUE(wrong_size.ok());
  EXPECT_EQ((*bucketed)->GradientReady(*wrong_size, 0, 8).code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<DeviceArray<float>> device_gradient = backend->Allocate<float>(kSize);
  ASSERT_TRUE(device_gradient.ok());
  EXPECT_EQ((*bucketed)->GradientReady(*device_gradient, 60, 8).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*bucketed)->PushAndPull(*wrong_size, &values).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->clock(), 0u);
}

// Trains an MLP for kSteps BSP steps with two workers on a fresh cluster of 2 servers and 8
// shards, through MlpTask, with buckets or with one PushPull per step; returns each worker's
// parameters after each step.
constexpr int kSteps = 6;
constexpr int kBatch = 8;
const std::vector<int> kLayers = {20, 16, 8, 4};  // 508 parameters; layer 3 starts at 472.

using Trajectory = std::vector<std::vector<float>>;

DenseDataset RandomDataset(uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  DenseDataset data;
  data.num_examples = kBatch * kSteps;
  data.feature_dim = kLayers.front();
  data.num_classes = kLayers.back();
  for (int64_t i = 0; i < data.num_examples * data.feature_dim; ++i) {
    data.features.push_back(uniform(generator));
  }
  for (int64_t i = 0; i < data.num_examples; ++i) {
    data.labels.push_back(static_cast<int32_t>(generator() % data.num_classes));
  }
  return data;
}

void TrainWorker(PsClient* client, int rank, bool bucketed, Trajectory* trajectory,
                 int64_t* early_exchanges) {
  v1::TableSpec spec = BspSpec(MlpParameterCount(kLayers), v1::OptimizerSpec::KIND_ADAM, 0.01f);
  spec.mutable_optimizer()->set_beta1(0.9f);
  spec.mutable_optimizer()->set_beta2(0.999f);
  spec.mutable_optimizer()->set_epsilon(1e-8f);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_UNIFORM);
  spec.mutable_initializer()->set_min(-0.3f);
  spec.mutable_initializer()->set_max(0.3f);
  spec.mutable_initializer()->set_seed(17);
  absl::StatusOr<v1::TableInfo> table = client->CreateTable(spec);  // Idempotent.
  ASSERT_TRUE(table.ok()) << table.status();
  std::unique_ptr<ComputeBackend> backend = CreateCpuBackend(1);
  std::unique_ptr<DenseParameters> parameters;
  BucketedDenseParameters* buckets = nullptr;
  if (bucketed) {
    absl::StatusOr<std::unique_ptr<BucketedDenseParameters>> created =
        BucketedDenseParameters::Create(client, *table, backend.get());
    ASSERT_TRUE(created.ok()) << created.status();
    buckets = created->get();
    parameters = *std::move(created);
  } else {
    absl::StatusOr<std::unique_ptr<ClusterDenseParameters>> created =
        ClusterDenseParameters::Create(client, *table, backend.get(), Compression());
    ASSERT_TRUE(created.ok()) << created.status();
    parameters = *std::move(created);
  }
  absl::StatusOr<std::unique_ptr<Mlp>> mlp = Mlp::Create(backend.get(), kLayers, kBatch);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  const DenseDataset train = RandomDataset(100 + rank);
  const DenseDataset test = RandomDataset(200);
  MlpTask task(mlp->get(), parameters.get(), &train, &test, kBatch, /*seed=*/rank);
  task.BeginEpoch(0);
  for (int step = 0; step < kSteps; ++step) {
    absl::StatusOr<StepStats> stats = task.Step(step);
    ASSERT_TRUE(stats.ok()) << stats.status();
    trajectory->push_back(task.parameters());
  }
  if (buckets != nullptr) *early_exchanges = buckets->early_exchanges();
}

void Train(bool bucketed, Trajectory trajectories[2], int64_t early_exchanges[2]) {
  std::unique_ptr<LocalCluster> cluster = StartCluster(2, 8);
  ASSERT_NE(cluster, nullptr);
  std::pair<std::unique_ptr<PsClient>, std::unique_ptr<PsClient>> clients = ConnectTwo(*cluster);
  std::unique_ptr<PsClient>& first = clients.first;
  std::unique_ptr<PsClient>& second = clients.second;
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::thread other([&] {
    TrainWorker(second.get(), 1, bucketed, &trajectories[1], &early_exchanges[1]);
  });
  TrainWorker(first.get(), 0, bucketed, &trajectories[0], &early_exchanges[0]);
  other.join();
}

TEST(BucketedParametersTest, TrainingIsBitwiseTheSameAsOnePushPullPerStep) {
  Trajectory plain[2], bucketed[2];
  int64_t plain_early[2] = {0, 0}, bucketed_early[2] = {0, 0};
  Train(/*bucketed=*/false, plain, plain_early);
  Train(/*bucketed=*/true, bucketed, bucketed_early);
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_EQ(plain[rank].size(), size_t{kSteps});
    ASSERT_EQ(bucketed[rank].size(), size_t{kSteps});
    for (int step = 0; step < kSteps; ++step) {
      EXPECT_EQ(bucketed[rank][step], plain[rank][step]) << "worker " << rank << " step " << step;
      EXPECT_EQ(bucketed[rank][step], bucketed[0][step]) << "the workers agree";
    }
    EXPECT_NE(plain[rank].front(), plain[rank].back()) << "training moved the parameters";
    // 8 shards of 63 or 64 of 508: shards 6 and 7 are final once layer 2 (from 336) is, one
    // early exchange per step; layer 3 alone (from 472) completes none, and the exchange of
    // shards 0 to 5 that layer 1 completes is not early.
    EXPECT_EQ(bucketed_early[rank], kSteps);
  }
}

}  // namespace
}  // namespace ps::testing
