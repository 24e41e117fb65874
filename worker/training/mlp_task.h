// Training the MLP classifier on dense examples (Fashion-MNIST) with its parameters in a
// DenseParameters (a cluster table or this process).
#ifndef PS_WORKER_TRAINING_MLP_TASK_H_
#define PS_WORKER_TRAINING_MLP_TASK_H_

#include <cstdint>
#include <vector>

#include "worker/data/dataset.h"
#include "worker/model/mlp.h"
#include "worker/training/dense_parameters.h"
#include "worker/training/epoch_order.h"
#include "worker/training/training_loop.h"

namespace ps {

class MlpTask final : public TrainingTask {
 public:
  // Batches are drawn from `train` (this worker's partition) in an order reshuffled every epoch
  // from `seed`. Everything passed in must outlive the task.
  // REQUIRES: train.num_examples >= batch_size; mlp was created with max_batch >= batch_size.
  MlpTask(Mlp* mlp, DenseParameters* parameters, const DenseDataset* train,
          const DenseDataset* test, int batch_size, uint64_t seed);

  void BeginEpoch(int epoch) override;
  absl::StatusOr<StepStats> Step(int64_t step) override;
  // Fields: test_accuracy, test_loss.
  absl::StatusOr<MetricsRecord> Evaluate() override;
  bool reports_accuracy() const override { return true; }
  ClientStats traffic() const override { return parameters_->stats(); }

  // The parameters last pulled (by Step or Evaluate): what an export writes.
  const std::vector<float>& parameters() const { return values_; }

 private:
  Mlp* const mlp_;
  DenseParameters* const parameters_;
  const DenseDataset* const train_;
  const DenseDataset* const test_;
  const int batch_size_;
  EpochOrder order_;
  std::vector<float> values_;
  // Whether values_ holds what the next step computes with (each step's PushAndPull reads it).
  bool values_current_ = false;
  std::vector<float> batch_features_;
  std::vector<int32_t> batch_labels_;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_MLP_TASK_H_
