// Which virtual shards a server leads and which it backs up, according to a cluster map.
// Pure functions; safe for concurrent use.
#ifndef PS_SERVER_SHARD_ROLES_H_
#define PS_SERVER_SHARD_ROLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/types.pb.h"

namespace ps {

struct ShardRoles {
  // Shard ids, ascending.
  std::vector<uint32_t> primary;
  std::vector<uint32_t> backup;
  std::vector<uint32_t> learner;

  bool operator==(const ShardRoles& other) const {
    return primary == other.primary && backup == other.backup && learner == other.learner;
  }
};

ShardRoles RolesOf(const v1::ClusterMap& map, uint32_t server_id);

// "primary for [0, 3], backup for [1]" for logs.
std::string DescribeRoles(const ShardRoles& roles);

}  // namespace ps

#endif  // PS_SERVER_SHARD_ROLES_H_
