// Logistic regression over sparse features, trained on a sparse table with one float per key:
// p(y = 1 | x) = sigmoid(bias + sum over features of weight[key] * value). The bias lives in the
// same table under kBiasKey. Computed on the host: a batch touches a few thousand scattered rows,
// work for which a GEMM-shaped device kernel buys nothing.
#ifndef PS_WORKER_MODEL_SPARSE_LOGISTIC_REGRESSION_H_
#define PS_WORKER_MODEL_SPARSE_LOGISTIC_REGRESSION_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/types/span.h"
#include "worker/data/dataset.h"

namespace ps {

// The table key of the bias; datasets use keys below it.
inline constexpr uint64_t kBiasKey = std::numeric_limits<uint64_t>::max();

// Examples rewritten over their distinct keys: what one pull fetches and one push updates.
struct SparseBatch {
  // Distinct keys, kBiasKey first.
  std::vector<uint64_t> keys;
  // Per nonzero feature: its index in `keys`, and its value.
  std::vector<uint32_t> key_index;
  std::vector<float> values;
  // Example e's features are [offsets[e], offsets[e + 1]).
  std::vector<size_t> offsets;
  std::vector<float> labels;
};

// Examples [begin, end) of `data` in the order of `order` (all examples in order when empty).
SparseBatch MakeSparseBatch(const SparseDataset& data, absl::Span<const int64_t> order,
                            int64_t begin, int64_t end);

// Writes p(y = 1) per example into `probabilities` given one weight per batch key, and, when
// `gradient` is not empty, the gradient of the batch's mean log-loss per batch key. Returns the
// summed log-loss.
double LogisticRegressionStep(const SparseBatch& batch, absl::Span<const float> weights,
                              absl::Span<float> probabilities, absl::Span<float> gradient);

}  // namespace ps

#endif  // PS_WORKER_MODEL_SPARSE_LOGISTIC_REGRESSION_H_
