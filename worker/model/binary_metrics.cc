#include "worker/model/binary_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ps {

double LogLoss(absl::Span<const float> probabilities, absl::Span<const float> labels) {
  if (labels.empty()) return 0;
  constexpr double kClamp = 1e-7;
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double p = std::clamp<double>(probabilities[i], kClamp, 1 - kClamp);
    sum -= labels[i] > 0.5f ? std::log(p) : std::log(1 - p);
  }
  return sum / labels.size();
}

double Auc(absl::Span<const float> scores, absl::Span<const float> labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney: the rank sum of the positives, tied scores sharing their average rank.
  double positive_rank_sum = 0;
  double positives = 0;
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin;
    while (end < order.size() && scores[order[end]] == scores[order[begin]]) ++end;
    const double average_rank = (begin + 1 + end) / 2.0;  // Ranks begin+1 .. end.
    for (size_t i = begin; i < end; ++i) {
      if (labels[order[i]] > 0.5f) {
        positive_rank_sum += average_rank;
        positives += 1;
      }
    }
    begin = end;
  }
  const double negatives = static_cast<double>(order.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

}  // namespace ps
