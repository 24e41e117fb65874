#include "worker/model/binary_metrics.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

TEST(BinaryMetricsTest, AucCountsOrderedPairsWithTiesAsHalf) {
  const std::vector<float> labels = {0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.1f, 0.9f, 0.2f, 0.8f}, labels), 1.0);
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.9f, 0.1f, 0.8f, 0.2f}, labels), 0.0);
  // Pairs (positive, negative): (0.3 vs 0.1) win, (0.3 vs 0.5) lose, (0.5 vs 0.1) win,
  // (0.5 vs 0.5) tie: (1 + 0 + 1 + 0.5) / 4.
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.1f, 0.3f, 0.5f, 0.5f}, labels), 0.625);
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.1f, 0.3f}, std::vector<float>{1, 1}), 0.5);
}

TEST(BinaryMetricsTest, LogLossOfKnownPredictions) {
  const std::vector<float> labels = {1, 0};
  EXPECT_NEAR(LogLoss(std::vector<float>{0.8f, 0.4f}, labels),
              -(std::log(0.8) + std::log(0.6)) / 2, 1e-6);
  // A confident mistake is large but finite.
  const double clamped = LogLoss(std::vector<float>{0.0f, 0.0f}, labels);
  EXPECT_TRUE(std::isfinite(clamped));
  EXPECT_GT(clamped, 5);
}

}  // namespace
}  // namespace ps
