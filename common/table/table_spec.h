// Validation of table specs: the coordinator applies it to every CreateTable, and standalone
// training to its in-process table, so both refuse the same specs. Pure function; safe for
// concurrent use.
#ifndef PS_COMMON_TABLE_TABLE_SPEC_H_
#define PS_COMMON_TABLE_TABLE_SPEC_H_

#include "absl/status/status.h"
#include "proto/types.pb.h"

namespace ps {

// Largest dense table: 2^32 floats (16 GiB) keeps offsets in range of every shard's index type.
inline constexpr uint64_t kMaxDenseSize = uint64_t{1} << 32;
inline constexpr uint32_t kMaxSparseDim = 1 << 16;

// OK when `spec` names a usable table; otherwise InvalidArgument naming the first bad field.
absl::Status ValidateTableSpec(const v1::TableSpec& spec);

}  // namespace ps

#endif  // PS_COMMON_TABLE_TABLE_SPEC_H_
