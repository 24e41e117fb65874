#include "worker/model/sparse_logistic_regression.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"

namespace ps {

SparseBatch MakeSparseBatch(const SparseDataset& data, absl::Span<const int64_t> order,
                            int64_t begin, int64_t end) {
  SparseBatch batch;
  absl::flat_hash_map<uint64_t, uint32_t> index_of;
  batch.keys.push_back(kBiasKey);
  index_of[kBiasKey] = 0;
  batch.offsets.push_back(0);
  for (int64_t position = begin; position < end; ++position) {
    const int64_t example = order.empty() ? position : order[position];
    for (size_t i = data.offsets[example]; i < data.offsets[example + 1]; ++i) {
      const auto [it, inserted] = index_of.try_emplace(data.keys[i], batch.keys.size());
      if (inserted) batch.keys.push_back(data.keys[i]);
      batch.key_index.push_back(it->second);
      batch.values.push_back(data.values[i]);
    }
    batch.offsets.push_back(batch.key_index.size());
    batch.labels.push_back(data.labels[example]);
  }
  return batch;
}

double LogisticRegressionStep(const SparseBatch& batch, absl::Span<const float> weights,
                              absl::Span<float> probabilities, absl::Span<float> gradient) {
  const size_t examples = batch.labels.size();
  std::fill(gradient.begin(), gradient.end(), 0.0f);
  double loss_sum = 0;
  for (size_t e = 0; e < examples; ++e) {
    double logit = weights[0];
    for (size_t i = batch.offsets[e]; i < batch.offsets[e + 1]; ++i) {
      logit += double{weights[batch.key_index[i]]} * batch.values[i];
    }
    const double y = batch.labels[e];
    // log(1 + exp(-z)) for y = 1 and log(1 + exp(z)) for y = 0, in an overflow-free form.
    const double z = y > 0.5 ? logit : -logit;
    loss_sum += z > 0 ? std::log1p(std::exp(-z)) : -z + std::log1p(std::exp(z));
    const double p = 1 / (1 + std::exp(-logit));
    probabilities[e] = static_cast<float>(p);
    if (gradient.empty()) continue;
    const float error = static_cast<float>((p - y) / examples);
    gradient[0] += error;
    for (size_t i = batch.offsets[e]; i < batch.offsets[e + 1]; ++i) {
      gradient[batch.key_index[i]] += error * batch.values[i];
    }
  }
  return loss_sum;
}

}  // namespace ps
