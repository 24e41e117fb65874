#include "server/coordinator/rebalance.h"

#include <algorithm>
#include <optional>
#include <tuple>

namespace ps {
namespace {

bool Contains(const std::vector<uint32_t>& list, uint32_t server) {
  return std::find(list.begin(), list.end(), server) != list.end();
}

// Replicas and primaries per server as they will be once the moves planned so far are done.
class Loads {
 public:
  Loads(const ReplicaChains& chains, const LearnerLists& learners) {
    for (size_t shard = 0; shard < chains.size(); ++shard) {
      for (uint32_t server : chains[shard]) ++replicas_[server];
      for (uint32_t server : learners[shard]) ++replicas_[server];
      if (!chains[shard].empty()) ++primaries_[chains[shard][0]];
    }
  }

  // Counts a move (in flight or just planned): its learner is already counted if in flight,
  // so `learner_counted` says whether to add it.
  void Apply(const PlannedMove& move, const std::vector<uint32_t>& chain, bool learner_counted) {
    --replicas_[move.from];
    if (!learner_counted) ++replicas_[move.to];
    if (chain.empty() || chain[0] != move.from) return;
    --primaries_[move.from];
    if (move.lead || chain.size() == 1) {
      ++primaries_[move.to];
    } else {
      ++primaries_[chain[1]];
    }
  }

  int replicas(uint32_t server) const { return Get(replicas_, server); }
  int primaries(uint32_t server) const { return Get(primaries_, server); }

 private:
  static int Get(const std::map<uint32_t, int>& counts, uint32_t server) {
    const auto it = counts.find(server);
    return it == counts.end() ? 0 : it->second;
  }

  std::map<uint32_t, int> replicas_;
  std::map<uint32_t, int> primaries_;
};

}  // namespace

std::vector<PlannedMove> PlanMoves(const MovePlanInput& input, const ReplicaChains& chains,
                                   const LearnerLists& learners,
                                   const std::map<uint32_t, PlannedMove>& moving) {
  std::vector<PlannedMove> planned;
  if (chains.empty()) return planned;
  Loads loads(chains, learners);
  for (const auto& [shard, move] : moving) {
    if (shard < chains.size()) loads.Apply(move, chains[shard], /*learner_counted=*/true);
  }
  std::set<uint32_t> claimed;  // Shards with a move, in flight or planned.
  for (const auto& [shard, move] : moving) claimed.insert(shard);
  const auto room = [&] { return moving.size() + planned.size() < input.max_moves; };
  const auto movable = [&](uint32_t shard) {
    return claimed.count(shard) == 0 && chains[shard].size() >= input.replication_factor &&
           learners[shard].empty();
  };
  const auto holds = [&](uint32_t shard, uint32_t server) {
    return Contains(chains[shard], server) || Contains(learners[shard], server);
  };
  const auto plan = [&](uint32_t shard, uint32_t from, uint32_t to, bool lead, const char* why) {
    PlannedMove move{shard, from, to, lead, why};
    loads.Apply(move, chains[shard], /*learner_counted=*/false);
    claimed.insert(shard);
    planned.push_back(std::move(move));
  };

  // Drain: backups first, primaries once no backup is left or moving.
  bool drain_pending = false;
  for (uint32_t drained : input.draining) {
    std::vector<uint32_t> backups;
    std::vector<uint32_t> primaries;
    for (uint32_t shard = 0; shard < chains.size(); ++shard) {
      drain_pending |= holds(shard, drained);
      if (!Contains(chains[shard], drained)) continue;
      (chains[shard][0] == drained ? primaries : backups).push_back(shard);
    }
    bool backups_left = !backups.empty();
    for (const std::vector<uint32_t>* shards : {&backups, &primaries}) {
      if (shards == &primaries && backups_left) break;
      for (uint32_t shard : *shards) {
        if (!room()) return planned;
        if (!movable(shard)) continue;
        std::optional<uint32_t> best;
        for (uint32_t target : input.targets) {
          if (holds(shard, target)) continue;
          const auto key = [&](uint32_t s) {
            return std::make_tuple(loads.replicas(s), loads.primaries(s), s);
          };
          if (!best.has_value() || key(target) < key(*best)) best = target;
        }
        if (best.has_value()) plan(shard, drained, *best, /*lead=*/false, "drain");
      }
    }
  }
  if (drain_pending || !input.balance) return planned;

  // Balance the targets.
  while (room()) {
    std::vector<uint32_t> by_load = input.targets;
    std::sort(by_load.begin(), by_load.end(), [&](uint32_t a, uint32_t b) {
      return std::make_tuple(loads.replicas(a), loads.primaries(a), a) <
             std::make_tuple(loads.replicas(b), loads.primaries(b), b);
    });
    bool found = false;
    for (auto hi = by_load.rbegin(); hi != by_load.rend() && !found; ++hi) {
      for (auto lo = by_load.begin(); lo != by_load.end() && !found; ++lo) {
        if (loads.replicas(*hi) - loads.replicas(*lo) < 2) break;
        const bool want_lead = loads.primaries(*hi) >= loads.primaries(*lo) + 2;
        std::optional<uint32_t> preferred;
        std::optional<uint32_t> any;
        for (uint32_t shard = 0; shard < chains.size(); ++shard) {
          if (!movable(shard) || !Contains(chains[shard], *hi) || holds(shard, *lo)) continue;
          if (!any.has_value()) any = shard;
          if ((chains[shard][0] == *hi) == want_lead) {
            preferred = shard;
            break;
          }
        }
        const std::optional<uint32_t> shard = preferred.has_value() ? preferred : any;
        if (!shard.has_value()) continue;
        plan(*shard, *hi, *lo, /*lead=*/preferred.has_value() && want_lead, "rebalance");
        found = true;
      }
    }
    if (!found) break;
  }
  return planned;
}

std::vector<uint32_t> ChainAfterMove(const std::vector<uint32_t>& chain, const PlannedMove& move) {
  std::vector<uint32_t> after;
  const bool to_leads = move.lead && !chain.empty() && chain[0] == move.from;
  if (to_leads) after.push_back(move.to);
  for (uint32_t server : chain) {
    if (server != move.from && server != move.to) after.push_back(server);
  }
  if (!to_leads) after.push_back(move.to);
  return after;
}

}  // namespace ps
