// Three servers and four worker processes push known increments (SGD, learning rate 1) to a
// dense and a sparse table under each consistency model; the final values must equal the exact
// sum (ASP, SSP) or the exact sum of per-clock averages (BSP).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/daemon_process.h"
#include "tests/harness/local_cluster.h"
#include "tests/integration/increments.h"
#include "worker/client/ps_client.h"

namespace ps::testing {
namespace {

constexpr int kWorkers = 4;
constexpr int kClocks = 6;

class ExactSumTest : public ::testing::TestWithParam<v1::ConsistencySpec::Model> {};

TEST_P(ExactSumTest, FinalValuesEqualTheExactSumOfIncrements) {
  const v1::ConsistencySpec::Model model = GetParam();
  const bool average = model == v1::ConsistencySpec::MODEL_BSP;
  LocalClusterOptions options;
  options.servers = 3;
  options.workers = 0;
  options.num_shards = 12;
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();

  PsClientOptions observer_options;
  observer_options.coordinator_address = (*cluster)->coordinator_address();
  observer_options.observer = true;
  absl::StatusOr<std::unique_ptr<PsClient>> observer = PsClient::Connect(observer_options);
  ASSERT_TRUE(observer.ok()) << observer.status();
  absl::StatusOr<v1::TableInfo> dense =
      (*observer)->CreateTable(IncrementTableSpec("dense", v1::TABLE_KIND_DENSE, model));
  ASSERT_TRUE(dense.ok()) << dense.status();
  absl::StatusOr<v1::TableInfo> sparse =
      (*observer)->CreateTable(IncrementTableSpec("sparse", v1::TABLE_KIND_SPARSE, model));
  ASSERT_TRUE(sparse.ok()) << sparse.status();

  std::vector<std::unique_ptr<DaemonProcess>> workers;
  const std::string directory = MakeTempDir("workers");
  for (int i = 0; i < kWorkers; ++i) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> worker = DaemonProcess::Start(
        RunfilePath("tests/integration/increment_worker"),
        {"--coordinator=" + (*cluster)->coordinator_address(),
         absl::StrCat("--workers=", kWorkers), absl::StrCat("--clocks=", kClocks)},
        absl::StrCat(directory, "/worker-", i, ".log"));
    ASSERT_TRUE(worker.ok()) << worker.status();
    workers.push_back(*std::move(worker));
  }
  for (int i = 0; i < kWorkers; ++i) {
    const std::optional<int> exit_code = workers[i]->Wait(absl::Seconds(90));
    ASSERT_EQ(exit_code, 0) << "worker " << i << ":\n"
                            << workers[i]->ReadLog() << (*cluster)->AllLogs();
  }

  // Expected values, summed here from the definition of the increments.
  std::vector<double> expected_dense(kDenseSize, 0.0);
  std::map<uint64_t, std::vector<double>> expected_rows;
  for (uint64_t clock = 0; clock < kClocks; ++clock) {
    for (uint32_t rank = 0; rank < kWorkers; ++rank) {
      const double share = average ? 1.0 / kWorkers : 1.0;
      for (uint64_t i = 0; i < kDenseSize; ++i) {
        expected_dense[i] += share * DenseIncrement(rank, clock, i);
      }
      for (uint64_t key : SparseKeys(rank)) {
        std::vector<double>& row = expected_rows[key];
        row.resize(kSparseDim, 0.0);
        for (uint32_t j = 0; j < kSparseDim; ++j) row[j] += share * SparseIncrement(rank, clock, key, j);
      }
    }
  }

  std::vector<float> values(kDenseSize);
  ASSERT_TRUE((*observer)->Pull(*dense, absl::MakeSpan(values)).ok());
  for (uint64_t i = 0; i < kDenseSize; ++i) {
    ASSERT_EQ(values[i], static_cast<float>(expected_dense[i])) << "dense element " << i;
  }
  std::vector<uint64_t> keys;
  for (const auto& [key, row] : expected_rows) keys.push_back(key);
  std::vector<float> rows(keys.size() * kSparseDim);
  ASSERT_TRUE((*observer)->PullSparse(*sparse, keys, absl::MakeSpan(rows)).ok());
  for (size_t k = 0; k < keys.size(); ++k) {
    for (uint32_t j = 0; j < kSparseDim; ++j) {
      ASSERT_EQ(rows[k * kSparseDim + j], static_cast<float>(expected_rows[keys[k]][j]))
          << "key " << keys[k] << " column " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryModel, ExactSumTest,
                         ::testing::Values(v1::ConsistencySpec::MODEL_BSP,
                                           v1::ConsistencySpec::MODEL_ASP,
                                           v1::ConsistencySpec::MODEL_SSP),
                         [](const ::testing::TestParamInfo<v1::ConsistencySpec::Model>& info) {
                           return v1::ConsistencySpec::Model_Name(info.param);
                         });

}  // namespace
}  // namespace ps::testing
