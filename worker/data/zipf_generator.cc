#include "worker/data/zipf_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/seeded_random.h"

namespace ps {
namespace {

// Examples drawn (from model_seed) to estimate the mean logit that the hidden bias cancels.
constexpr int kBiasPilotExamples = 4096;
// Draws allowed per example before giving up on finding features_per_example distinct keys.
constexpr int kDrawsPerDistinctKey = 200;

// Samples ranks 1..n with P(k) proportional to k^-exponent by rejection-inversion
// (W. Hoermann, G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
// distributions", 1996; the formulation of Apache Commons Math's ZipfRejectionInversionSampler).
// It inverts the integral H of the continuous hat h(x) = x^-exponent and accepts the rounded
// value when the hat's mass over [k - 1/2, k + 1/2] lies under P(k); acceptance is above 90%.
class ZipfRankSampler {
 public:
  ZipfRankSampler(uint64_t n, double exponent)
      : n_(n),
        exponent_(exponent),
        h_integral_x1_(HIntegral(1.5) - 1.0),
        h_integral_n_(HIntegral(static_cast<double>(n) + 0.5)),
        squeeze_(2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0))) {}

  uint64_t Sample(SeededRandom& random) const {
    for (;;) {
      const double u = h_integral_n_ + random.NextUniform() * (h_integral_x1_ - h_integral_n_);
      const double x = HIntegralInverse(u);
      double rounded = std::floor(x + 0.5);
      rounded = std::clamp(rounded, 1.0, static_cast<double>(n_));
      const uint64_t k = std::min(static_cast<uint64_t>(rounded), n_);
      if (rounded - x <= squeeze_ || u >= HIntegral(rounded + 0.5) - H(rounded)) return k;
    }
  }

 private:
  // log1p(x) / x and expm1(x) / x, by series near 0 where the quotients lose precision.
  static double LogRatio(double x) {
    if (std::abs(x) > 1e-8) return std::log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - x * 0.25));
  }
  static double ExpRatio(double x) {
    if (std::abs(x) > 1e-8) return std::expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + x * 0.25));
  }

  double H(double x) const { return std::exp(-exponent_ * std::log(x)); }
  // (x^(1 - exponent) - 1) / (1 - exponent), continuous at exponent = 1 (log x).
  double HIntegral(double x) const {
    const double log_x = std::log(x);
    return ExpRatio((1.0 - exponent_) * log_x) * log_x;
  }
  double HIntegralInverse(double x) const {
    const double t = std::max(x * (1.0 - exponent_), -1.0);
    return std::exp(LogRatio(t) * x);
  }

  uint64_t n_;
  double exponent_;
  double h_integral_x1_;
  double h_integral_n_;
  double squeeze_;
};

// A seeded bijection of [0, size): a few invertible mixing rounds on the smallest power-of-two
// domain holding `size` (multiply by an odd constant, xor-shift, add, all modulo 2^bits), walked
// until the result lands below `size`. The domain is less than twice `size`, so a walk takes
// under two rounds on average.
class KeyScramble {
 public:
  KeyScramble(uint64_t size, uint64_t seed) : size_(size) {
    while (bits_ < 64 && (uint64_t{1} << bits_) < size) ++bits_;
    mask_ = bits_ == 64 ? ~uint64_t{0} : (uint64_t{1} << bits_) - 1;
    shift_ = std::max(1, bits_ / 2);
    for (uint64_t round = 0; round < kRounds; ++round) salts_[round] = Mix64(seed ^ Mix64(round));
  }

  uint64_t operator()(uint64_t value) const {
    do {
      for (uint64_t salt : salts_) {
        value = (value * (salt | 1)) & mask_;
        value ^= value >> shift_;
        value = (value + (salt >> 17)) & mask_;
      }
    } while (value >= size_);
    return value;
  }

 private:
  uint64_t size_;
  int bits_ = 0;
  uint64_t mask_ = 0;
  int shift_ = 1;
  static constexpr int kRounds = 3;
  uint64_t salts_[kRounds];
};

// Key `key`'s hidden weight: normal with mean 0, a pure function of the model seed and the key.
double HiddenWeight(uint64_t model_seed, uint64_t key, double stddev) {
  SeededRandom random(Mix64(model_seed ^ 0x77e16470000000ULL) ^ Mix64(key));
  return stddev * random.NextGaussian();
}

// Draws one example's distinct keys, sorted, into `keys`.
absl::Status DrawKeys(const ZipfOptions& options, const ZipfRankSampler& sampler,
                      const KeyScramble& scramble, SeededRandom& random,
                      absl::flat_hash_set<uint64_t>& seen, std::vector<uint64_t>& keys) {
  keys.clear();
  seen.clear();
  int64_t draws_left = int64_t{kDrawsPerDistinctKey} * options.features_per_example;
  while (static_cast<int>(keys.size()) < options.features_per_example) {
    if (draws_left-- == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "zipf_exponent ", options.zipf_exponent, " is too steep to draw ",
          options.features_per_example, " distinct keys per example from ", options.key_space,
          " keys; expected a smaller exponent or fewer features per example"));
    }
    const uint64_t rank = sampler.Sample(random);
    const uint64_t key = options.scramble_keys ? scramble(rank - 1) : rank - 1;
    if (seen.insert(key).second) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return absl::OkStatus();
}

absl::Status Validate(const ZipfOptions& options) {
  if (options.num_examples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_examples must be >= 0, got ", options.num_examples));
  }
  if (options.key_space < 1) return absl::InvalidArgumentError("key_space must be >= 1, got 0");
  if (options.features_per_example < 1 ||
      static_cast<uint64_t>(options.features_per_example) > options.key_space) {
    return absl::InvalidArgumentError(
        absl::StrCat("features_per_example must be in [1, key_space = ", options.key_space,
                     "], got ", options.features_per_example));
  }
  if (!(options.zipf_exponent > 0) || !std::isfinite(options.zipf_exponent)) {
    return absl::InvalidArgumentError(
        absl::StrCat("zipf_exponent must be positive and finite, got ", options.zipf_exponent));
  }
  if (!(options.weight_stddev >= 0) || !std::isfinite(options.weight_stddev)) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight_stddev must be non-negative and finite, got ", options.weight_stddev));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SparseDataset> MakeZipfDataset(const ZipfOptions& options) {
  if (absl::Status status = Validate(options); !status.ok()) return status;
  const ZipfRankSampler sampler(options.key_space, options.zipf_exponent);
  const KeyScramble scramble(options.key_space, Mix64(options.model_seed));
  absl::flat_hash_set<uint64_t> seen;
  std::vector<uint64_t> keys;
  const auto logit_without_bias = [&options](const std::vector<uint64_t>& example_keys) {
    double sum = 0;
    for (uint64_t key : example_keys) {
      sum += HiddenWeight(options.model_seed, key, options.weight_stddev);
    }
    return sum;
  };

  // The hot keys' weights shift every example's logit alike; a bias cancelling their mean keeps
  // the labels from being nearly all one class. Estimated from the task's seed alone so that a
  // train and a test set share it.
  double pilot_sum = 0;
  SeededRandom pilot_random(Mix64(options.model_seed) ^ 0xb1a5b1a5b1a5b1a5ULL);
  for (int i = 0; i < kBiasPilotExamples; ++i) {
    if (absl::Status s = DrawKeys(options, sampler, scramble, pilot_random, seen, keys); !s.ok()) {
      return s;
    }
    pilot_sum += logit_without_bias(keys);
  }
  const double bias = -pilot_sum / kBiasPilotExamples;

  SparseDataset dataset;
  dataset.key_space = options.key_space;
  const size_t total = static_cast<size_t>(options.num_examples) * options.features_per_example;
  dataset.keys.reserve(total);
  dataset.values.reserve(total);
  dataset.offsets.reserve(static_cast<size_t>(options.num_examples) + 1);
  dataset.labels.reserve(static_cast<size_t>(options.num_examples));
  dataset.offsets.push_back(0);
  SeededRandom random(Mix64(options.seed) ^ 0xe8a3b1e5e8a3b1e5ULL);
  for (int64_t i = 0; i < options.num_examples; ++i) {
    if (absl::Status s = DrawKeys(options, sampler, scramble, random, seen, keys); !s.ok()) {
      return s;
    }
    const double probability = 1.0 / (1.0 + std::exp(-(logit_without_bias(keys) + bias)));
    dataset.labels.push_back(random.NextUniform() < probability ? 1.0f : 0.0f);
    dataset.keys.insert(dataset.keys.end(), keys.begin(), keys.end());
    dataset.values.insert(dataset.values.end(), keys.size(), 1.0f);
    dataset.offsets.push_back(dataset.keys.size());
  }
  dataset.description = absl::StrCat(
      "SYNTHETIC Zipf sparse logistic: ", options.num_examples, " examples x ",
      options.features_per_example, " keys of ", options.key_space,
      " (zipf_exponent=", options.zipf_exponent, ", weight_stddev=", options.weight_stddev,
      ", seed=", options.seed, ", model_seed=", options.model_seed, ")");
  return dataset;
}

}  // namespace ps
