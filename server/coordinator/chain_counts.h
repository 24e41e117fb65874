// Test helper: replicas and primaries per server in a set of replica chains, for the placement
// and rebalancing tests.
#ifndef PS_SERVER_COORDINATOR_CHAIN_COUNTS_H_
#define PS_SERVER_COORDINATOR_CHAIN_COUNTS_H_

#include <cstdint>
#include <map>

#include "server/coordinator/placement.h"

namespace ps {

struct ChainCounts {
  std::map<uint32_t, int> primaries;
  std::map<uint32_t, int> replicas;
};

inline ChainCounts CountChains(const ReplicaChains& chains) {
  ChainCounts counts;
  for (const auto& chain : chains) {
    if (chain.empty()) continue;
    ++counts.primaries[chain[0]];
    for (uint32_t server : chain) ++counts.replicas[server];
  }
  return counts;
}

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_CHAIN_COUNTS_H_
