// The coordinator's live status page (served on / by status_http.h): one self-contained HTML
// document whose script polls /api/status?curves=1 and redraws the cluster's members, shard map,
// tables, worker progress and training curves. The page is server/coordinator/status_page.html,
// compiled in by a genrule (tools/embed_text.sh), so the binary needs no file at run time.
#ifndef PS_SERVER_COORDINATOR_STATUS_PAGE_H_
#define PS_SERVER_COORDINATOR_STATUS_PAGE_H_

#include "absl/strings/string_view.h"

namespace ps {

// The bytes of status_page.html, exactly. Points into static storage; safe to call from any
// thread.
absl::string_view StatusPageHtml();

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_STATUS_PAGE_H_
