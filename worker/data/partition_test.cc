// PartitionOf: the shares of all ranks are disjoint, cover the dataset and are strided; a bad
// rank is an error.
#include "worker/data/partition.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

// Example i has features {i, -i} and label i % 3, so every row says which example it was.
DenseDataset NumberedDense(int64_t n) {
  DenseDataset dataset;
  dataset.num_examples = n;
  dataset.feature_dim = 2;
  dataset.num_classes = 3;
  for (int64_t i = 0; i < n; ++i) {
    dataset.features.push_back(static_cast<float>(i));
    dataset.features.push_back(-static_cast<float>(i));
    dataset.labels.push_back(static_cast<int32_t>(i % 3));
  }
  dataset.description = "numbered";
  return dataset;
}

// Example i has i % 4 keys 1000 * i + j with values j, and label i % 2.
SparseDataset NumberedSparse(int64_t n) {
  SparseDataset dataset;
  dataset.key_space = 1000 * static_cast<uint64_t>(n);
  dataset.offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < i % 4; ++j) {
      dataset.keys.push_back(1000 * static_cast<uint64_t>(i) + j);
      dataset.values.push_back(static_cast<float>(j));
    }
    dataset.offsets.push_back(dataset.keys.size());
    dataset.labels.push_back(static_cast<float>(i % 2));
  }
  dataset.description = "numbered";
  return dataset;
}

TEST(PartitionTest, DenseSharesAreStridedDisjointAndCovering) {
  const DenseDataset dataset = NumberedDense(10);
  std::vector<int> seen(10, 0);
  for (int rank = 0; rank < 3; ++rank) {
    absl::StatusOr<DenseDataset> part = PartitionOf(dataset, rank, 3);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(part->feature_dim, 2);
    EXPECT_EQ(part->num_classes, 3);
    EXPECT_EQ(part->num_examples, rank == 0 ? 4 : 3);
    ASSERT_EQ(part->features.size(), static_cast<size_t>(part->num_examples) * 2);
    ASSERT_EQ(part->labels.size(), static_cast<size_t>(part->num_examples));
    EXPECT_EQ(part->description, "numbered [rank " + std::to_string(rank) + " of 3]");
    for (int64_t k = 0; k < part->num_examples; ++k) {
      const int64_t original = rank + 3 * k;  // Strided, in order.
      EXPECT_EQ(part->features[2 * k], static_cast<float>(original));
      EXPECT_EQ(part->features[2 * k + 1], -static_cast<float>(original));
      EXPECT_EQ(part->labels[k], original % 3);
      ++seen[original];
    }
  }
  EXPECT_EQ(seen, std::vector<int>(10, 1));
}

TEST(PartitionTest, SparseSharesAreStridedDisjointAndCovering) {
  const SparseDataset dataset = NumberedSparse(11);
  std::vector<int> seen(11, 0);
  for (int rank = 0; rank < 4; ++rank) {
    absl::StatusOr<SparseDataset> part = PartitionOf(dataset, rank, 4);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(part->key_space, dataset.key_space);
    EXPECT_EQ(part->num_examples(), rank < 3 ? 3 : 2);
    ASSERT_EQ(part->offsets.front(), 0u);
    ASSERT_EQ(part->offsets.back(), part->keys.size());
    ASSERT_EQ(part->values.size(), part->keys.size());
    for (int64_t k = 0; k < part->num_examples(); ++k) {
      const int64_t original = rank + 4 * k;
      ASSERT_EQ(part->offsets[k + 1] - part->offsets[k], static_cast<size_t>(original % 4));
      for (size_t j = part->offsets[k]; j < part->offsets[k + 1]; ++j) {
        const size_t position = j - part->offsets[k];
        EXPECT_EQ(part->keys[j], 1000 * static_cast<uint64_t>(original) + position);
        EXPECT_EQ(part->values[j], static_cast<float>(position));
      }
      EXPECT_EQ(part->labels[k], static_cast<float>(original % 2));
      ++seen[original];
    }
  }
  EXPECT_EQ(seen, std::vector<int>(11, 1));
}

TEST(PartitionTest, MoreRanksThanExamplesLeavesSomeSharesEmpty) {
  absl::StatusOr<DenseDataset> dense = PartitionOf(NumberedDense(2), 3, 4);
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(dense->num_examples, 0);
  EXPECT_TRUE(dense->features.empty());
  absl::StatusOr<SparseDataset> sparse = PartitionOf(NumberedSparse(2), 3, 4);
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  EXPECT_EQ(sparse->num_examples(), 0);
  EXPECT_EQ(sparse->offsets, std::vector<size_t>{0});
}

TEST(PartitionTest, RankOutsideTheRangeIsInvalidArgument) {
  for (const auto& [rank, num_ranks] :
       std::vector<std::pair<int, int>>{{-1, 2}, {2, 2}, {5, 2}, {0, 0}, {0, -1}}) {
    absl::StatusOr<DenseDataset> dense = PartitionOf(NumberedDense(4), rank, num_ranks);
    EXPECT_EQ(dense.status().code(), absl::StatusCode::kInvalidArgument)
        << rank << " of " << num_ranks;
    absl::StatusOr<SparseDataset> sparse = PartitionOf(NumberedSparse(4), rank, num_ranks);
    EXPECT_EQ(sparse.status().code(), absl::StatusCode::kInvalidArgument)
        << rank << " of " << num_ranks;
  }
  absl::StatusOr<DenseDataset> dense = PartitionOf(NumberedDense(4), 2, 2);
  EXPECT_NE(dense.status().message().find("rank must be in [0, 2), got 2"), std::string::npos)
      << dense.status();
}

}  // namespace
}  // namespace ps
