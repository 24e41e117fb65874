#include "server/shard_roles.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ps {

ShardRoles RolesOf(const v1::ClusterMap& map, uint32_t server_id) {
  ShardRoles roles;
  for (const v1::ShardAssignment& shard : map.shards()) {
    for (int i = 0; i < shard.replicas_size(); ++i) {
      if (shard.replicas(i) != server_id) continue;
      (i == 0 ? roles.primary : roles.backup).push_back(shard.shard_id());
    }
    for (uint32_t learner : shard.learners()) {
      if (learner == server_id) roles.learner.push_back(shard.shard_id());
    }
  }
  return roles;
}

std::string DescribeRoles(const ShardRoles& roles) {
  return absl::StrCat("primary for [", absl::StrJoin(roles.primary, ", "), "], backup for [",
                      absl::StrJoin(roles.backup, ", "), "]",
                      roles.learner.empty()
                          ? ""
                          : absl::StrCat(", learner for [", absl::StrJoin(roles.learner, ", "), "]"));
}

}  // namespace ps
