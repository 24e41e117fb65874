#include "worker/job/job_data.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/data/idx_reader.h"
#include "worker/data/libsvm_reader.h"
#include "worker/data/synthetic_images.h"
#include "worker/data/zipf_generator.h"

namespace ps {
namespace {

// Keeps the first `limit` examples of `dataset` when limit is positive and smaller.
void Truncate(int64_t limit, DenseDataset& dataset) {
  if (limit <= 0 || limit >= dataset.num_examples) return;
  dataset.num_examples = limit;
  dataset.features.resize(limit * dataset.feature_dim);
  dataset.labels.resize(limit);
  absl::StrAppend(&dataset.description, ", first ", limit, " examples");
}

absl::StatusOr<DenseData> ReadOrGenerateDenseData(const WorkerJobOptions& options) {
  if (options.dataset == "fashion-mnist") {
    PS_ASSIGN_OR_RETURN(auto sets, ReadFashionMnist(options.data_dir));
    return DenseData{std::move(sets.first), std::move(sets.second)};
  }
  if (options.dataset == "synthetic-images") {
    return DenseData{
        MakeSyntheticImages(kSyntheticImagesTrainExamples, options.seed, options.seed + 1),
        MakeSyntheticImages(kSyntheticImagesTestExamples, options.seed, options.seed + 2)};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--dataset for the mlp must be fashion-mnist or synthetic-images, got '", options.dataset,
      "'"));
}

}  // namespace

absl::StatusOr<DenseData> LoadDenseData(const WorkerJobOptions& options) {
  PS_ASSIGN_OR_RETURN(DenseData data, ReadOrGenerateDenseData(options));
  Truncate(options.train_limit, data.train);
  return data;
}

absl::StatusOr<SparseData> LoadSparseData(const WorkerJobOptions& options) {
  if (options.dataset == "libsvm") {
    if (options.libsvm_train.empty() || options.libsvm_test.empty()) {
      return absl::InvalidArgumentError("--dataset=libsvm needs --libsvm_train and --libsvm_test");
    }
    PS_ASSIGN_OR_RETURN(SparseDataset train, ReadLibsvm(options.libsvm_train));
    PS_ASSIGN_OR_RETURN(SparseDataset test, ReadLibsvm(options.libsvm_test));
    return SparseData{std::move(train), std::move(test)};
  }
  if (options.dataset == "zipf") {
    // Train and test share the hidden model (model_seed) and differ in their examples.
    ZipfOptions zipf;
    zipf.key_space = options.zipf_keys;
    zipf.model_seed = options.seed;
    zipf.num_examples = options.zipf_examples;
    zipf.seed = options.seed * 2;
    PS_ASSIGN_OR_RETURN(SparseDataset train, MakeZipfDataset(zipf));
    zipf.num_examples /= 4;
    zipf.seed += 1;
    PS_ASSIGN_OR_RETURN(SparseDataset test, MakeZipfDataset(zipf));
    return SparseData{std::move(train), std::move(test)};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--dataset for sparse_lr must be zipf or libsvm, got '", options.dataset, "'"));
}

}  // namespace ps
