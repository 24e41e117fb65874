// ClusterMapSource backed by a CoordinatorSession: the maps it watches and its reports.
//
// Thread-safety: safe for concurrent use (as the session is). Borrows the session, which must
// outlive it.
#ifndef PS_WORKER_CLIENT_SESSION_MAP_SOURCE_H_
#define PS_WORKER_CLIENT_SESSION_MAP_SOURCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/coordinator_session.h"
#include "worker/client/cluster_map_source.h"

namespace ps {

class SessionMapSource : public ClusterMapSource {
 public:
  explicit SessionMapSource(CoordinatorSession& session) : session_(session) {}
  SessionMapSource(const SessionMapSource&) = delete;
  SessionMapSource& operator=(const SessionMapSource&) = delete;

  std::shared_ptr<const v1::ClusterMap> Map() const override { return session_.Map(); }
  std::optional<v1::ClusterMap> AwaitMap(const std::function<bool(const v1::ClusterMap&)>& ready,
                                         absl::Duration timeout) const override {
    return session_.AwaitMap(ready, timeout);
  }
  void ReportUnreachable(uint32_t server_id, const std::string& reason) override {
    session_.ReportUnreachable(server_id, reason);
  }

 private:
  CoordinatorSession& session_;
};

}  // namespace ps

#endif  // PS_WORKER_CLIENT_SESSION_MAP_SOURCE_H_
