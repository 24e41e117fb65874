// The known increments the exact-sum test's workers push, shared by the worker processes and the
// test that checks the servers' final values against their exact sum.
#ifndef PS_TESTS_INTEGRATION_INCREMENTS_H_
#define PS_TESTS_INTEGRATION_INCREMENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/types.pb.h"

namespace ps::testing {

inline constexpr uint64_t kDenseSize = 1000;
inline constexpr uint32_t kSparseDim = 4;

// What worker `rank` adds to dense element `index` at `clock` (it pushes the negation, with SGD
// at learning rate 1). Small integers, so every sum and BSP average is exact in float32.
inline float DenseIncrement(uint32_t rank, uint64_t clock, uint64_t index) {
  return static_cast<float>((rank + 1) * (clock + 1) * (index % 7 + 1));
}

// The keys worker `rank` touches: 50 keys every worker shares and 10 of its own.
inline std::vector<uint64_t> SparseKeys(uint32_t rank) {
  std::vector<uint64_t> keys;
  for (uint64_t key = 0; key < 50; ++key) keys.push_back(key * 7919);
  for (uint64_t i = 0; i < 10; ++i) keys.push_back(1000000 * (rank + 1) + i);
  return keys;
}

inline float SparseIncrement(uint32_t rank, uint64_t clock, uint64_t key, uint32_t column) {
  return static_cast<float>((rank + 1) * (clock + 1) * (key % 3 + column + 1));
}

// A table the increment workers push to: SGD at learning rate 1 from zeros, so its values are
// the exact sums (or BSP averages) of the increments.
inline v1::TableSpec IncrementTableSpec(const std::string& name, v1::TableKind kind,
                                        v1::ConsistencySpec::Model model) {
  v1::TableSpec spec;
  spec.set_name(name);
  spec.set_kind(kind);
  if (kind == v1::TABLE_KIND_DENSE) spec.set_dense_size(kDenseSize);
  if (kind == v1::TABLE_KIND_SPARSE) spec.set_sparse_dim(kSparseDim);
  spec.mutable_optimizer()->set_kind(v1::OptimizerSpec::KIND_SGD);
  spec.mutable_optimizer()->set_learning_rate(1.0f);
  spec.mutable_consistency()->set_model(model);
  spec.mutable_consistency()->set_staleness(model == v1::ConsistencySpec::MODEL_SSP ? 2 : 0);
  spec.mutable_initializer()->set_kind(v1::InitializerSpec::KIND_ZEROS);
  return spec;
}

}  // namespace ps::testing

#endif  // PS_TESTS_INTEGRATION_INCREMENTS_H_
