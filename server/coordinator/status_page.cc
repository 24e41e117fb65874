#include "server/coordinator/status_page.h"

namespace ps {

// Replaced by the generated page (status_page.html) in the next change.
absl::string_view StatusPageHtml() {
  return "<!doctype html><title>paramserver</title><p>See <a href=\"/api/status\">/api/status</a>";
}

}  // namespace ps
