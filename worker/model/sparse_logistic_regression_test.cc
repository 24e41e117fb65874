// Sparse logistic regression: batch rewriting over distinct keys, and the gradient against
// central finite differences of the loss.
#include "worker/model/sparse_logistic_regression.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// Three examples over keys 7, 9 and 12; key 9 appears twice.
SparseDataset SmallDataset() {
  SparseDataset data;
  data.keys = {7, 9, 9, 12, 7};
  data.values = {1.0f, 0.5f, 2.0f, -1.0f, 0.25f};
  data.offsets = {0, 2, 4, 5};
  data.labels = {1, 0, 1};
  data.key_space = 13;
  return data;
}

TEST(SparseLogisticRegressionTest, BatchesListEachKeyOnceWithTheBiasFirst) {
  const SparseDataset data = SmallDataset();
  const SparseBatch batch = MakeSparseBatch(data, {}, 0, 3);
  EXPECT_EQ(batch.keys, (std::vector<uint64_t>{kBiasKey, 7, 9, 12}));
  EXPECT_EQ(batch.key_index, (std::vector<uint32_t>{1, 2, 2, 3, 1}));
  EXPECT_EQ(batch.offsets, (std::vector<size_t>{0, 2, 4, 5}));
  // A reordered sub-range: examples 2 then 0.
  const std::vector<int64_t> order = {2, 0, 1};
  const SparseBatch reordered = MakeSparseBatch(data, order, 0, 2);
  EXPECT_EQ(reordered.keys, (std::vector<uint64_t>{kBiasKey, 7, 9}));
  EXPECT_EQ(reordered.labels, (std::vector<float>{1, 1}));
  EXPECT_EQ(reordered.values, (std::vector<float>{0.25f, 1.0f, 0.5f}));
}

TEST(SparseLogisticRegressionTest, GradientMatchesFiniteDifferences) {
  const SparseBatch batch = MakeSparseBatch(SmallDataset(), {}, 0, 3);
  std::vector<float> weights = {0.1f, -0.4f, 0.3f, 0.7f};
  std::vector<float> probabilities(3), gradient(4);
  LogisticRegressionStep(batch, weights, absl::MakeSpan(probabilities), absl::MakeSpan(gradient));
  for (size_t i = 0; i < weights.size(); ++i) {
    const float epsilon = 1e-3f;
    std::vector<float> plus = weights, minus = weights;
    plus[i] += epsilon;
    minus[i] -= epsilon;
    const double numeric =
        (LogisticRegressionStep(batch, plus, absl::MakeSpan(probabilities), {}) -
         LogisticRegressionStep(batch, minus, absl::MakeSpan(probabilities), {})) /
        (2 * epsilon) / 3;  // The gradient is of the mean loss over 3 examples.
    EXPECT_NEAR(gradient[i], numeric, 1e-4) << "key index " << i;
    EXPECT_GT(std::abs(gradient[i]), 1e-3) << "key index " << i;
  }
  // p = sigmoid(bias + 7's weight * 1 + 9's weight * 0.5) for the first example.
  LogisticRegressionStep(batch, weights, absl::MakeSpan(probabilities), {});
  EXPECT_NEAR(probabilities[0], 1 / (1 + std::exp(-(0.1 - 0.4 + 0.15))), 1e-6);
}

TEST(SparseLogisticRegressionTest, LossStaysFiniteForHugeLogits) {
  const SparseBatch batch = MakeSparseBatch(SmallDataset(), {}, 0, 3);
  const std::vector<float> weights = {0.0f, -1e4f, 1e4f, 0.0f};
  std::vector<float> probabilities(3);
  const double loss = LogisticRegressionStep(batch, weights, absl::MakeSpan(probabilities), {});
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 1e3);  // Example 0 (label 1) has logit -9500.
}

}  // namespace
}  // namespace ps
