// Table optimizers: element-wise, deterministic updates of parameter values from gradients, with
// per-element state ("slots") stored beside the values, by a server's shard or by standalone
// training in one process. The same inputs give bitwise the same outputs, so replicas applying the
// same updates stay identical.
//
// Thread-safety: an Optimizer is immutable after Create(); Apply() is safe for concurrent use on
// disjoint value ranges.
#ifndef PS_COMMON_TABLE_OPTIMIZER_H_
#define PS_COMMON_TABLE_OPTIMIZER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/types.pb.h"

namespace ps {

class Optimizer {
 public:
  // Errors: InvalidArgument for an unknown kind. The spec's ranges are checked before the table
  // is created, by the coordinator and by standalone training (common/table/table_spec.h).
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const v1::OptimizerSpec& spec);

  virtual ~Optimizer() = default;

  // Floats of state per value: SGD 0, momentum 1 (velocity), Adagrad 1 (accumulator),
  // Adam 2 (first, second moment), FTRL 2 (z, n).
  virtual int num_slots() const = 0;

  // What slot `slot` holds before the first update (the accumulators start at
  // initial_accumulator, everything else at 0).
  virtual float InitialSlotValue(int slot) const = 0;

  // Applies `gradient` to `values`. `slots` holds num_slots() arrays, each values.size() long.
  // `step` is the 1-based number of this update to these values (Adam's bias correction).
  // REQUIRES: gradient.size() == values.size(); slots.size() == num_slots(); every gradient finite.
  virtual void Apply(absl::Span<float> values, absl::Span<float* const> slots,
                     absl::Span<const float> gradient, uint64_t step) const = 0;
};

}  // namespace ps

#endif  // PS_COMMON_TABLE_OPTIMIZER_H_
