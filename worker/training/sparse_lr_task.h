// Training sparse logistic regression (CTR-style data) on a sparse cluster table with one float
// per key.
#ifndef PS_WORKER_TRAINING_SPARSE_LR_TASK_H_
#define PS_WORKER_TRAINING_SPARSE_LR_TASK_H_

#include <cstdint>
#include <vector>

#include "proto/types.pb.h"
#include "worker/client/ps_client.h"
#include "worker/data/dataset.h"
#include "worker/training/epoch_order.h"
#include "worker/training/training_loop.h"

namespace ps {

class SparseLrTask final : public TrainingTask {
 public:
  // `table` is sparse with sparse_dim 1. Everything passed in must outlive the task.
  // REQUIRES: train.num_examples() >= batch_size.
  SparseLrTask(PsClient* client, v1::TableInfo table, const SparseDataset* train,
               const SparseDataset* test, int batch_size, uint64_t seed);

  void BeginEpoch(int epoch) override;
  absl::StatusOr<StepStats> Step(int64_t step) override;
  // Fields: test_auc, test_logloss, and baseline_logloss: the log-loss of always predicting the
  // training partition's positive rate, the trivial model the learned one must beat.
  absl::StatusOr<MetricsRecord> Evaluate() override;
  bool reports_accuracy() const override { return false; }
  ClientStats traffic() const override { return client_->stats(); }

 private:
  PsClient* const client_;
  const v1::TableInfo table_;
  const SparseDataset* const train_;
  const SparseDataset* const test_;
  const int batch_size_;
  EpochOrder order_;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_SPARSE_LR_TASK_H_
