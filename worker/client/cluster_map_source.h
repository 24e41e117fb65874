// What the client's retry loop needs from the cluster map: the newest map, a way to wait for a
// newer one, and a way to tell the coordinator a server could not be reached.
// SessionMapSource (session_map_source.h) reads them from a CoordinatorSession; unit tests supply
// a fake that publishes maps on demand.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef PS_WORKER_CLIENT_CLUSTER_MAP_SOURCE_H_
#define PS_WORKER_CLIENT_CLUSTER_MAP_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "proto/types.pb.h"

namespace ps {

class ClusterMapSource {
 public:
  virtual ~ClusterMapSource() = default;

  // The newest map seen so far, shared and immutable (no copy per request).
  virtual std::shared_ptr<const v1::ClusterMap> Map() const = 0;
  // Waits until the newest map satisfies `ready` and returns it; nullopt after `timeout`.
  virtual std::optional<v1::ClusterMap> AwaitMap(
      const std::function<bool(const v1::ClusterMap&)>& ready, absl::Duration timeout) const = 0;
  // Tells the coordinator that server `server_id` could not be reached (fire and forget; the
  // outcome, if any, arrives as a newer map).
  virtual void ReportUnreachable(uint32_t server_id, const std::string& reason) = 0;
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_CLUSTER_MAP_SOURCE_H_
