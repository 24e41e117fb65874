#include "tools/psctl/status_summary.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/psctl/cluster_facts.h"

namespace ps::psctl {
namespace {

// Shard lists are cut short: with thousands of shards the line would drown the summary.
constexpr size_t kShardsListed = 8;

std::string ShardList(const std::vector<uint32_t>& ids) {
  if (ids.empty()) return "";
  std::vector<uint32_t> shown(ids.begin(), ids.begin() + std::min(ids.size(), kShardsListed));
  return absl::StrCat(" (", ids.size() == 1 ? "shard " : "shards ", absl::StrJoin(shown, ", "),
                      ids.size() > shown.size() ? ", ..." : "", ")");
}

std::string Plural(size_t count, const char* noun) {
  return absl::StrCat(count, " ", noun, count == 1 ? "" : "s");
}

std::string MembersLine(const v1::ClusterStatus& status) {
  size_t alive[2] = {0, 0}, dead[2] = {0, 0}, draining = 0;
  for (const v1::MemberHealth& member : status.members()) {
    const int worker = member.member().role() == v1::MemberRef::ROLE_WORKER;
    const std::string state = MemberStateName(status.map(), member);
    ++(state == "dead" ? dead : alive)[worker];
    draining += state == "draining";
  }
  return absl::StrCat("members: ", Plural(alive[0], "server"), " alive",
                      draining == 0 ? "" : absl::StrCat(" (", draining, " draining)"), ", ",
                      dead[0], " dead; ", Plural(alive[1], "worker"), " alive, ", dead[1],
                      " dead\n");
}

std::string ShardsLine(const v1::ClusterStatus& status) {
  const v1::ClusterMap& map = status.map();
  if (map.shards().empty()) {
    return absl::StrCat("shards: not placed yet: waiting for ", status.min_servers(),
                        " servers to register\n");
  }
  size_t healthy = 0, learners = 0;
  std::vector<uint32_t> under, without_primary;
  for (const v1::ShardAssignment& shard : map.shards()) {
    learners += shard.learners_size();
    switch (HealthOf(shard, map.replication_factor())) {
      case ShardHealth::kHealthy:
        ++healthy;
        break;
      case ShardHealth::kUnderReplicated:
        under.push_back(shard.shard_id());
        break;
      case ShardHealth::kWithoutPrimary:
        without_primary.push_back(shard.shard_id());
        break;
    }
  }
  return absl::StrCat(
      "shards: ", map.shards_size(), " x ", map.replication_factor(), " replicas: ", healthy,
      " healthy, ", under.size(), " under-replicated", ShardList(under), ", ",
      without_primary.size(), " without primary", ShardList(without_primary),
      learners == 0 ? "" : absl::StrCat("; ", Plural(learners, "learner"), " copying a snapshot"),
      "\n");
}

std::string TablesLine(const v1::ClusterMap& map) {
  std::vector<std::string> names;
  for (const v1::TableInfo& table : map.tables()) names.push_back(table.spec().name());
  return absl::StrCat("tables: ", names.size(),
                      names.empty() ? "" : absl::StrCat(" (", absl::StrJoin(names, ", "), ")"),
                      "\n");
}

std::string MovesLines(const v1::ClusterStatus& status) {
  if (status.moves().empty()) return "moves: none\n";
  std::string out = absl::StrCat("moves: ", status.moves_size(), " in flight (at most ",
                                 status.max_concurrent_moves(), " at once)\n");
  for (const v1::ShardMove& move : status.moves()) {
    absl::StrAppend(&out, "  shard ", move.shard_id(), ": server ", move.from_server(),
                    " -> server ", move.to_server(), " (", move.reason(),
                    move.lead() ? ", takes over as primary" : "", ")\n");
  }
  return out;
}

std::string CheckpointLines(const v1::CheckpointStatus& checkpoints, absl::Time now) {
  if (checkpoints.directory().empty()) {
    return "checkpoints: off (ps_coordinator --checkpoint_dir)\n";
  }
  std::string out = absl::StrCat("checkpoints: in ", checkpoints.directory(), ", newest complete ");
  if (checkpoints.last_complete_id() == 0) {
    absl::StrAppend(&out, "none");
  } else {
    const absl::Duration age = now - absl::FromUnixMillis(checkpoints.last_complete_unix_ms());
    absl::StrAppend(&out, checkpoints.last_complete_id(), " (",
                    absl::ToInt64Seconds(std::max(age, absl::ZeroDuration())), " s ago)");
  }
  if (checkpoints.restored_from_id() != 0) {
    absl::StrAppend(&out, "; restored from ", checkpoints.restored_from_id());
  }
  absl::StrAppend(&out, "\n");
  if (!checkpoints.last_error().empty()) {
    absl::StrAppend(&out, "  LAST CHECKPOINT FAILED: ", checkpoints.last_error(), "\n");
  }
  return out;
}

std::string StragglerLines(const v1::ClusterStatus& status) {
  std::string lines;
  size_t count = 0;
  for (const v1::MemberHealth& member : status.members()) {
    if (!HasProgress(member) || member.progress().straggler().empty()) continue;
    const v1::WorkerInfo* worker = FindWorkerInfo(status.map(), member.member().id());
    ++count;
    absl::StrAppend(&lines, "  worker ", member.member().id(),
                    worker == nullptr ? "" : absl::StrCat(" (rank ", worker->rank(), ")"), ": ",
                    member.progress().straggler(), "\n");
  }
  return count == 0 ? "stragglers: none\n" : absl::StrCat("stragglers: ", count, "\n", lines);
}

}  // namespace

std::string StatusSummary(const v1::ClusterStatus& status, absl::Time now) {
  const v1::ClusterMap& map = status.map();
  return absl::StrCat("map epoch ", map.epoch(), " (membership version ", map.membership_version(),
                      ", catalog version ", map.catalog_version(), "); heartbeat every ",
                      status.heartbeat_interval_ms(), " ms, failure timeout ",
                      status.failure_timeout_ms(), " ms\n", MembersLine(status), ShardsLine(status),
                      TablesLine(map), MovesLines(status),
                      CheckpointLines(status.checkpoints(), now), StragglerLines(status));
}

}  // namespace ps::psctl
