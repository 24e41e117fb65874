#include "worker/data/partition.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ps {
namespace {

absl::Status ValidateRank(int rank, int num_ranks) {
  if (num_ranks <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_ranks must be positive, got ", num_ranks));
  }
  if (rank < 0 || rank >= num_ranks) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank must be in [0, ", num_ranks, "), got ", rank));
  }
  return absl::OkStatus();
}

std::string PartitionDescription(const std::string& description, int rank, int num_ranks) {
  return absl::StrCat(description, " [rank ", rank, " of ", num_ranks, "]");
}

}  // namespace

absl::StatusOr<DenseDataset> PartitionOf(const DenseDataset& dataset, int rank, int num_ranks) {
  if (absl::Status status = ValidateRank(rank, num_ranks); !status.ok()) return status;
  DenseDataset part;
  part.feature_dim = dataset.feature_dim;
  part.num_classes = dataset.num_classes;
  part.description = PartitionDescription(dataset.description, rank, num_ranks);
  const size_t dim = static_cast<size_t>(dataset.feature_dim);
  const int64_t count =
      dataset.num_examples > rank ? (dataset.num_examples - rank + num_ranks - 1) / num_ranks : 0;
  part.features.reserve(static_cast<size_t>(count) * dim);
  part.labels.reserve(static_cast<size_t>(count));
  for (int64_t i = rank; i < dataset.num_examples; i += num_ranks) {
    const float* row = dataset.features.data() + static_cast<size_t>(i) * dim;
    part.features.insert(part.features.end(), row, row + dim);
    part.labels.push_back(dataset.labels[static_cast<size_t>(i)]);
  }
  part.num_examples = static_cast<int64_t>(part.labels.size());
  return part;
}

absl::StatusOr<SparseDataset> PartitionOf(const SparseDataset& dataset, int rank, int num_ranks) {
  if (absl::Status status = ValidateRank(rank, num_ranks); !status.ok()) return status;
  SparseDataset part;
  part.key_space = dataset.key_space;
  part.description = PartitionDescription(dataset.description, rank, num_ranks);
  part.offsets.push_back(0);
  const int64_t num_examples = dataset.num_examples();
  for (int64_t i = rank; i < num_examples; i += num_ranks) {
    const size_t begin = dataset.offsets[static_cast<size_t>(i)];
    const size_t end = dataset.offsets[static_cast<size_t>(i) + 1];
    part.keys.insert(part.keys.end(), dataset.keys.begin() + begin, dataset.keys.begin() + end);
    part.values.insert(part.values.end(), dataset.values.begin() + begin,
                       dataset.values.begin() + end);
    part.offsets.push_back(part.keys.size());
    part.labels.push_back(dataset.labels[static_cast<size_t>(i)]);
  }
  return part;
}

}  // namespace ps
