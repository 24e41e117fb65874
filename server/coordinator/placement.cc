#include "server/coordinator/placement.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ps {

absl::StatusOr<ReplicaChains> PlaceShards(uint32_t num_shards, uint32_t replication_factor,
                                          const std::vector<uint32_t>& servers) {
  if (replication_factor == 0) {
    return absl::InvalidArgumentError("the replication factor must be at least 1");
  }
  if (replication_factor > servers.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot place ", replication_factor, " replicas on distinct servers with only ",
                     servers.size(), " servers"));
  }
  if (std::set<uint32_t>(servers.begin(), servers.end()).size() != servers.size()) {
    return absl::InvalidArgumentError("server ids must be distinct");
  }
  std::map<uint32_t, int> primaries;   // server -> shards it leads
  std::map<uint32_t, int> replicas;    // server -> replicas it holds
  std::map<std::pair<uint32_t, uint32_t>, int> backs;  // (primary, backup) -> shards
  for (uint32_t server : servers) {
    primaries[server] = 0;
    replicas[server] = 0;
  }
  // Greedy with deterministic tie-breaks keeps both counts within one of each other: each new
  // replica goes to a least-loaded server, so no server gets ahead by two.
  ReplicaChains chains(num_shards);
  for (uint32_t shard = 0; shard < num_shards; ++shard) {
    std::vector<uint32_t>& chain = chains[shard];
    const uint32_t primary = *std::min_element(
        servers.begin(), servers.end(), [&](uint32_t a, uint32_t b) {
          return std::make_tuple(primaries[a], replicas[a], a) <
                 std::make_tuple(primaries[b], replicas[b], b);
        });
    chain.push_back(primary);
    ++primaries[primary];
    ++replicas[primary];
    while (chain.size() < replication_factor) {
      uint32_t best = 0;
      bool found = false;
      for (uint32_t candidate : servers) {
        if (std::find(chain.begin(), chain.end(), candidate) != chain.end()) continue;
        if (!found || std::make_tuple(replicas[candidate], backs[{primary, candidate}], candidate) <
                          std::make_tuple(replicas[best], backs[{primary, best}], best)) {
          best = candidate;
          found = true;
        }
      }
      chain.push_back(best);
      ++replicas[best];
      ++backs[{primary, best}];
    }
  }
  return chains;
}

int RemoveServer(uint32_t dead_server, ReplicaChains& chains) {
  int removed = 0;
  for (std::vector<uint32_t>& chain : chains) {
    const auto it = std::find(chain.begin(), chain.end(), dead_server);
    if (it == chain.end()) continue;
    chain.erase(it);
    ++removed;
  }
  return removed;
}

std::vector<LearnerChoice> AddLearners(uint32_t replication_factor,
                                       const std::vector<uint32_t>& servers,
                                       const ReplicaChains& chains, LearnerLists& learners,
                                       const LearnerLists* avoid) {
  std::map<uint32_t, int> primaries;  // server -> shards it leads
  std::map<uint32_t, int> load;       // server -> replicas plus learners it holds
  for (uint32_t server : servers) {
    primaries[server] = 0;
    load[server] = 0;
  }
  for (size_t shard = 0; shard < chains.size(); ++shard) {
    if (!chains[shard].empty()) ++primaries[chains[shard][0]];
    for (uint32_t server : chains[shard]) ++load[server];
    for (uint32_t server : learners[shard]) ++load[server];
  }
  std::vector<LearnerChoice> choices;
  for (size_t shard = 0; shard < chains.size(); ++shard) {
    const std::vector<uint32_t>& chain = chains[shard];
    std::vector<uint32_t>& shard_learners = learners[shard];
    if (chain.empty()) continue;
    const auto holds = [&](uint32_t server) {
      return std::find(chain.begin(), chain.end(), server) != chain.end() ||
             std::find(shard_learners.begin(), shard_learners.end(), server) !=
                 shard_learners.end();
    };
    while (chain.size() + shard_learners.size() < replication_factor) {
      uint32_t best = 0;
      bool found = false;
      const auto avoided = [&](uint32_t server) {
        if (avoid == nullptr || shard >= avoid->size()) return false;
        const std::vector<uint32_t>& list = (*avoid)[shard];
        return std::find(list.begin(), list.end(), server) != list.end();
      };
      for (uint32_t candidate : servers) {
        if (holds(candidate)) continue;
        if (!found ||
            std::make_tuple(avoided(candidate), load[candidate], primaries[candidate], candidate) <
                std::make_tuple(avoided(best), load[best], primaries[best], best)) {
          best = candidate;
          found = true;
        }
      }
      if (!found) break;  // Every live server already holds the shard.
      shard_learners.push_back(best);
      ++load[best];
      choices.push_back({static_cast<uint32_t>(shard), best, chain.size()});
    }
  }
  return choices;
}

}  // namespace ps
