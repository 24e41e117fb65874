// How psctl ends: its exit codes, and the one-line errors that go with them, so that every
// command words the same failure the same way.
#ifndef PS_TOOLS_PSCTL_EXIT_CODES_H_
#define PS_TOOLS_PSCTL_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ps::psctl {

// The command did what was asked.
inline constexpr int kExitOk = 0;
// The command ran but failed (a checkpoint failed, a drain did not finish, a file is unreadable).
inline constexpr int kExitFailed = 1;
// psctl was used wrongly, or the coordinator could not be reached: nothing was done.
inline constexpr int kExitUsage = 2;

// Prints "psctl: cannot reach the coordinator at ADDRESSES: REASON" to stderr and returns
// kExitUsage when `status` says the coordinator was not reached (IsUnreachable); otherwise
// "psctl: WHAT failed: REASON" and kExitFailed.
int CoordinatorError(const std::string& addresses, absl::string_view what,
                     const absl::Status& status);

// Prints "psctl: MESSAGE" to stderr and returns `exit_code`.
int Fail(int exit_code, absl::string_view message);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_EXIT_CODES_H_
