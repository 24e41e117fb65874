// MakeSyntheticImages: determinism, ranges, and that train and test sets drawn with different
// example seeds come from the same class prototypes.
#include "worker/data/synthetic_images.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace ps {
namespace {

// The mean image of each class.
std::vector<std::vector<double>> ClassMeans(const DenseDataset& dataset) {
  std::vector<std::vector<double>> means(dataset.num_classes,
                                         std::vector<double>(dataset.feature_dim, 0.0));
  std::vector<int64_t> counts(dataset.num_classes, 0);
  for (int64_t i = 0; i < dataset.num_examples; ++i) {
    const int label = dataset.labels[i];
    ++counts[label];
    for (int j = 0; j < dataset.feature_dim; ++j) {
      means[label][j] += dataset.features[i * dataset.feature_dim + j];
    }
  }
  for (int c = 0; c < dataset.num_classes; ++c) {
    for (double& value : means[c]) value /= static_cast<double>(counts[c]);
  }
  return means;
}

double Distance(const std::vector<double>& a, const float* b) {
  double sum = 0;
  for (size_t j = 0; j < a.size(); ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return std::sqrt(sum);
}

double Distance(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t j = 0; j < a.size(); ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return std::sqrt(sum);
}

TEST(SyntheticImagesTest, ShapeRangesAndDescription) {
  const DenseDataset dataset = MakeSyntheticImages(500, 1, 2);
  EXPECT_EQ(dataset.num_examples, 500);
  EXPECT_EQ(dataset.feature_dim, 784);
  EXPECT_EQ(dataset.num_classes, 10);
  ASSERT_EQ(dataset.features.size(), 500u * 784);
  ASSERT_EQ(dataset.labels.size(), 500u);
  for (float value : dataset.features) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 1.0f);
  }
  std::vector<int> counts(10, 0);
  for (int32_t label : dataset.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++counts[label];
  }
  for (int count : counts) EXPECT_GT(count, 20);  // 50 expected per class.
  EXPECT_EQ(dataset.description.rfind("SYNTHETIC", 0), 0u) << dataset.description;
  EXPECT_EQ(MakeSyntheticImages(0, 1, 2).features.size(), 0u);
}

TEST(SyntheticImagesTest, SameSeedsGiveTheSameDataAndOtherSeedsOtherData) {
  const DenseDataset a = MakeSyntheticImages(200, 1, 2);
  const DenseDataset b = MakeSyntheticImages(200, 1, 2);
  EXPECT_EQ(a.features, b.features);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(MakeSyntheticImages(200, 1, 3).features, a.features);
  EXPECT_NE(MakeSyntheticImages(200, 4, 2).features, a.features);
}

// Class means estimated from two different example seeds agree far better than the means of two
// different classes do: the sets share prototypes. A nearest-class-mean classifier fitted on one
// set then generalises to the other, and leaves errors (the task is not trivial).
TEST(SyntheticImagesTest, TrainAndTestSetsShareThePrototypes) {
  const DenseDataset train = MakeSyntheticImages(3000, 7, 1);
  const DenseDataset test = MakeSyntheticImages(1000, 7, 2);
  const std::vector<std::vector<double>> train_means = ClassMeans(train);
  const std::vector<std::vector<double>> test_means = ClassMeans(test);
  double largest_same = 0, smallest_different = std::numeric_limits<double>::infinity();
  for (int c = 0; c < 10; ++c) {
    largest_same = std::max(largest_same, Distance(train_means[c], test_means[c]));
    for (int other = 0; other < 10; ++other) {
      if (other == c) continue;
      smallest_different =
          std::min(smallest_different, Distance(train_means[c], test_means[other]));
    }
  }
  EXPECT_LT(largest_same * 2, smallest_different);

  int correct = 0;
  for (int64_t i = 0; i < test.num_examples; ++i) {
    int best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (int c = 0; c < 10; ++c) {
      const double distance = Distance(train_means[c], &test.features[i * 784]);
      if (distance < best_distance) {
        best_distance = distance;
        best = c;
      }
    }
    correct += best == test.labels[i];
  }
  const double accuracy = correct / static_cast<double>(test.num_examples);
  EXPECT_GT(accuracy, 0.5);
  EXPECT_LT(accuracy, 0.98);
  std::printf(
      "nearest-class-mean accuracy %.3f, class-mean distances: same class <= %.2f, "
      "different classes >= %.2f\n",
      accuracy, largest_same, smallest_different);

  // A prototype seed of its own gives a different task: its class means match none of these.
  const std::vector<std::vector<double>> other_task = ClassMeans(MakeSyntheticImages(1000, 8, 2));
  for (int c = 0; c < 10; ++c) EXPECT_GT(Distance(train_means[c], other_task[c]), largest_same * 2);
}

}  // namespace
}  // namespace ps
