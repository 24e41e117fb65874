// The pulls a server holds back until their shards reach the reader's clock (BSP and SSP),
// indexed by shard: a push wakes only the pulls parked on the shards it touched, so its cost does
// not grow with pulls parked elsewhere. A pull parked on several shards is indexed under each.
// Not thread-safe: the owner serialises calls (DataPlaneService holds its own mutex, so that
// "not readable, so park" is one step against concurrent pushes).
#ifndef PS_SERVER_PARKED_PULLS_H_
#define PS_SERVER_PARKED_PULLS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"

namespace ps {

class TableShard;

// What ParkedPulls needs of a pull.
class ParkedPull {
 public:
  virtual ~ParkedPull() = default;
  // The shards the pull reads; fixed while it is parked.
  virtual std::vector<const TableShard*> shards() const = 0;
  // Whether every shard can answer it now.
  virtual bool Readable() const = 0;
  // Who sent it (the connection's peer), for the per-client cap; empty: anonymous.
  virtual std::string client() const { return {}; }
};

class ParkedPulls {
 public:
  // REQUIRES: `pull` is not parked.
  void Park(ParkedPull* pull);
  // Unparks `pull`; false if it was not parked (being answered already, or never parked).
  bool Remove(ParkedPull* pull);
  // Unparks and returns the pulls parked on `touched` shards that are readable now. Pulls parked
  // on other shards are not examined.
  std::vector<ParkedPull*> TakeReady(absl::Span<const TableShard* const> touched);
  // Unparks and returns every pull for which `take` is true (map changes: all pulls may be
  // affected).
  std::vector<ParkedPull*> TakeIf(const std::function<bool(const ParkedPull&)>& take);
  std::vector<ParkedPull*> TakeAll();

  size_t size() const { return parked_.size(); }
  // How many of them `client` sent.
  size_t ParkedBy(const std::string& client) const;

 private:
  void Unindex(ParkedPull* pull);

  absl::flat_hash_set<ParkedPull*> parked_;
  absl::flat_hash_map<std::string, size_t> by_client_;
  absl::flat_hash_map<const TableShard*, absl::flat_hash_set<ParkedPull*>> by_shard_;
};

}  // namespace ps

#endif  // PS_SERVER_PARKED_PULLS_H_
