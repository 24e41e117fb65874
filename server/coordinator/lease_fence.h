// When a lease holder may still act on its lease: the arithmetic of self-fencing.
//
// etcd starts a renewal's TTL when it handles the renewal, which is after the holder sent it;
// so, measured on the holder's clock, the lease lives at least until
// (request time of the last renewal answered with TTL > 0) + TTL. The holder acts only until
// TTL - TTL/3 after that request: the margin covers clock-rate differences and the ~0.5 s etcd
// takes to notice expiry works the other way (later), never earlier.
//
// A value type; not thread-safe (LeaderElection guards it).
#ifndef PS_SERVER_COORDINATOR_LEASE_FENCE_H_
#define PS_SERVER_COORDINATOR_LEASE_FENCE_H_

#include <algorithm>

#include "absl/time/time.h"

namespace ps {

class LeaseFence {
 public:
  // A lease of `ttl` granted by a request sent at `requested`.
  void Granted(absl::Duration ttl, absl::Time requested) {
    ttl_ = ttl;
    renewed_ = requested;
  }

  // A renewal sent at `requested` was answered with a TTL > 0. Answers may arrive out of order;
  // the newest request counts.
  void Renewed(absl::Time requested) { renewed_ = std::max(renewed_, requested); }

  // The lease is known to be gone.
  void Lost() { renewed_ = absl::InfinitePast(); }

  // Until when the holder may act.
  absl::Time ValidUntil() const {
    if (renewed_ == absl::InfinitePast()) return absl::InfinitePast();
    return renewed_ + ttl_ - ttl_ / 3;
  }

  bool MayAct(absl::Time now) const { return now < ValidUntil(); }

 private:
  absl::Duration ttl_;
  absl::Time renewed_ = absl::InfinitePast();
};

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_LEASE_FENCE_H_
