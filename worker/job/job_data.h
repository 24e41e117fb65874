// The training and test sets a job's options name: read from files (Fashion-MNIST, LIBSVM) or
// generated from the seed (synthetic-images, zipf). Every worker loads the whole set and keeps its
// partition (worker/data/partition.h). Thread-safe; the result is owned by the caller.
#ifndef PS_WORKER_JOB_JOB_DATA_H_
#define PS_WORKER_JOB_JOB_DATA_H_

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"
#include "worker/job/worker_job_options.h"

namespace ps {

struct DenseData {
  DenseDataset train;
  DenseDataset test;
};

struct SparseData {
  SparseDataset train;
  SparseDataset test;
};

// The mlp's data (dataset fashion-mnist or synthetic-images), the training set cut to its first
// train_limit examples when that is set and smaller. Errors: InvalidArgument for another
// dataset; those of reading data_dir.
absl::StatusOr<DenseData> LoadDenseData(const WorkerJobOptions& options);

// sparse_lr's data (dataset zipf or libsvm). Errors: InvalidArgument for another dataset or a
// missing libsvm file name; those of reading or generating the data.
absl::StatusOr<SparseData> LoadSparseData(const WorkerJobOptions& options);

}  // namespace ps

#endif  // PS_WORKER_JOB_JOB_DATA_H_
