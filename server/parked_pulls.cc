#include "server/parked_pulls.h"

namespace ps {

void ParkedPulls::Park(ParkedPull* pull) {
  parked_.insert(pull);
  ++by_client_[pull->client()];
  for (const TableShard* shard : pull->shards()) by_shard_[shard].insert(pull);
}

size_t ParkedPulls::ParkedBy(const std::string& client) const {
  const auto found = by_client_.find(client);
  return found == by_client_.end() ? 0 : found->second;
}

void ParkedPulls::Unindex(ParkedPull* pull) {
  if (const auto found = by_client_.find(pull->client());
      found != by_client_.end() && --found->second == 0) {
    by_client_.erase(found);
  }
  for (const TableShard* shard : pull->shards()) {
    const auto it = by_shard_.find(shard);
    if (it == by_shard_.end()) continue;
    it->second.erase(pull);
    if (it->second.empty()) by_shard_.erase(it);
  }
}

bool ParkedPulls::Remove(ParkedPull* pull) {
  if (parked_.erase(pull) == 0) return false;
  Unindex(pull);
  return true;
}

std::vector<ParkedPull*> ParkedPulls::TakeReady(absl::Span<const TableShard* const> touched) {
  // Candidates first: unparking while iterating a shard's set would invalidate the iteration.
  absl::flat_hash_set<ParkedPull*> candidates;
  for (const TableShard* shard : touched) {
    const auto it = by_shard_.find(shard);
    if (it != by_shard_.end()) candidates.insert(it->second.begin(), it->second.end());
  }
  std::vector<ParkedPull*> ready;
  for (ParkedPull* pull : candidates) {
    if (pull->Readable()) ready.push_back(pull);
  }
  for (ParkedPull* pull : ready) Remove(pull);
  return ready;
}

std::vector<ParkedPull*> ParkedPulls::TakeIf(const std::function<bool(const ParkedPull&)>& take) {
  std::vector<ParkedPull*> taken;
  for (ParkedPull* pull : parked_) {
    if (take(*pull)) taken.push_back(pull);
  }
  for (ParkedPull* pull : taken) Remove(pull);
  return taken;
}

std::vector<ParkedPull*> ParkedPulls::TakeAll() {
  std::vector<ParkedPull*> all(parked_.begin(), parked_.end());
  parked_.clear();
  by_shard_.clear();
  by_client_.clear();
  return all;
}

}  // namespace ps
