// MakeZipfDataset: determinism, structure, the Zipf shape of key frequencies, label balance, that
// logistic regression learns the hidden model, and option validation.
#include "worker/data/zipf_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ps {
namespace {

SparseDataset Make(const ZipfOptions& options) {
  absl::StatusOr<SparseDataset> dataset = MakeZipfDataset(options);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  return dataset.ok() ? *std::move(dataset) : SparseDataset();
}

ZipfOptions SmallOptions() {
  ZipfOptions options;
  options.num_examples = 5000;
  options.key_space = 100000;
  options.features_per_example = 20;
  return options;
}

double LabelRate(const SparseDataset& dataset) {
  double positives = 0;
  for (float label : dataset.labels) positives += label;
  return positives / static_cast<double>(dataset.num_examples());
}

TEST(ZipfGeneratorTest, SameOptionsGiveTheSameDataAndOtherSeedsOtherData) {
  const SparseDataset a = Make(SmallOptions());
  const SparseDataset b = Make(SmallOptions());
  EXPECT_EQ(a.keys, b.keys);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.offsets, b.offsets);
  ZipfOptions other_seed = SmallOptions();
  other_seed.seed = 2;
  EXPECT_NE(Make(other_seed).keys, a.keys);
  ZipfOptions other_model = SmallOptions();
  other_model.model_seed = 2;
  EXPECT_NE(Make(other_model).keys, a.keys);  // The scramble moved the hot keys.
  EXPECT_EQ(a.description.rfind("SYNTHETIC", 0), 0u) << a.description;
}

TEST(ZipfGeneratorTest, ExamplesHoldDistinctSortedKeysInRangeWithUnitValues) {
  const SparseDataset dataset = Make(SmallOptions());
  ASSERT_EQ(dataset.num_examples(), 5000);
  ASSERT_EQ(dataset.offsets.size(), 5001u);
  EXPECT_EQ(dataset.key_space, 100000u);
  EXPECT_EQ(dataset.keys.size(), 5000u * 20);
  EXPECT_EQ(dataset.values, std::vector<float>(dataset.keys.size(), 1.0f));
  for (int64_t i = 0; i < dataset.num_examples(); ++i) {
    ASSERT_EQ(dataset.offsets[i + 1] - dataset.offsets[i], 20u);
    for (size_t j = dataset.offsets[i]; j < dataset.offsets[i + 1]; ++j) {
      ASSERT_LT(dataset.keys[j], dataset.key_space);
      if (j > dataset.offsets[i]) {
        ASSERT_LT(dataset.keys[j - 1], dataset.keys[j]) << "example " << i;
      }
    }
    ASSERT_TRUE(dataset.labels[i] == 0.0f || dataset.labels[i] == 1.0f);
  }
}

// With one key per example (no repeats to reject) the frequency of the r-th most frequent key
// falls as r^-exponent: frequency(1) / frequency(30) estimates 30^exponent.
TEST(ZipfGeneratorTest, KeyFrequenciesFollowTheExponent) {
  for (double exponent : {0.8, 1.1, 1.5}) {
    ZipfOptions options;
    options.num_examples = 100000;
    options.key_space = 10000;
    options.features_per_example = 1;
    options.zipf_exponent = exponent;
    const SparseDataset dataset = Make(options);
    absl::flat_hash_map<uint64_t, int64_t> counts;
    for (uint64_t key : dataset.keys) ++counts[key];
    std::vector<std::pair<int64_t, uint64_t>> by_count;
    for (const auto& [key, count] : counts) by_count.emplace_back(count, key);
    std::sort(by_count.begin(), by_count.end(), std::greater<>());
    ASSERT_GT(by_count.size(), 30u);
    const double estimate =
        std::log(static_cast<double>(by_count[0].first) / by_count[29].first) / std::log(30.0);
    std::printf("exponent %.2f: estimated %.3f from the 1st and 30th most frequent keys\n",
                exponent, estimate);
    EXPECT_NEAR(estimate, exponent, 0.1);
    // The scramble scatters the hot keys: the ten hottest are not 0..9.
    int small_keys = 0;
    for (int r = 0; r < 10; ++r) small_keys += by_count[r].second < 10;
    EXPECT_LT(small_keys, 10);
  }
}

TEST(ZipfGeneratorTest, WithoutTheScrambleTheKeyIsTheRankMinusOne) {
  ZipfOptions options = SmallOptions();
  options.scramble_keys = false;
  options.features_per_example = 1;
  const SparseDataset dataset = Make(options);
  std::vector<int64_t> counts(3, 0);
  for (uint64_t key : dataset.keys) {
    if (key < 3) ++counts[key];
  }
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], counts[2]);
}

TEST(ZipfGeneratorTest, LabelsAreNeitherAllOneClassNorConstant) {
  for (uint64_t model_seed : {1, 2, 3, 4}) {
    ZipfOptions options = SmallOptions();
    options.model_seed = model_seed;
    const double rate = LabelRate(Make(options));
    EXPECT_GT(rate, 0.2) << "model_seed " << model_seed;
    EXPECT_LT(rate, 0.8) << "model_seed " << model_seed;
  }
  ZipfOptions defaults;
  defaults.num_examples = 2000;
  const double rate = LabelRate(Make(defaults));
  EXPECT_GT(rate, 0.2);
  EXPECT_LT(rate, 0.8);
}

// Logistic regression trained by SGD on one set (a table of key_space weights) predicts a second
// set of the same task far better than the mean label does.
TEST(ZipfGeneratorTest, LogisticRegressionLearnsTheHiddenModel) {
  ZipfOptions options;
  options.num_examples = 20000;
  options.key_space = 10000;
  const SparseDataset train = Make(options);
  options.seed = 2;
  options.num_examples = 5000;
  const SparseDataset test = Make(options);

  std::vector<double> weights(options.key_space, 0.0);
  double bias = 0;
  const auto logit = [&](const SparseDataset& dataset, int64_t i) {
    double sum = bias;
    for (size_t j = dataset.offsets[i]; j < dataset.offsets[i + 1]; ++j) {
      sum += weights[dataset.keys[j]] * dataset.values[j];
    }
    return sum;
  };
  for (int epoch = 0; epoch < 3; ++epoch) {
    for (int64_t i = 0; i < train.num_examples(); ++i) {
      const double gradient = 1.0 / (1.0 + std::exp(-logit(train, i))) - train.labels[i];
      for (size_t j = train.offsets[i]; j < train.offsets[i + 1]; ++j) {
        weights[train.keys[j]] -= 0.1 * gradient * train.values[j];
      }
      bias -= 0.1 * gradient;
    }
  }
  const double rate = LabelRate(train);
  double model_loss = 0, baseline_loss = 0;
  for (int64_t i = 0; i < test.num_examples(); ++i) {
    const double p = std::clamp(1.0 / (1.0 + std::exp(-logit(test, i))), 1e-6, 1 - 1e-6);
    const double y = test.labels[i];
    model_loss -= y * std::log(p) + (1 - y) * std::log(1 - p);
    baseline_loss -= y * std::log(rate) + (1 - y) * std::log(1 - rate);
  }
  model_loss /= test.num_examples();
  baseline_loss /= test.num_examples();
  std::printf("held-out log loss: logistic regression %.4f, mean label %.4f\n", model_loss,
              baseline_loss);
  EXPECT_LT(model_loss, 0.85 * baseline_loss);
}

TEST(ZipfGeneratorTest, AllKeysOfATinyKeySpaceFitInOneExample) {
  ZipfOptions options;
  options.num_examples = 10;
  options.key_space = 5;
  options.features_per_example = 5;
  const SparseDataset dataset = Make(options);
  for (int64_t i = 0; i < dataset.num_examples(); ++i) {
    EXPECT_EQ(std::vector<uint64_t>(dataset.keys.begin() + dataset.offsets[i],
                                    dataset.keys.begin() + dataset.offsets[i + 1]),
              (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  }
}

TEST(ZipfGeneratorTest, InvalidOptionsAreRejected) {
  const auto code = [](const std::function<void(ZipfOptions&)>& change) {
    ZipfOptions options = SmallOptions();
    change(options);
    return MakeZipfDataset(options).status().code();
  };
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code([](ZipfOptions& o) { o.num_examples = -1; }), kInvalid);
  EXPECT_EQ(code([](ZipfOptions& o) { o.key_space = 0; }), kInvalid);
  EXPECT_EQ(code([](ZipfOptions& o) { o.features_per_example = 0; }), kInvalid);
  EXPECT_EQ(code([](ZipfOptions& o) { o.key_space = 10, o.features_per_example = 11; }), kInvalid);
  EXPECT_EQ(code([](ZipfOptions& o) { o.zipf_exponent = 0; }), kInvalid);
  EXPECT_EQ(code([](ZipfOptions& o) { o.zipf_exponent = NAN; }), kInvalid);
  EXPECT_EQ(code([](ZipfOptions& o) { o.weight_stddev = -1; }), kInvalid);
  // So steep that the 50th distinct key is practically never drawn.
  ZipfOptions steep_options = SmallOptions();
  steep_options.zipf_exponent = 12;
  steep_options.features_per_example = 50;
  const absl::Status steep = MakeZipfDataset(steep_options).status();
  EXPECT_EQ(steep.code(), kInvalid);
  EXPECT_NE(steep.message().find("too steep"), std::string::npos) << steep;
  EXPECT_EQ(code([](ZipfOptions& o) { o.num_examples = 0; }), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace ps
