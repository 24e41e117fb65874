// Process-wide logging setup. Every daemon calls InitLogging() once, first thing in main();
// library code only logs through spdlog's default logger and never configures it.
#ifndef PS_COMMON_LOGGING_H_
#define PS_COMMON_LOGGING_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace ps {

// Installs a stderr logger named `process_name` at `level` (trace, debug, info, warn, error,
// critical, off) with a pattern carrying time, level, process name and pid.
// Returns InvalidArgument for an unknown level. Not thread-safe: call before starting threads.
absl::Status InitLogging(absl::string_view process_name, absl::string_view level);

// Renames the process in every later log line, e.g. "server" to "server-3" once the coordinator
// gave the server its id, so that lines of several members' logs merged together say whose they
// are. Safe while other threads log (the previous logger is kept alive).
void NameLoggedMember(absl::string_view name);

}  // namespace ps

#endif  // PS_COMMON_LOGGING_H_
