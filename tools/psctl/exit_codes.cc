#include "tools/psctl/exit_codes.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tools/psctl/coordinator_client.h"

namespace ps::psctl {

int CoordinatorError(const std::string& addresses, absl::string_view what,
                     const absl::Status& status) {
  if (IsUnreachable(status)) {
    return Fail(kExitUsage, absl::StrCat("cannot reach the coordinator at ", addresses, ": ",
                                         status.message()));
  }
  return Fail(kExitFailed, absl::StrCat(what, " failed: ", status.message()));
}

int Fail(int exit_code, absl::string_view message) {
  std::fprintf(stderr, "psctl: %.*s\n", static_cast<int>(message.size()), message.data());
  return exit_code;
}

}  // namespace ps::psctl
