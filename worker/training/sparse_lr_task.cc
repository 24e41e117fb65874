#include "worker/training/sparse_lr_task.h"

#include <algorithm>
#include <numeric>

#include "common/status_macros.h"
#include "worker/model/binary_metrics.h"
#include "worker/model/sparse_logistic_regression.h"

namespace ps {
namespace {

// Test examples per evaluation pull.
constexpr int64_t kEvaluationChunk = 4096;

}  // namespace

SparseLrTask::SparseLrTask(PsClient* client, v1::TableInfo table, const SparseDataset* train,
                           const SparseDataset* test, int batch_size, uint64_t seed)
    : client_(client),
      table_(std::move(table)),
      train_(train),
      test_(test),
      batch_size_(batch_size),
      order_(train->num_examples(), seed) {}

void SparseLrTask::BeginEpoch(int epoch) { order_.Shuffle(epoch); }

absl::StatusOr<StepStats> SparseLrTask::Step(int64_t step) {
  const int64_t first = order_.BatchStart(step, batch_size_);
  const SparseBatch batch = MakeSparseBatch(*train_, order_.order(), first, first + batch_size_);
  std::vector<float> weights(batch.keys.size()), gradient(batch.keys.size());
  std::vector<float> probabilities(batch.labels.size());
  PS_RETURN_IF_ERROR(client_->PullSparse(table_, batch.keys, absl::MakeSpan(weights)));
  const double loss = LogisticRegressionStep(batch, weights, absl::MakeSpan(probabilities),
                                             absl::MakeSpan(gradient));
  PS_RETURN_IF_ERROR(client_->PushSparse(table_, batch.keys, gradient));
  client_->AdvanceClock();
  StepStats stats;
  stats.loss_sum = loss;
  stats.examples = batch_size_;
  return stats;
}

absl::StatusOr<MetricsRecord> SparseLrTask::Evaluate() {
  std::vector<float> probabilities(test_->num_examples());
  for (int64_t begin = 0; begin < test_->num_examples(); begin += kEvaluationChunk) {
    const int64_t end = std::min(test_->num_examples(), begin + kEvaluationChunk);
    const SparseBatch batch = MakeSparseBatch(*test_, {}, begin, end);
    std::vector<float> weights(batch.keys.size());
    PS_RETURN_IF_ERROR(client_->PullSparse(table_, batch.keys, absl::MakeSpan(weights)));
    LogisticRegressionStep(batch, weights, absl::MakeSpan(probabilities).subspan(begin, end - begin),
                           {});
  }
  const double positive_rate =
      std::accumulate(train_->labels.begin(), train_->labels.end(), 0.0) / train_->labels.size();
  const std::vector<float> baseline(test_->num_examples(), static_cast<float>(positive_rate));
  MetricsRecord record;
  record.Set("test_auc", Auc(probabilities, test_->labels))
      .Set("test_logloss", LogLoss(probabilities, test_->labels))
      .Set("baseline_logloss", LogLoss(baseline, test_->labels));
  return record;
}

}  // namespace ps
