// The coordinator's live status page (served on / by status_http.h): one self-contained HTML
// document whose script polls /api/status.
#ifndef PS_SERVER_COORDINATOR_STATUS_PAGE_H_
#define PS_SERVER_COORDINATOR_STATUS_PAGE_H_

#include "absl/strings/string_view.h"

namespace ps {

absl::string_view StatusPageHtml();

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_STATUS_PAGE_H_
