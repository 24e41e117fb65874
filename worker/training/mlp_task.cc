#include "worker/training/mlp_task.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "common/status_macros.h"

namespace ps {

MlpTask::MlpTask(Mlp* mlp, DenseParameters* parameters, const DenseDataset* train,
                 const DenseDataset* test, int batch_size, uint64_t seed)
    : mlp_(mlp),
      parameters_(parameters),
      train_(train),
      test_(test),
      batch_size_(batch_size),
      seed_(seed),
      order_(train->num_examples),
      values_(mlp->num_parameters()),
      gradient_(mlp->num_parameters()),
      batch_features_(size_t(batch_size) * train->feature_dim),
      batch_labels_(batch_size) {
  std::iota(order_.begin(), order_.end(), 0);
}

void MlpTask::BeginEpoch(int epoch) {
  std::mt19937_64 generator(seed_ * 1000003 + epoch);
  std::shuffle(order_.begin(), order_.end(), generator);
}

absl::StatusOr<StepStats> MlpTask::Step(int64_t step) {
  const size_t dim = train_->feature_dim;
  // Steps past the end of a short partition wrap around (partitions differ by one example).
  const size_t first = size_t(step) * batch_size_ % (order_.size() - batch_size_ + 1);
  for (int row = 0; row < batch_size_; ++row) {
    const int64_t example = order_[first + row];
    std::copy_n(train_->features.begin() + example * dim, dim,
                batch_features_.begin() + row * dim);
    batch_labels_[row] = train_->labels[example];
  }
  PS_RETURN_IF_ERROR(parameters_->Pull(absl::MakeSpan(values_)));
  PS_RETURN_IF_ERROR(mlp_->SetParameters(values_));
  PS_ASSIGN_OR_RETURN(const BatchLoss loss, mlp_->ComputeGradient(batch_features_, batch_labels_));
  PS_RETURN_IF_ERROR(mlp_->DownloadGradient(absl::MakeSpan(gradient_)));
  PS_RETURN_IF_ERROR(parameters_->Push(gradient_));
  parameters_->AdvanceClock();
  return StepStats{loss.loss_sum, loss.correct, batch_size_};
}

absl::StatusOr<MetricsRecord> MlpTask::Evaluate() {
  PS_RETURN_IF_ERROR(parameters_->Pull(absl::MakeSpan(values_)));
  PS_RETURN_IF_ERROR(mlp_->SetParameters(values_));
  PS_ASSIGN_OR_RETURN(const BatchLoss loss, mlp_->Evaluate(test_->features, test_->labels));
  MetricsRecord record;
  record.Set("test_accuracy", double(loss.correct) / test_->num_examples)
      .Set("test_loss", loss.loss_sum / test_->num_examples);
  return record;
}

}  // namespace ps
