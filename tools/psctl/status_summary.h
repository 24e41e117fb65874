// The few lines `psctl status` opens with: the state of a whole cluster at a glance (map epoch,
// members alive and dead, shard health, tables, moves, checkpoints, stragglers). A pure function
// of the status, so tests check it exactly.
#ifndef PS_TOOLS_PSCTL_STATUS_SUMMARY_H_
#define PS_TOOLS_PSCTL_STATUS_SUMMARY_H_

#include <string>

#include "absl/time/time.h"
#include "proto/coordinator.pb.h"

namespace ps::psctl {

// One line per topic, each ending in "\n"; moves, stragglers and a failed checkpoint add
// indented lines. `now` dates the newest checkpoint ("12 s ago").
std::string StatusSummary(const v1::ClusterStatus& status, absl::Time now);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_STATUS_SUMMARY_H_
