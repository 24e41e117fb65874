// Generates a sparse binary-classification dataset shaped like click logs: each example holds a
// few keys drawn from a Zipf distribution over a large key space (a few hot keys in nearly every
// example, a long tail seen rarely), and its label comes from a hidden logistic model over those
// keys, so logistic regression can learn it and clearly beat predicting the mean label.
// Labelled as generated: the description starts with "SYNTHETIC". Pure function; thread-safe.
//
// The task (hidden weights, bias and which key has which popularity) is drawn from `model_seed`;
// the examples from `seed`. A train and a test set of one task share `model_seed` and differ in
// `seed`. The output is a function of the options alone, identical on every platform.
#ifndef PS_WORKER_DATA_ZIPF_GENERATOR_H_
#define PS_WORKER_DATA_ZIPF_GENERATOR_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace ps {

struct ZipfOptions {
  int64_t num_examples = 100000;
  // Keys are in [0, key_space).
  uint64_t key_space = 1000000;
  // Distinct keys per example, each with value 1.0.
  int features_per_example = 20;
  // The popularity of the key of rank r (1 = most popular) is proportional to r^-zipf_exponent.
  double zipf_exponent = 1.1;
  // Draws the examples: their keys and their labels.
  uint64_t seed = 1;
  // Draws the task: the hidden weights and the rank-to-key scramble.
  uint64_t model_seed = 1;
  // Standard deviation of each key's hidden weight (normal, mean 0). Larger is a more
  // predictable, less noisy task.
  double weight_stddev = 1.0;
  // Maps popularity ranks to keys through a seeded bijection of [0, key_space), so the hot keys
  // are scattered over the key space (and over the servers' shards) as real ids are, rather than
  // being 0, 1, 2, ... When false, the key of rank r is r - 1.
  bool scramble_keys = true;
};

// The dataset: num_examples examples of features_per_example distinct keys each, in ascending
// key order within an example (the Zipf draws are repeated until they are distinct, which
// flattens the top ranks' frequencies: the hottest key appears at most once per example).
// label ~ Bernoulli(sigmoid(sum of the keys' hidden weights + bias)), where the hidden bias
// centres the logits so that labels are roughly balanced. key_space as given.
//
// Keys are sampled by rejection-inversion (Hoermann and Derflinger 1996): O(1) memory and about
// one uniform draw per key for any key_space, where a precomputed CDF would need 8 bytes per key.
//
// InvalidArgument unless num_examples >= 0, key_space >= 1, 1 <= features_per_example <=
// key_space, zipf_exponent > 0 and weight_stddev >= 0 (both finite); also when the exponent is so
// steep that features_per_example distinct keys cannot be drawn in reasonable time.
absl::StatusOr<SparseDataset> MakeZipfDataset(const ZipfOptions& options);

}  // namespace ps

#endif  // PS_WORKER_DATA_ZIPF_GENERATOR_H_
