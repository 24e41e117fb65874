// Where the coordinator keeps its state (proto/coordinator_state.proto) so that a restart
// carries on the same cluster. One interface, so the coordinator does not care which store
// holds it:
//   - a local state directory (the default for one coordinator, nothing else to run):
//     NewLocalStateStore;
//   - etcd, for several coordinators with one leader (planned: --state_store=etcd://...).
// ClusterState hands the store the whole state before it publishes each change (SetStateSink).
#ifndef PS_SERVER_COORDINATOR_STATE_STORE_H_
#define PS_SERVER_COORDINATOR_STATE_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/coordinator_state.pb.h"

namespace ps {

class StateStore {
 public:
  virtual ~StateStore() = default;

  // The saved state, or nullopt when the store holds none (a new cluster).
  // Errors: DataLoss for a damaged state, naming where and what (never taken for an empty one);
  // the store's own errors otherwise.
  virtual absl::StatusOr<std::optional<v1::CoordinatorState>> Load() = 0;

  // Replaces the saved state; returns once it is durable. Errors: the store's (e.g.
  // ResourceExhausted for a full disk); the saved state is then the previous one.
  virtual absl::Status Save(const v1::CoordinatorState& state) = 0;

  // For logs: which store, where.
  virtual std::string Describe() const = 0;
};

// The state in `directory`/coordinator.state, a message file (common/message_file.h, magic
// "PSCOORD1") replaced atomically on every save. The directory is created if missing and
// locked (flock on `directory`/LOCK) for the life of the store, so two coordinators never
// share one.
// Errors: what creating or locking the directory reports (FailedPrecondition when another
// process holds the lock).
absl::StatusOr<std::unique_ptr<StateStore>> OpenLocalStateStore(const std::string& directory);

// The state file's name inside the directory.
inline constexpr char kStateFileName[] = "coordinator.state";

}  // namespace ps

#endif  // PS_SERVER_COORDINATOR_STATE_STORE_H_
