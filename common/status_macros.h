// Early-return helpers for absl::Status and absl::StatusOr, so a sequence of fallible steps reads
// as a sequence.
#ifndef PS_COMMON_STATUS_MACROS_H_
#define PS_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status of `expr` from the enclosing function when it is not OK.
#define PS_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    const absl::Status ps_status_ = (expr);       \
    if (!ps_status_.ok()) return ps_status_;      \
  } while (false)

#define PS_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define PS_STATUS_MACROS_CONCAT(a, b) PS_STATUS_MACROS_CONCAT_INNER(a, b)

// `lhs = *rexpr` when the StatusOr `rexpr` is OK; otherwise returns its status. `lhs` may be a
// declaration ("auto x").
#define PS_ASSIGN_OR_RETURN(lhs, rexpr) \
  PS_ASSIGN_OR_RETURN_IMPL(PS_STATUS_MACROS_CONCAT(ps_statusor_, __LINE__), lhs, rexpr)
#define PS_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                             \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(*statusor)

#endif  // PS_COMMON_STATUS_MACROS_H_
