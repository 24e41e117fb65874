#include "worker/training/mlp_task.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "worker/training/thread_cpu_time.h"

namespace ps {

MlpTask::MlpTask(Mlp* mlp, DenseParameters* parameters, const DenseDataset* train,
                 const DenseDataset* test, int batch_size, uint64_t seed)
    : mlp_(mlp),
      parameters_(parameters),
      train_(train),
      test_(test),
      batch_size_(batch_size),
      order_(train->num_examples, seed),
      values_(mlp->num_parameters()),
      batch_features_(size_t(batch_size) * train->feature_dim),
      batch_labels_(batch_size) {}

void MlpTask::BeginEpoch(int epoch) { order_.Shuffle(epoch); }

absl::StatusOr<StepStats> MlpTask::Step(int64_t step) {
  const size_t dim = train_->feature_dim;
  const int64_t first = order_.BatchStart(step, batch_size_);
  for (int row = 0; row < batch_size_; ++row) {
    const int64_t example = order_.order()[first + row];
    std::copy_n(train_->features.begin() + example * dim, dim,
                batch_features_.begin() + row * dim);
    batch_labels_[row] = train_->labels[example];
  }
  // The values of this step came with the previous step's exchange (or Evaluate's pull).
  if (!values_current_) PS_RETURN_IF_ERROR(parameters_->Pull(absl::MakeSpan(values_)));
  const absl::Time start = absl::Now();
  const absl::Duration start_cpu = ThreadCpuTime();
  PS_RETURN_IF_ERROR(mlp_->SetParameters(values_));
  // Each layer's gradient reaches the parameters as backward produces it, so that they can start
  // sending the end of the vector while the first layers are still computed.
  PS_ASSIGN_OR_RETURN(const BatchLoss loss,
                      mlp_->ComputeGradient(batch_features_, batch_labels_,
                                            [this](uint64_t begin, uint64_t count) {
                                              return parameters_->GradientReady(mlp_->gradient(),
                                                                                begin, count);
                                            }));
  StepStats stats;
  stats.loss_sum = loss.loss_sum;
  stats.correct = loss.correct;
  stats.examples = batch_size_;
  stats.compute = absl::Now() - start;
  stats.compute_cpu = ThreadCpuTime() - start_cpu;
  values_current_ = false;  // Stays false if the exchange fails.
  PS_RETURN_IF_ERROR(parameters_->PushAndPull(mlp_->gradient(), &values_));
  values_current_ = true;
  return stats;
}

absl::StatusOr<MetricsRecord> MlpTask::Evaluate() {
  values_current_ = false;
  PS_RETURN_IF_ERROR(parameters_->Pull(absl::MakeSpan(values_)));
  values_current_ = true;
  PS_RETURN_IF_ERROR(mlp_->SetParameters(values_));
  PS_ASSIGN_OR_RETURN(const BatchLoss loss, mlp_->Evaluate(test_->features, test_->labels));
  MetricsRecord record;
  record.Set("test_accuracy", double(loss.correct) / test_->num_examples)
      .Set("test_loss", loss.loss_sum / test_->num_examples);
  return record;
}

}  // namespace ps
