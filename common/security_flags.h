// The command-line flags every daemon and psctl share for TLS, tokens and --insecure (README
// "Security"). For main() only: library code takes a TransportSecurity.
#ifndef PS_COMMON_SECURITY_FLAGS_H_
#define PS_COMMON_SECURITY_FLAGS_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "common/transport_security.h"

namespace ps {

// Makes --help list these flags and those of common/metrics/metrics_flags.h beside the program's
// own (absl shows only flags defined in a file named after the program otherwise). Call before
// absl::ParseCommandLine.
void ShowSharedFlagsInHelp();

// The options the flags give.
SecurityOptions SecurityOptionsFromFlags();

// TransportSecurity::Create(SecurityOptionsFromFlags()).
absl::StatusOr<std::shared_ptr<TransportSecurity>> TransportSecurityFromFlags();

// What a daemon does on SIGHUP: re-reads its TLS files (TransportSecurity::Reload) and logs the
// outcome, or logs that plaintext has nothing to reload.
std::function<void()> ReloadOnHangup(std::shared_ptr<TransportSecurity> security);

}  // namespace ps

#endif  // PS_COMMON_SECURITY_FLAGS_H_
