// Initial values of table elements. Each element's value depends only on the spec (seed
// included) and the element's identity, never on creation order, so every replica and every
// restart creates bitwise the same rows. Immutable; thread-safe.
#ifndef PS_COMMON_TABLE_INITIALIZER_H_
#define PS_COMMON_TABLE_INITIALIZER_H_

#include <cstdint>

#include "absl/types/span.h"
#include "proto/types.pb.h"

namespace ps {

class Initializer {
 public:
  // An unspecified kind initialises to zeros.
  explicit Initializer(const v1::InitializerSpec& spec) : spec_(spec) {}

  // Dense tables: `values` receives the initial values of elements first, first + 1, ...
  void FillDense(uint64_t first, absl::Span<float> values) const;

  // Sparse tables: `row` receives the initial row of `key`.
  void FillRow(uint64_t key, absl::Span<float> row) const;

 private:
  // Fills `values` from the random stream `stream`, element i using position offset + i.
  void Fill(uint64_t stream, uint64_t offset, absl::Span<float> values) const;

  const v1::InitializerSpec spec_;
};

}  // namespace ps

#endif  // PS_COMMON_TABLE_INITIALIZER_H_
