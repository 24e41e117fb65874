// A worker's share of a dataset: examples i with i % num_ranks == rank. Striding rather than
// cutting contiguous blocks keeps the class mix of every share equal to the whole set's even when
// the file is sorted by class. Pure functions; thread-safe.
#ifndef PS_WORKER_DATA_PARTITION_H_
#define PS_WORKER_DATA_PARTITION_H_

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace ps {

// The examples of `dataset` whose index i satisfies i % num_ranks == rank, in their original
// order, as a new dataset (copied; `dataset` is not modified). The description gains
// " [rank R of N]". InvalidArgument unless num_ranks > 0 and 0 <= rank < num_ranks.
absl::StatusOr<DenseDataset> PartitionOf(const DenseDataset& dataset, int rank, int num_ranks);

// As above for sparse data; key_space is kept as it is (the table is shared by every rank).
absl::StatusOr<SparseDataset> PartitionOf(const SparseDataset& dataset, int rank, int num_ranks);

}  // namespace ps

#endif  // PS_WORKER_DATA_PARTITION_H_
