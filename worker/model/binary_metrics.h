// Quality of probabilistic binary predictions.
#ifndef PS_WORKER_MODEL_BINARY_METRICS_H_
#define PS_WORKER_MODEL_BINARY_METRICS_H_

#include "absl/types/span.h"

namespace ps {

// Mean negative log-likelihood of 0/1 `labels` under `probabilities` (clamped away from 0 and 1
// so one confident mistake cannot make it infinite).
double LogLoss(absl::Span<const float> probabilities, absl::Span<const float> labels);

// Area under the ROC curve: the probability that a random positive scores above a random
// negative, ties counting one half. 0.5 when either class is absent.
double Auc(absl::Span<const float> scores, absl::Span<const float> labels);

}  // namespace ps

#endif  // PS_WORKER_MODEL_BINARY_METRICS_H_
