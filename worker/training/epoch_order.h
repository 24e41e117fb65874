// The order a worker visits its partition in: reshuffled every epoch from a seed, cut into
// batches. Shared by every training task so all models shuffle and batch the same way.
#ifndef PS_WORKER_TRAINING_EPOCH_ORDER_H_
#define PS_WORKER_TRAINING_EPOCH_ORDER_H_

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "absl/types/span.h"

namespace ps {

class EpochOrder {
 public:
  EpochOrder(int64_t num_examples, uint64_t seed) : seed_(seed), order_(num_examples) {
    std::iota(order_.begin(), order_.end(), 0);
  }

  // Reshuffles for epoch `epoch` (0-based); the same seed and epoch give the same order.
  void Shuffle(int epoch) {
    std::mt19937_64 generator(seed_ * 1000003 + epoch);
    std::shuffle(order_.begin(), order_.end(), generator);
  }

  // Where batch `step` starts in order(). Steps past the end of a short partition wrap around
  // (partitions differ by one example and every worker takes the same number of steps).
  // REQUIRES: 0 < batch_size <= order().size().
  int64_t BatchStart(int64_t step, int batch_size) const {
    return step * batch_size % (static_cast<int64_t>(order_.size()) - batch_size + 1);
  }

  absl::Span<const int64_t> order() const { return order_; }

 private:
  const uint64_t seed_;
  std::vector<int64_t> order_;
};

}  // namespace ps

#endif  // PS_WORKER_TRAINING_EPOCH_ORDER_H_
